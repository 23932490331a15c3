"""The Function App: composes the blueprints into one DFApp and does nothing else."""

import azure.durable_functions as df
import azure.functions as func

from blueprints import flow, health, invoices, jobs, openapi, realtime, uploads

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (health.bp, openapi.bp, uploads.bp, jobs.bp, invoices.bp, realtime.bp, flow.bp):
    app.register_functions(blueprint)
