// Key Vault in RBAC mode, with the secrets supplied at deployment. (REDIS_URL is written by the
// Redis module, which holds the access key.) Secret names follow shared/secrets.py: a setting's
// name in lower case with dashes.

param name string
param location string
param tags object

@description('Deleted secrets and the vault itself stay recoverable for 90 days. Cannot be turned off once on.')
param purgeProtection bool

param publicNetworkAccess bool

@secure()
@description('METRICS_TOKEN; empty: no secret (admins scrape with their JWT).')
param metricsToken string

@secure()
@description('OPENAI_API_KEY for an OpenAI-compatible endpoint; empty: no secret.')
param openAiApiKey string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // The API refuses an explicit false: the property is true or absent.
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource metricsTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(metricsToken)) {
  parent: vault
  name: 'metrics-token'
  properties: {
    value: metricsToken
  }
}

resource openAiApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(openAiApiKey)) {
  parent: vault
  name: 'openai-api-key'
  properties: {
    value: openAiApiKey
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
