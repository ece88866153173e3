"""The Azure Functions app that turns change events into the audit log.

Deployed from this folder alone (`func azure functionapp publish <app> --build local`); the
command line imports its `audit` package to run the same handlers locally.
"""
