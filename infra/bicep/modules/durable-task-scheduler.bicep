// Durable Task Scheduler: the managed backend for Durable Functions, instead of queues and
// tables in the storage account.

param name string
param location string
param tags object

@description('Must equal DURABLE_TASK_HUB_NAME, which host.json uses as the hub name.')
param taskHubName string

@allowed([
  'Consumption'
  'Dedicated'
])
param skuName string

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // Dedicated is bought in capacity units; Consumption is billed per action.
    sku: skuName == 'Dedicated' ? {
      name: skuName
      capacity: 1
    } : {
      name: skuName
    }
    // Callers still need a Durable Task role: the allow-list is not the lock.
    ipAllowlist: [
      '0.0.0.0/0'
    ]
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
