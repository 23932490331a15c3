// The whole system in one resource group: the Function App (Flex Consumption) and everything
// it talks to, reached with one user-assigned managed identity.
//
// Deploy with `azd up` (azure.yaml) or `az deployment group create` and a parameter file; the
// steps after deployment are in the README (Deployment). Every setting the code reads is set
// here, in `appSettings`: tests/infra/test_bicep.py holds this file to the code.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(24)
@description('Environment name (the azd environment): tags every resource and seeds the unique names.')
param environmentName string

@description('Region of every resource. Flex Consumption, Azure Managed Redis and Durable Task Scheduler are not offered in every region.')
param location string = resourceGroup().location

@description('Tags added to every resource.')
param tags object = {}

// ---- Function App ----

@allowed([
  512
  2048
  4096
])
@description('Memory per instance; CPU comes with it (2048 MB: one core, 4096 MB: two). OCR wants 2048 or more.')
param functionInstanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
@description('Most instances the app scales out to. Each opens up to databasePoolMax PostgreSQL connections.')
param functionMaximumInstanceCount int = 10

@minValue(1)
@maxValue(1000)
@description('HTTP requests one instance serves at once.')
param httpPerInstanceConcurrency int = 8

@description('Origins (https://app.example.com) whose browsers may call the API.')
param corsAllowedOrigins array = []

// ---- The app's behaviour ----

@description('Application ID URI (api://...) or client id of the API\'s Microsoft Entra app registration: tokens of this tenant for it are accepted. Empty: no Entra issuer.')
param authEntraAudience string = ''

@description('Further AUTH_ISSUERS entries (README: Configuration), e.g. [{ kind: \'google\', audience: \'<client id>\', default_roles: [\'viewer\'] }]. With no issuer at all every route but /api/health answers 401.')
param authIssuers array = []

@allowed([
  'rules'
  'llm'
  'auto'
])
@description('EXTRACTOR. llm needs an LLM: deployAzureOpenAi, or openAiModel with openAiBaseUrl or openAiApiKey.')
param extractor string = 'rules'

@minValue(1)
@maxValue(64)
@description('FLOW_WINDOW: documents of one upload processed at once.')
param flowWindow int = 8

@minValue(1)
@description('DATABASE_POOL_MAX: PostgreSQL connections per instance.')
param databasePoolMax int = 3

@secure()
@description('METRICS_TOKEN: a bearer token Prometheus may scrape /api/metrics with; kept in Key Vault. Empty: admins only.')
param metricsToken string = ''

// ---- Durable Functions ----

@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
@description('Where orchestration state lives: queues and tables of the storage account, or the managed Durable Task Scheduler.')
param durableBackend string = 'AzureStorage'

@minLength(3)
@maxLength(45)
@description('DURABLE_TASK_HUB_NAME: letters and digits, starting with a letter.')
param durableTaskHubName string = 'invoices'

@allowed([
  'Consumption'
  'Dedicated'
])
param durableTaskSchedulerSku string = 'Consumption'

// ---- Storage ----

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_LRS'

@description('Account-key access to storage. Off in production: every caller uses Microsoft Entra ID.')
param storageAllowSharedKeyAccess bool = false

// ---- PostgreSQL ----

@description('Compute size: Standard_B1ms (Burstable) for development, Standard_D2ds_v5 (General Purpose) and up for production.')
param postgresSkuName string = 'Standard_B1ms'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'

@allowed([
  '15'
  '16'
])
param postgresVersion string = '16'

@minValue(32)
param postgresStorageSizeGB int = 32

@minValue(7)
@maxValue(35)
param postgresBackupRetentionDays int = 7

@description('Geo-redundant backups: chosen when the server is created, not changeable later.')
param postgresGeoRedundantBackup bool = false

@description('Zone-redundant standby (General Purpose or Memory Optimized only).')
param postgresHighAvailability bool = false

@description('Object id of the Microsoft Entra user, group or service principal administering PostgreSQL (azd: the signed-in user).')
param databaseAdminObjectId string

@minLength(1)
@description('That administrator\'s name as PostgreSQL sees it: a user principal name (you@contoso.com), a group name or an app name.')
param databaseAdminName string

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param databaseAdminType string = 'User'

@description('An IPv4 address let through the PostgreSQL firewall: the workstation that runs the post-provision step. Empty: none.')
param databaseClientIpAddress string = ''

// ---- Redis ----

