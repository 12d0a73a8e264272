"""psi's MCP server (psi.mcp.server) over streamable HTTP, for `psi serve` to route at /mcp.

    mcp = McpHttp(settings, store, verify=tokens.verify, memory_for=memories.get)
    app.router.routes.append(mcp.route())                   # /mcp, to this ASGI app
    async with mcp.running():                               # in the app's lifespan
        ...

Every request needs `Authorization: Bearer psi_...`, an API token of psi serve. The token
decides the user: the request is served by that user's own psi.mcp.service.Service (made on
first use, on the user's `Memory` that the REST API uses too), so every tool and resource
acts for them only. Without a valid token the answer is 401 with a JSON-RPC error saying how
to get one, before the SDK sees the request.

The protocol is the SDK's: its StreamableHTTPSessionManager, stateless and answering in
JSON. Stateless means each POST is a whole exchange and no MCP session lives in this process,
so the user comes from that request's token alone, with nothing to tie a session to one
user, and several psi serve processes behind a load balancer serve a client alike. It gives
up server-to-client requests and notifications, which psi's tools do not make.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from mcp import types
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from psi.clock import system_clock
from psi.config import Settings
from psi.mcp.server import Context, build_server
from psi.mcp.service import Service
from psi.memory.service import BackgroundIndexer, Memory
from psi.store.db import Store
from psi.tools.base import ToolContext

PATH = "/mcp"
AUDIT_REASON = "asked by an MCP client over HTTP (psi serve)"
NO_TOKEN = (
    "psi's MCP endpoint needs an API token: send `Authorization: Bearer psi_...`. "
    "psi serve wrote yours to $PSI_HOME/api-token; `psi user add NAME` makes one for "
    "another person."
)
BAD_TOKEN = (
    "This API token is not valid: unknown, revoked or cut short. "
    "`psi user tokens NAME` lists the live ones; `psi user rotate NAME` makes a new one."
)
# JSON-RPC leaves -32000 to -32099 to the server.
UNAUTHORIZED = -32001
NOT_RUNNING = "psi's MCP endpoint is not running: it starts and stops with psi serve."

MemoryFor = Callable[[int], tuple[Memory, BackgroundIndexer]]


def bearer(headers: Headers) -> str:
    """The token of an `Authorization: Bearer ...` header, or ''."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _refuse(
    send: Send,
    status: int,
    message: str,
    *,
    code: int = UNAUTHORIZED,
    challenge: str | None = None,
) -> None:
    """An HTTP error whose body is a JSON-RPC error, the form an MCP client reports."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if challenge is not None:
        headers.append((b"www-authenticate", challenge.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class McpHttp:
    """The ASGI app behind /mcp: checks the token, then hands the request to the SDK."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        verify: Callable[[str], int | None],
        memory_for: MemoryFor,
    ) -> None:
        self.settings = settings
        self.store = store
        self.verify = verify
        self.memory_for = memory_for
        self.server = build_server(self._service_for)
        self._services: dict[int, Service] = {}
        self._lock = threading.Lock()
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve while inside: the SDK's task group, which the app's lifespan holds. A new
        session manager each time, since one runs only once and an app's lifespan may run
        again (a test client per test)."""
        manager = StreamableHTTPSessionManager(
            self.server,
            stateless=True,
            json_response=True,
            max_request_body_size=self.settings.server.max_body_bytes,
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = self._manager
        if manager is None:
            await _refuse(send, 503, NOT_RUNNING, code=types.INTERNAL_ERROR)
            return
        token = bearer(Headers(scope=scope))
        # scrypt and a database read: off the event loop, as the REST routes do it.
        user_id = await anyio.to_thread.run_sync(self.verify, token) if token else None
        if user_id is None:
            if token:
                await _refuse(send, 401, BAD_TOKEN, challenge='Bearer error="invalid_token"')
            else:
                await _refuse(send, 401, NO_TOKEN, challenge="Bearer")
            return
        # The SDK's own form of a verified caller; the handlers read the user from it.
        user = AuthenticatedUser(
            AccessToken(token=token, client_id="psi", scopes=[], subject=str(user_id))
        )
        await manager.handle_request({**scope, "user": user}, receive, send)

    def route(self) -> Route:
        """/mcp, exactly: a Route, not a Mount, so /mcp is not redirected to /mcp/."""
        return Route(PATH, endpoint=self)

    def _service_for(self, ctx: Context) -> Service:
        request = ctx.request
        user = request.scope.get("user") if isinstance(request, Request) else None
        if not isinstance(user, AuthenticatedUser) or user.access_token.subject is None:
            # __call__ refuses a request without a valid token before the SDK sees it.
            raise RuntimeError("An MCP request reached psi without a verified token.")
        return self.service(int(user.access_token.subject))

    def service(self, user_id: int) -> Service:
        """The user's service, made on first use and kept for the process."""
        with self._lock:
            if user_id not in self._services:
                memory, indexer = self.memory_for(user_id)
                ctx = ToolContext(
                    settings=self.settings, store=self.store, user_id=user_id, clock=system_clock
                )
                self._services[user_id] = Service(
                    ctx, memory=memory, indexer=indexer, reason=AUDIT_REASON
                )
            return self._services[user_id]
