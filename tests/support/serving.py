"""psi serve for a test: the real app under uvicorn on a free port of 127.0.0.1, users
made as a person makes them (`psi user add`), and the MCP SDK's own streamable HTTP client.

    token = add_user("alice")
    with serving(create_app(load_settings())) as url:
        async with mcp_client(url, token) as session:    # initialized
            await session.list_tools()
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx2
import uvicorn
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from typer.testing import CliRunner

from psi.cli.main import app as cli


def add_user(name: str) -> str:
    """A new user's token, as `psi user add NAME` prints it."""
    result = CliRunner().invoke(cli, ["user", "add", name])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 until the block ends; its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@asynccontextmanager
async def mcp_client(url: str, token: str | None) -> AsyncIterator[ClientSession]:
    """An initialized MCP session on `url`/mcp, sending `token` as the bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's result, which must not be an error; its text block is the same JSON."""
    result = await session.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    assert result.structured_content == json.loads(text)
    return result.structured_content


async def failure(session: ClientSession, tool: str, **arguments: Any) -> str:
    """The message of a tool result that must be an error."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error
    return result.content[0].text  # type: ignore[union-attr]


async def read(session: ClientSession, uri: str) -> str:
    contents = (await session.read_resource(uri)).contents
    assert isinstance(contents[0], types.TextResourceContents)
    return contents[0].text