@allowed([
  'ManagedRedis'
  'CacheForRedis'
  'None'
])
@description('Redis for rate limits and the JWKS cache. None: in-process, per instance (limits are then per instance).')
param redisKind string = 'ManagedRedis'

@description('Azure Managed Redis size, e.g. Balanced_B0, Balanced_B1.')
param managedRedisSku string = 'Balanced_B0'

param managedRedisHighAvailability bool = false

@description('Azure Cache for Redis size: { name: Basic|Standard|Premium, family: C|P, capacity }.')
param cacheForRedisSku object = {
  name: 'Basic'
  family: 'C'
  capacity: 0
}

// ---- Web PubSub ----

@allowed([
  'Free_F1'
  'Standard_S1'
  'Premium_P1'
])
param webPubSubSku string = 'Free_F1'

// ---- Key Vault ----

@description('Purge protection: a deleted vault stays for 90 days and the name with it. Cannot be turned off again.')
param keyVaultPurgeProtection bool = false

// ---- Monitoring ----

@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Accept only Entra-signed telemetry. Turn on once the app\'s own OpenTelemetry exporter presents the managed identity too.')
param appInsightsDisableLocalAuth bool = false

// ---- LLM ----

@description('Deploy an Azure OpenAI account with azureOpenAiDeployments, used with the managed identity.')
param deployAzureOpenAi bool = false

@description('Model deployments of that account: [{ name, model, version, sku, capacity }].')
param azureOpenAiDeployments array = [
  {
    name: 'gpt-4o-mini'
    model: 'gpt-4o-mini'
    version: '2024-07-18'
    sku: 'GlobalStandard'
    capacity: 50
  }
]

@description('AZURE_OPENAI_DEPLOYMENT: the chat deployment the LLM extractor calls.')
param azureOpenAiChatDeployment string = 'gpt-4o-mini'

@description('EMBEDDINGS_MODEL: an embeddings deployment (Azure) or model (OpenAI); empty: the offline hashing embedder.')
param embeddingsModel string = ''

@description('OPENAI_API_VERSION for Azure OpenAI.')
param openAiApiVersion string = '2024-10-21'

@description('OPENAI_BASE_URL: an OpenAI-compatible endpoint, instead of Azure OpenAI.')
param openAiBaseUrl string = ''

@description('OPENAI_MODEL at that endpoint.')
param openAiModel string = ''

@secure()
@description('OPENAI_API_KEY for that endpoint; kept in Key Vault.')
param openAiApiKey string = ''

@description('LLM_MONTHLY_TOKEN_BUDGET: tokens one owner may spend per month; empty: no limit.')
param llmMonthlyTokenBudget string = ''

@description('LLM_PRICE_INPUT_PER_MTOK: US dollars per million input tokens, for the cost metric.')
param llmPriceInputPerMillion string = '0'

@description('LLM_PRICE_OUTPUT_PER_MTOK: US dollars per million output tokens.')
param llmPriceOutputPerMillion string = '0'

// ---- Network ----

@description('Integrate the app with a VNet and reach Key Vault, PostgreSQL, Redis, Azure OpenAI and storage through private endpoints.')
param vnetEnabled bool = false

param vnetAddressPrefix string = '10.40.0.0/16'

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, {
  'azd-env-name': environmentName
})
var names = {
  identity: 'id-invoices-${resourceToken}'
  logAnalytics: 'log-invoices-${resourceToken}'
  appInsights: 'appi-invoices-${resourceToken}'
  storage: 'stinv${resourceToken}'
  systemTopic: 'evgt-invoices-${resourceToken}'
  plan: 'plan-invoices-${resourceToken}'
  functionApp: 'func-invoices-${resourceToken}'
  postgres: 'psql-invoices-${resourceToken}'
  redis: 'redis-invoices-${resourceToken}'
  keyVault: 'kv-inv-${resourceToken}'
  webPubSub: 'wps-invoices-${resourceToken}'
  openAi: 'oai-invoices-${resourceToken}'
  durableTaskScheduler: 'dts-invoices-${resourceToken}'
  vnet: 'vnet-invoices-${resourceToken}'
}

