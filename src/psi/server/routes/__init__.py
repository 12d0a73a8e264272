"""The routes of `psi serve`, one module per concern, each thin over psi's services."""
