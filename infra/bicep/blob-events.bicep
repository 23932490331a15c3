// The Event Grid subscription that feeds the blob trigger (source: EventGrid) with the
// BlobCreated events of `invoices-incoming`.
//
// Deployed after the code (infra/scripts/postdeploy.sh, azd's postdeploy hook), not by
// main.bicep: the webhook's URL carries the `blobs_extension` system key, which the host
// creates only once it has started with the blob-triggered function, and Event Grid validates
// the endpoint when the subscription is created.

@description('The Function App (main.bicep output AZURE_FUNCTION_APP_NAME).')
param functionAppName string

@description('The storage account\'s Event Grid system topic (main.bicep output AZURE_EVENT_GRID_SYSTEM_TOPIC).')
param systemTopicName string

@description('The blob-triggered function in blueprints/flow.py.')
param blobTriggerFunctionName string = 'on_incoming_blob'

@description('The container whose new blobs are processed (main.bicep output AZURE_INCOMING_CONTAINER).')
param incomingContainerName string = 'invoices-incoming'

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource appHost 'Microsoft.Web/sites/host@2024-04-01' existing = {
  parent: app
  name: 'default'
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: 'incoming-blobs-to-function-app'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${blobTriggerFunctionName}&code=${appHost.listKeys().systemKeys.blobs_extension}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${incomingContainerName}/'
    }
    eventDeliverySchema: 'EventGridSchema'
    // The trigger starts one orchestration per blob and content, so a redelivered event is harmless.
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}