// shared/config.py BlobSettings; the flow uses all four.
var invoiceContainers = [
  'invoices-incoming'
  'invoices-processed'
  'invoices-quarantine'
  'invoices-staging'
]
var deploymentContainer = 'app-package'
// The hub of the Web PubSub bindings in blueprints/ (DESIGN.md section 7).
var webPubSubHub = 'invoices'
// What the migrations create (shared/storage/migrations/), allow-listed by name.
var postgresExtensions = [
  'VECTOR'
  'PG_TRGM'
]
var databaseName = 'invoices'
var durableOnScheduler = durableBackend == 'DurableTaskScheduler'
var redisEnabled = redisKind != 'None'
var publicServices = !vnetEnabled
var entraIssuers = empty(authEntraAudience) ? [] : [
  {
    kind: 'entra'
    tenant_id: tenant().tenantId
    audience: authEntraAudience
  }
]

// The app setting value the platform replaces with the secret's current version.
func keyVaultReference(vaultName string, secretName string) string => '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${secretName})'

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: allTags
    retentionInDays: logRetentionDays
    disableLocalAuth: appInsightsDisableLocalAuth
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: allTags
    skuName: storageSku
    containerNames: concat(invoiceContainers, [
      deploymentContainer
    ])
    allowSharedKeyAccess: storageAllowSharedKeyAccess
    systemTopicName: names.systemTopic
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'key-vault'
  params: {
    name: names.keyVault
    location: location
    tags: allTags
    purgeProtection: keyVaultPurgeProtection
    publicNetworkAccess: publicServices
    metricsToken: metricsToken
    openAiApiKey: openAiApiKey
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    name: names.postgres
    location: location
    tags: allTags
    databaseName: databaseName
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    version: postgresVersion
    storageSizeGB: postgresStorageSizeGB
    backupRetentionDays: postgresBackupRetentionDays
    geoRedundantBackup: postgresGeoRedundantBackup
    highAvailability: postgresHighAvailability
    extensions: postgresExtensions
    adminObjectId: databaseAdminObjectId
    adminName: databaseAdminName
    adminType: databaseAdminType
    publicNetworkAccess: publicServices
    clientIpAddress: databaseClientIpAddress
  }
}

module managedRedis 'modules/redis-managed.bicep' = if (redisKind == 'ManagedRedis') {
  name: 'managed-redis'
  params: {
    name: names.redis
    location: location
    tags: allTags
    skuName: managedRedisSku
    highAvailability: managedRedisHighAvailability
    publicNetworkAccess: publicServices
    keyVaultName: keyVault.outputs.name
    secretName: 'redis-url'
  }
}

module cacheForRedis 'modules/redis-cache.bicep' = if (redisKind == 'CacheForRedis') {
  name: 'cache-for-redis'
  params: {
    name: names.redis
    location: location
    tags: allTags
    sku: cacheForRedisSku
    publicNetworkAccess: publicServices
    keyVaultName: keyVault.outputs.name
    secretName: 'redis-url'
  }
}

module webPubSub 'modules/webpubsub.bicep' = {
  name: 'web-pubsub'
  params: {
    name: names.webPubSub
    location: location
    tags: allTags
    skuName: webPubSubSku
    hubName: webPubSubHub
  }
}

module openAi 'modules/openai.bicep' = if (deployAzureOpenAi) {
  name: 'openai'
  params: {
    name: names.openAi
    location: location
    tags: allTags
    deployments: azureOpenAiDeployments
    publicNetworkAccess: publicServices
  }
}

module durableTaskScheduler 'modules/durable-task-scheduler.bicep' = if (durableOnScheduler) {
  name: 'durable-task-scheduler'
  params: {
    name: names.durableTaskScheduler
    location: location
    tags: allTags
    taskHubName: durableTaskHubName
    skuName: durableTaskSchedulerSku
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    webPubSubName: webPubSub.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    durableOnStorage: !durableOnScheduler
    openAiAccountName: deployAzureOpenAi ? names.openAi : ''
    durableTaskSchedulerName: durableOnScheduler ? names.durableTaskScheduler : ''
    durableTaskHubName: durableTaskHubName
  }
  dependsOn: [
    openAi
    durableTaskScheduler
  ]
}

