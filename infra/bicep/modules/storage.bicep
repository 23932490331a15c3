// The storage account: the Functions host's storage (AzureWebJobsStorage), the invoice
// containers (INVOICES_STORAGE), the deployment package container of Flex Consumption, and the
// Event Grid system topic that feeds the blob trigger.

param name string
param location string
param tags object

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string

@description('Every container to create: the ones the app uses and the deployment package container.')
param containerNames array

@description('Account-key access. Off in production: every caller uses Microsoft Entra ID.')
param allowSharedKeyAccess bool

@description('Name of the Event Grid system topic of this account.')
param systemTopicName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: allowSharedKeyAccess
    defaultToOAuthAuthentication: true
    // Clients upload with the short-lived SAS URLs of POST /api/uploads, from anywhere: the
    // account stays reachable from the internet, and only a SAS or an Entra token opens it.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containerNames: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

// BlobCreated events of this account; the subscription that delivers them to the blob trigger
// is created after the code is deployed (blob-events.bicep), when the trigger's endpoint exists.
resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output systemTopicName string = systemTopic.name
