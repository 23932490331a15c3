// Azure Cache for Redis (Basic, Standard or Premium), and REDIS_URL in Key Vault.

param name string
param location string
param tags object

@description('{ name: Basic|Standard|Premium, family: C|P, capacity: 0..6 }')
param sku object

param publicNetworkAccess bool

@description('The vault that receives the app\'s REDIS_URL.')
param keyVaultName string

@description('Name of that secret (shared/secrets.py: REDIS_URL is `redis-url`).')
param secretName string

resource cache 'Microsoft.Cache/redis@2024-03-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: sku
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    redisConfiguration: {
      // Rate-limit buckets and cached key sets all expire; under memory pressure they may go.
      'maxmemory-policy': 'volatile-lru'
    }
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
    value: 'rediss://:${cache.listKeys().primaryKey}@${cache.properties.hostName}:6380/0'
  }
}

output id string = cache.id
output hostName string = cache.properties.hostName
