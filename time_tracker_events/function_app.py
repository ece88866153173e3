"""The Azure Functions entry point: the app and its blueprints."""

import azure.functions as func
from blueprints import cosmos_changes, outbox

app = func.FunctionApp()
app.register_functions(cosmos_changes.bp)
app.register_functions(outbox.bp)
