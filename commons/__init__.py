"""Domain, services and storage shared by the API, the events app and the CLI."""
