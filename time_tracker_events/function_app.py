"""The Azure Functions entry point: the app and its blueprints."""

import azure.functions as func
from blueprints import cosmos_changes, deliveries, outbox

app = func.FunctionApp()
app.register_functions(cosmos_changes.bp)
app.register_functions(outbox.bp)
app.register_functions(deliveries.bp)
