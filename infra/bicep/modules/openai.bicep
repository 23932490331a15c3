// An Azure OpenAI account and its model deployments, reached only with Microsoft Entra ID
// (the Function App's identity has Cognitive Services OpenAI User).

param name string
param location string
param tags object

@description('Model deployments: [{ name, model, version, sku, capacity }], capacity in thousands of tokens per minute.')
param deployments array

param publicNetworkAccess bool

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    // Entra ID tokens are accepted only on a custom subdomain: https://<name>.openai.azure.com/
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
    }
  }
}

// One at a time: an account refuses concurrent deployment changes.
@batchSize(1)
resource modelDeployments 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = [
  for deployment in deployments: {
    parent: account
    name: deployment.name
    sku: {
      name: deployment.sku
      capacity: deployment.capacity
    }
    properties: {
      model: {
        format: 'OpenAI'
        name: deployment.model
        version: deployment.version
      }
    }
  }
]

output id string = account.id
output endpoint string = account.properties.endpoint
