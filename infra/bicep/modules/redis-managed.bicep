// Azure Managed Redis (the successor of Azure Cache for Redis), and REDIS_URL in Key Vault.

param name string
param location string
param tags object

@description('e.g. Balanced_B0 (0.5 GB), Balanced_B1 (1 GB).')
param skuName string

param highAvailability bool
param publicNetworkAccess bool

@description('The vault that receives the app\'s REDIS_URL.')
param keyVaultName string

@description('Name of that secret (shared/secrets.py: REDIS_URL is `redis-url`).')
param secretName string

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    // One endpoint for the whole database: the app's redis-py client is not cluster-aware.
    clusteringPolicy: 'EnterpriseCluster'
    // Rate-limit buckets and cached key sets all expire; under memory pressure they may go.
    evictionPolicy: 'VolatileLRU'
    // redis-py signs in with the access key from REDIS_URL.
    accessKeysAuthentication: 'Enabled'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource redisUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  properties: {
    contentType: 'Redis URL (TLS)'
    value: 'rediss://:${database.listKeys().primaryKey}@${cluster.properties.hostName}:10000/0'
  }
}

output id string = cluster.id
output hostName string = cluster.properties.hostName