var storageDns = environment().suffixes.storage
var corePrivateEndpoints = [
  {
    name: '${names.storage}-blob'
    serviceId: storage.outputs.id
    groupId: 'blob'
    dnsZone: 'privatelink.blob.${storageDns}'
  }
  {
    name: '${names.storage}-queue'
    serviceId: storage.outputs.id
    groupId: 'queue'
    dnsZone: 'privatelink.queue.${storageDns}'
  }
  {
    name: '${names.storage}-table'
    serviceId: storage.outputs.id
    groupId: 'table'
    dnsZone: 'privatelink.table.${storageDns}'
  }
  {
    name: names.keyVault
    serviceId: keyVault.outputs.id
    groupId: 'vault'
    dnsZone: 'privatelink.vaultcore.azure.net'
  }
  {
    name: names.postgres
    serviceId: postgres.outputs.id
    groupId: 'postgresqlServer'
    dnsZone: 'privatelink.postgres.database.azure.com'
  }
]
var managedRedisPrivateEndpoints = redisKind == 'ManagedRedis' ? [
  {
    name: names.redis
    serviceId: resourceId('Microsoft.Cache/redisEnterprise', names.redis)
    groupId: 'redisEnterprise'
    dnsZone: 'privatelink.redis.azure.net'
  }
] : []
var cacheForRedisPrivateEndpoints = redisKind == 'CacheForRedis' ? [
  {
    name: names.redis
    serviceId: resourceId('Microsoft.Cache/redis', names.redis)
    groupId: 'redisCache'
    dnsZone: 'privatelink.redis.cache.windows.net'
  }
] : []
var openAiPrivateEndpoints = deployAzureOpenAi ? [
  {
    name: names.openAi
    serviceId: resourceId('Microsoft.CognitiveServices/accounts', names.openAi)
    groupId: 'account'
    dnsZone: 'privatelink.openai.azure.com'
  }
] : []
var privateEndpoints = concat(corePrivateEndpoints, managedRedisPrivateEndpoints, cacheForRedisPrivateEndpoints, openAiPrivateEndpoints)

module network 'modules/network.bicep' = if (vnetEnabled) {
  name: 'network'
  params: {
    name: names.vnet
    location: location
    tags: allTags
    addressPrefix: vnetAddressPrefix
    privateEndpoints: privateEndpoints
  }
  dependsOn: [
    managedRedis
    cacheForRedis
    openAi
  ]
}

// Every app setting. Secrets are Key Vault references (resolved by the platform at start);
// METRICS_TOKEN and REDIS_URL are also re-read at run time through KEY_VAULT_URL
// (shared/secrets.py). Tuning values equal the code's defaults (the test checks) and are
// written out so the portal shows what runs.
var baseAppSettings = {
  // The Functions host: its storage through the managed identity (no keys).
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  DURABLE_TASK_HUB_NAME: durableTaskHubName
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
  // azure-identity's DefaultAzureCredential picks the user-assigned identity by this id.
  AZURE_CLIENT_ID: identity.outputs.clientId
  // The blob trigger (Event Grid source) and shared/blobs.py; the trigger also needs the queue
  // service for its poison queue.
  INVOICES_STORAGE__blobServiceUri: storage.outputs.blobEndpoint
  INVOICES_STORAGE__queueServiceUri: storage.outputs.queueEndpoint
  INVOICES_STORAGE__credential: 'managedidentity'
  INVOICES_STORAGE__clientId: identity.outputs.clientId
  UPLOAD_SAS_MINUTES: '10'
  // The Web PubSub bindings, through the managed identity.
  WebPubSubConnectionString__serviceUri: webPubSub.outputs.endpoint
  WebPubSubConnectionString__credential: 'managedidentity'
  WebPubSubConnectionString__clientId: identity.outputs.clientId
  // PostgreSQL: the identity's role, signing in with an Entra access token (no password).
  DATABASE_URL: 'postgresql://${uriComponent(identity.outputs.name)}@${postgres.outputs.host}:5432/${postgres.outputs.databaseName}?sslmode=require'
  DATABASE_AUTH: 'entra'
  DATABASE_POOL_MAX: string(databasePoolMax)
  REDIS_URL: redisEnabled ? keyVaultReference(names.keyVault, 'redis-url') : ''
  KEY_VAULT_URL: keyVault.outputs.uri
  KEY_VAULT_REFRESH_SECONDS: '300'
  METRICS_TOKEN: empty(metricsToken) ? '' : keyVaultReference(names.keyVault, 'metrics-token')
  METRICS_AUTH: 'token'
  LOG_FORMAT: 'json'
  LOG_LEVEL: 'INFO'
  AUTH_ISSUERS: string(concat(entraIssuers, authIssuers))
  AUTH_JWKS_CACHE_SECONDS: '3600'
  AUTH_LEEWAY_SECONDS: '60'
  RATE_LIMIT_API_PER_MINUTE: '600'
  RATE_LIMIT_UPLOADS_PER_MINUTE: '30'
  EXTRACTOR: extractor
  INTAKE_MAX_DOCUMENT_BYTES: '52428800'
  INTAKE_MAX_PAGES: '200'
  INTAKE_MAX_IMAGE_PIXELS: '180000000'
  INTAKE_MAX_ZIP_MEMBERS: '500'
  INTAKE_MAX_ZIP_EXPANDED_BYTES: '524288000'
  OCR_LANGUAGES: 'eng+deu+fra'
  OCR_DPI: '300'
  OCR_MAX_PIXELS: '40000000'
  OCR_MIN_TEXT_CHARS: '20'
  FLOW_WINDOW: string(flowWindow)
  FLOW_CHUNK: '100'
  // One parse process per core of the instance size (os.cpu_count() sees the host's cores).
  PARSE_WORKERS: string(max(1, functionInstanceMemoryMB / 2048))
  // The LLM extractor: Azure OpenAI with the managed identity, or an OpenAI-compatible endpoint.
  AZURE_OPENAI_ENDPOINT: deployAzureOpenAi ? 'https://${names.openAi}.openai.azure.com/' : ''
  AZURE_OPENAI_DEPLOYMENT: deployAzureOpenAi ? azureOpenAiChatDeployment : ''
  // Empty on purpose: with no key the app asks for an Entra ID token (the account refuses keys).
  AZURE_OPENAI_API_KEY: ''
  OPENAI_API_VERSION: openAiApiVersion
  OPENAI_BASE_URL: openAiBaseUrl
  OPENAI_MODEL: openAiModel
  OPENAI_API_KEY: empty(openAiApiKey) ? '' : keyVaultReference(names.keyVault, 'openai-api-key')
  EMBEDDINGS_MODEL: embeddingsModel
  // The embeddings column is vector(256); a model must be asked for this many dimensions.
  EMBEDDINGS_DIMENSIONS: '256'
  EMBEDDINGS_TIMEOUT_SECONDS: '15'
  DUPLICATE_MAX_DISTANCE: '0.15'
  LLM_TIMEOUT_SECONDS: '60'
  LLM_MAX_ATTEMPTS: '4'
  LLM_MAX_INPUT_TOKENS: '12000'
  LLM_MAX_OUTPUT_TOKENS: '16384'
  LLM_MONTHLY_TOKEN_BUDGET: llmMonthlyTokenBudget
  LLM_PRICE_INPUT_PER_MTOK: llmPriceInputPerMillion
  LLM_PRICE_OUTPUT_PER_MTOK: llmPriceOutputPerMillion
  LLM_VISION: 'false'
  LLM_BREAKER_FAILURES: '5'
  LLM_BREAKER_COOLDOWN_SECONDS: '30'
}

