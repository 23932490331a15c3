// Azure Web PubSub with the hub the progress bindings use. Only Microsoft Entra ID may call its
// API (the Function App's identity); browsers connect with the tokens the negotiate function
// issues, so the service stays reachable from the internet.

param name string
param location string
param tags object

@allowed([
  'Free_F1'
  'Standard_S1'
  'Premium_P1'
])
param skuName string

@description('Must equal the hub of the bindings in blueprints/ (DESIGN.md section 7).')
param hubName string

resource service 'Microsoft.SignalRService/webPubSub@2024-03-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    capacity: 1
  }
  properties: {
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource hub 'Microsoft.SignalRService/webPubSub/hubs@2024-03-01' = {
  parent: service
  name: hubName
  properties: {
    anonymousConnectPolicy: 'deny'
    eventHandlers: []
  }
}

output name string = service.name
output endpoint string = 'https://${service.properties.hostName}'
output hubName string = hub.name
