"""`psi mcp`: psi's memory and goals for an agent such as Claude Desktop, over MCP on stdio.

A client starts it as a subprocess, e.g. in Claude Desktop's claude_desktop_config.json
(with the full path `which psi` prints, as a desktop app may not search your PATH):

    {"mcpServers": {"psi": {"command": "/home/you/.local/bin/psi", "args": ["mcp"]}}}

stdout carries the protocol, so everything for a person goes to stderr.
"""

from __future__ import annotations

from psi.cli.output import err, friendly


@friendly
def mcp() -> None:
    """Serve your memory and goals to an MCP client (Claude Desktop, an IDE) over stdio.

    Tools: recall, remember, forget, agenda, goal_status, log_progress, create_goal.
    Resources: psi://profile and psi://goals. What you share goes wherever the client
    sends it: a client on a cloud model sends it there."""
    # The SDK is imported here, not at start-up: `psi --version` stays fast.
    from psi.config import load_settings
    from psi.mcp.server import serve

    settings = load_settings()
    err.print(f"[dim]psi mcp: serving {settings.user}'s memory and goals on stdio.[/]")
    serve(settings)
