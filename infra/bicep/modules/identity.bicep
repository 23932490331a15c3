// The one identity the Function App runs as. User-assigned, so its client id is known before
// the app exists: the app settings name it (AZURE_CLIENT_ID, *__clientId) and PostgreSQL knows
// it as a role.

@description('Name of the user-assigned managed identity.')
param name string

param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
