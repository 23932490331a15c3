"""The Function App: composes the blueprints into one DFApp and does nothing else."""

import azure.durable_functions as df
import azure.functions as func

from blueprints import admin, flow, health, invoices, jobs, metrics, openapi, realtime, uploads
from shared.observability import setup

setup()  # logs (LOG_FORMAT, LOG_LEVEL) and telemetry, once per process

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
blueprints = (health, metrics, openapi, uploads, jobs, invoices, realtime, admin, flow)
for blueprint in blueprints:
    app.register_functions(blueprint.bp)
