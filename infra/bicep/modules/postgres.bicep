// Azure Database for PostgreSQL Flexible Server: Microsoft Entra sign-in only (no passwords),
// the extensions the migrations create allow-listed, backups and high availability by parameter.

param name string
param location string
param tags object
param databaseName string

@description('Compute size, e.g. Standard_B1ms (Burstable) or Standard_D2ds_v5 (General Purpose).')
param skuName string

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string

@allowed([
  '15'
  '16'
])
param version string

@minValue(32)
param storageSizeGB int

@minValue(7)
@maxValue(35)
param backupRetentionDays int

@description('Copy backups to the paired region. Only chosen when the server is created.')
param geoRedundantBackup bool

@description('A zone-redundant standby (not available on Burstable).')
param highAvailability bool

@description('Extensions the migrations create, for the azure.extensions allow-list (upper case).')
param extensions array

@description('Object id of the Microsoft Entra administrator.')
param adminObjectId string

@description('The administrator\'s name as PostgreSQL sees it (user principal name, group or app name).')
param adminName string

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param adminType string

@description('Reachable from the internet (behind the firewall) rather than only through a private endpoint.')
param publicNetworkAccess bool

@description('One IPv4 address let through the firewall (the workstation running the post-provision step); empty for none.')
param clientIpAddress string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: geoRedundantBackup ? 'Enabled' : 'Disabled'
    }
    highAvailability: {
      mode: highAvailability ? 'ZoneRedundant' : 'Disabled'
    }
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    network: {
      publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    }
  }
}

// A flexible server takes one change at a time, so its children are chained with dependsOn.
resource allowedExtensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: join(extensions, ',')
    source: 'user-override'
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    allowedExtensions
  ]
}

resource administrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: adminObjectId
  properties: {
    principalName: adminName
    principalType: adminType
    tenantId: tenant().tenantId
  }
  dependsOn: [
    database
  ]
}

// Flex Consumption has no fixed outbound addresses: without a VNet, connections come from
// Azure's address space, and the Entra-only sign-in is what keeps others out.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (publicNetworkAccess) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    administrator
  ]
}

resource allowClient 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (publicNetworkAccess && !empty(clientIpAddress)) {
  parent: server
  name: 'deployment-workstation'
  properties: {
    startIpAddress: clientIpAddress
    endIpAddress: clientIpAddress
  }
  dependsOn: [
    allowAzure
  ]
}

output id string = server.id
output name string = server.name
output host string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
