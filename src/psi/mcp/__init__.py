"""psi over the Model Context Protocol: `psi mcp` serves the user's memory and goals to an
agent such as Claude Desktop (psi.mcp.tools says what, psi.mcp.server says how)."""
