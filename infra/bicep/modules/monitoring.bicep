// Log Analytics and workspace-based Application Insights.

param logAnalyticsName string
param appInsightsName string
param location string
param tags object

@description('Days logs are kept.')
param retentionInDays int

@description('Accept only telemetry signed with Microsoft Entra ID (the app identity has Monitoring Metrics Publisher).')
param disableLocalAuth bool

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: disableLocalAuth
  }
}

output appInsightsName string = appInsights.name
output connectionString string = appInsights.properties.ConnectionString
