"""`psi mcp`: psi.mcp.service over stdio, with the official SDK's low-level `Server`.

    serve(load_settings())       # until the client closes stdin

build_server() is the same for every transport: it asks `service_for(ctx)` for the
service of the request at hand, one user's for stdio, the token's user's over HTTP
(psi.mcp.http, under psi serve).

Tools are listed from each tool's pydantic model (its JSON schema) and annotated from
its risk: read-only, or destructive for forget. The low-level server rather than
MCPServer, since psi's tools already carry their argument models: MCPServer would want
each field restated as a function parameter. A result comes back twice, as the MCP
spec suggests: as structured content and as the same JSON in a text block.

Resources:

    psi://profile   the user's profile, as psi puts it in front of every chat (text)
    psi://goals     the active goals with their standing (JSON)

Whatever the caller can put right (an unknown tool, bad arguments, no such goal) comes
back as a tool result with is_error set and psi's message and hint, never a protocol
error; a bug is left to the SDK, which logs it and answers with an error. What psi hands
over is the client's to keep: a client that talks to a cloud model sends it there, out
of reach of psi's privacy policy and egress ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from psi import __version__
from psi.config import Settings
from psi.errors import PsiError
from psi.mcp.service import Service
from psi.tools.base import Risk, Tool

INSTRUCTIONS = (
    "psi is the user's own assistant and holds what they told it and their goals. "
    "Use recall before answering about the user's life; remember only what the user "
    "asks to be remembered; forget cannot be undone."
)
PROFILE_URI = "psi://profile"
GOALS_URI = "psi://goals"

Context = ServerRequestContext[Any, Any]
ServiceFor = Callable[[Context], Service]


def _annotations(tool: Tool) -> types.ToolAnnotations:
    return types.ToolAnnotations(
        read_only_hint=tool.risk is Risk.read,
        destructive_hint=tool.risk is Risk.irreversible,
        idempotent_hint=tool.risk is Risk.read,
        # Every tool stays within the user's own store.
        open_world_hint=False,
    )


def _listed(tool: Tool) -> types.Tool:
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.Args.model_json_schema(),
        annotations=_annotations(tool),
    )


def _text(text: str) -> list[types.ContentBlock]:
    return [types.TextContent(type="text", text=text)]


def build_server(service_for: ServiceFor) -> Server[Any]:
    resources: dict[str, tuple[types.Resource, Callable[[Service], str]]] = {
        PROFILE_URI: (
            types.Resource(
                uri=PROFILE_URI,
                name="profile",
                title="About the user",
                description="What psi knows about the user, as it reads it before every chat.",
                mime_type="text/plain",
            ),
            Service.profile,
        ),
        GOALS_URI: (
            types.Resource(
                uri=GOALS_URI,
                name="goals",
                title="Active goals",
                description="The user's active goals: target date, standing, next milestone.",
                mime_type="application/json",
            ),
            Service.goals,
        ),
    }

    async def list_tools(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tools = service_for(ctx).tools.values()
        return types.ListToolsResult(tools=[_listed(t) for t in tools])

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        service = service_for(ctx)
        arguments = dict(params.arguments or {})
        try:
            result = await anyio.to_thread.run_sync(service.call, params.name, arguments)
        except PsiError as exc:
            shown = f"{exc.message}\n{exc.hint}" if exc.hint else exc.message
            return types.CallToolResult(content=_text(shown), is_error=True)
        return types.CallToolResult(
            content=_text(json.dumps(result, ensure_ascii=False, indent=2)),
            structured_content=result,
        )

    async def list_resources(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[r for r, _read in resources.values()])

    async def read_resource(
        ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        if uri not in resources:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"psi has no resource {uri}; it has {', '.join(resources)}.",
            )
        resource, read = resources[uri]
        service = service_for(ctx)
        try:
            text = await anyio.to_thread.run_sync(read, service)
        except PsiError as exc:  # the store cannot be read, say
            raise MCPError(code=types.INTERNAL_ERROR, message=str(exc)) from exc
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, text=text, mime_type=resource.mime_type)]
        )

    return Server(
        "psi",
        version=__version__,
        title="psi",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


async def _run(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def serve(settings: Settings) -> None:
    """Serve the configured user's memory and goals over stdin and stdout until the
    client closes stdin."""
    service = Service.open(settings)
    try:
        anyio.run(_run, build_server(lambda ctx: service))
    finally:
        service.close()