// Durable Task Scheduler instead of the storage account: host.json's storage provider is
// overridden by app settings (AzureFunctionsJobHost__...), so host.json stays as it is.
var durableTaskSchedulerAppSettings = durableOnScheduler ? {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskScheduler.outputs.endpoint};Authentication=ManagedIdentity;ClientID=${identity.outputs.clientId}'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
} : {}

var appSettings = union(baseAppSettings, durableTaskSchedulerAppSettings)

module functionApp 'modules/functionapp.bicep' = {
  name: 'function-app'
  params: {
    planName: names.plan
    appName: names.functionApp
    location: location
    tags: allTags
    identityId: identity.outputs.id
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainer
    instanceMemoryMB: functionInstanceMemoryMB
    maximumInstanceCount: functionMaximumInstanceCount
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    corsAllowedOrigins: corsAllowedOrigins
    subnetId: vnetEnabled ? resourceId('Microsoft.Network/virtualNetworks/subnets', names.vnet, 'app') : ''
    appSettings: appSettings
  }
  // The identity's roles first: Key Vault references and the deployment package need them.
  dependsOn: [
    roles
    network
    managedRedis
    cacheForRedis
  ]
}

// azd keeps these in the environment; the hooks in infra/scripts/ read them.
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_EVENT_GRID_SYSTEM_TOPIC string = storage.outputs.systemTopicName
output AZURE_INCOMING_CONTAINER string = invoiceContainers[0]
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_POSTGRES_HOST string = postgres.outputs.host
output AZURE_POSTGRES_DATABASE string = postgres.outputs.databaseName
output AZURE_DATABASE_ADMIN_NAME string = databaseAdminName
output AZURE_APP_IDENTITY_NAME string = identity.outputs.name
output AZURE_APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_WEB_PUBSUB_HUB string = webPubSub.outputs.hubName
