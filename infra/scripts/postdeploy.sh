#!/bin/sh
# azd postdeploy hook (or by hand after deploying the code): subscribe the blob trigger to the
# BlobCreated events of invoices-incoming. The webhook needs the host's `blobs_extension` system
# key, which exists once the host has started with the blob-triggered function loaded.
set -eu
cd "$(dirname "$0")/../.."

: "${AZURE_RESOURCE_GROUP:?set it, or run through azd}"
: "${AZURE_FUNCTION_APP_NAME:?set it, or run through azd}"
: "${AZURE_EVENT_GRID_SYSTEM_TOPIC:?set it, or run through azd}"
incoming="${AZURE_INCOMING_CONTAINER:-invoices-incoming}"
api="${SERVICE_API_URL:-https://${AZURE_FUNCTION_APP_NAME}.azurewebsites.net}"

attempt=0
until key=$(az functionapp keys list --resource-group "$AZURE_RESOURCE_GROUP" \
        --name "$AZURE_FUNCTION_APP_NAME" --query systemKeys.blobs_extension --output tsv \
        2>/dev/null) && [ -n "$key" ]; do
    attempt=$((attempt + 1))
    if [ "$attempt" -gt 30 ]; then
        echo "no blobs_extension key after 5 minutes: is the code deployed and the host running?" >&2
        exit 1
    fi
    # Any request starts the host, which then registers the blob trigger and its key.
    curl --silent --output /dev/null "$api/api/health" || true
    sleep 10
done

az deployment group create \
    --resource-group "$AZURE_RESOURCE_GROUP" \
    --name blob-events \
    --template-file infra/bicep/blob-events.bicep \
    --parameters functionAppName="$AZURE_FUNCTION_APP_NAME" \
        systemTopicName="$AZURE_EVENT_GRID_SYSTEM_TOPIC" \
        incomingContainerName="$incoming" \
    --output none
echo "Event Grid now delivers BlobCreated events of $incoming to $AZURE_FUNCTION_APP_NAME."
