"""`psi serve`: the HTTP API (OpenAI-compatible and REST) over the same services as the CLI."""
