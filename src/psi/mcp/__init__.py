"""psi over the Model Context Protocol: the user's memory and goals for an agent such as
Claude Desktop, over stdio (`psi mcp`) or streamable HTTP (`psi serve`, at /mcp).
psi.mcp.tools says what, psi.mcp.server how, psi.mcp.http for whom over HTTP."""
