"""The Function App: composes the blueprints into one DFApp and does nothing else."""

import azure.durable_functions as df
import azure.functions as func

from blueprints import flow, health, invoices, jobs, metrics, openapi, realtime, uploads

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
blueprints = (health, metrics, openapi, uploads, jobs, invoices, realtime, flow)
for blueprint in blueprints:
    app.register_functions(blueprint.bp)
