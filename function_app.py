"""The Function App: composes the blueprints into one DFApp and does nothing else."""

import azure.durable_functions as df
import azure.functions as func

from blueprints import health

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health.bp)
