"""The command line: Typer commands, thin over the same service functions the API uses."""
