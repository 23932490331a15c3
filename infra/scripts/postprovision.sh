#!/bin/sh
# azd postprovision hook (or by hand after `az deployment group create`, with the deployment's
# outputs exported): create the Function App identity's role in PostgreSQL and grant it the
# invoices database. Runs as the Entra administrator signed in to az / azd.
set -eu
cd "$(dirname "$0")/../.."

python=.venv/bin/python
if [ ! -x "$python" ]; then
    python=python3
fi
exec "$python" infra/scripts/grant_database_access.py
