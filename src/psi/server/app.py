"""The HTTP API: OpenAI-compatible chat and REST routes, thin over psi's services.

    app = create_app(settings)          # uvicorn.run(app, host="127.0.0.1", port=8765)

Every route needs `Authorization: Bearer psi_...` (psi.server.tokens) and acts as that
token's user: the services it calls are built for that user id, and every repository
query is scoped by it, so another user's row is simply not found (404).

- `/v1/models`, `/v1/chat/completions`: psi.server.routes.chat;
- `/api/conversations`, `/api/memories`, `/api/profile`: routes.memory;
- `/api/goals`, `/api/items`, `/api/agenda`, `/api/review`: routes.goals;
- `/api/approvals`, `/api/audit`, `/api/egress`: routes.safety;
- `/api/users`, `/api/tokens`, `/api/settings`: routes.admin;
- `/api/docs`: the user's documents (list, search, remove): routes.docs;
- `/mcp`: psi mcp's tools and resources over MCP's streamable HTTP for the token's user;
  its errors are JSON-RPC errors, as an MCP client expects (psi.mcp.http).

Lists are pages (`limit`, `offset`; `next_offset` is null on the last one). Errors are
JSON `{"error": {"message", "hint", "type"}}`: 401 without a valid token, 403 for what
needs an admin or what the privacy policy refuses, 404 for what is not this user's,
400/422 for bad input (422 names each field), 413/429 past the limits (psi.server.limits),
502 when a model fails, 504 past server.request_timeout.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from pydantic import ValidationError

from psi.config import Settings
from psi.errors import InvalidSetting, PsiError
from psi.server.deps import error_body, status_of
from psi.server.limits import RequestLimits, RequestTimeoutMiddleware
from psi.server.routes import admin, chat, docs, goals, memory, safety
from psi.server.state import Services
from psi.store.db import Store, open_store

# FastAPI's OpenTelemetry, off whatever the environment says: with
# FASTAPI_OTEL_AUTO_CONFIGURE=true it would export spans, metrics and logs (exception
# messages and stack traces) to an OTLP endpoint. psi sends no telemetry; and no
# per-request check whether a provider is set.
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False, "metrics": False, "logs": False, "operation_spans": False,
    "auto_configure": False,
}  # fmt: skip


def create_app(
    settings: Settings, *, store: Store | None = None, schedule: bool = False
) -> FastAPI:
    """The app on `store` (default: the settings' database); `schedule` runs the goal
    scheduler in this process while it holds the lease (psi.server.scheduler)."""
    store = store or open_store(settings.db_url)
    psi = Services.open(settings, store)
    # psi's MCP server for the token's user, over streamable HTTP (psi.mcp.http).
    from psi.mcp.http import McpHttp

    mcp = McpHttp(settings, store, verify=psi.tokens.verify, memory_for=psi.memories.get)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = None
        if schedule:
            from psi.server.scheduler import ServerScheduler

            runner = ServerScheduler(settings, store)
            runner.start()
        app.state.scheduler = runner
        async with mcp.running():
            # What start-up made (modules, the app, its settings: most of the heap) lives
            # as long as the process. Out of the cycle collector's sight, a full
            # collection under load takes a few ms instead of over 100 ms, stalling
            # every request in flight (psi bench: BENCHMARKS.md, psi serve load).
            gc.collect()
            gc.freeze()
            yield
        # Shutting down, after uvicorn's graceful wait (server.shutdown_timeout): a reply
        # still streaming is stored as far as it came, marked interrupted.
        await anyio.to_thread.run_sync(psi.streams.stop_all)
        if psi.late:  # requests answered 504 whose handlers have not yet stopped
            await asyncio.wait(set(psi.late), timeout=settings.server.shutdown_timeout)
        if runner is not None:
            runner.stop()
        # What the last turns said is indexed before the process goes.
        psi.memories.close()

    app = FastAPI(
        title="psi", version="1", docs_url=None, redoc_url=None, lifespan=lifespan,
        telemetry=NO_TELEMETRY,
    )  # fmt: skip
    app.state.psi = psi
    app.state.store = store
    app.add_middleware(RequestLimits, settings=settings)
    app.add_middleware(
        RequestTimeoutMiddleware, seconds=settings.server.request_timeout, late=psi.late
    )

    @app.exception_handler(PsiError)
    async def psi_error(request: Request, exc: PsiError) -> JSONResponse:
        body = error_body(exc.message, hint=exc.hint, kind=type(exc).__name__)
        if isinstance(exc, InvalidSetting):
            # Field by field, in the shape of FastAPI's own 422s.
            body["detail"] = [
                {"loc": ["body", *loc], "msg": message, "type": "value_error"}
                for loc, message in exc.problems
            ]
        return JSONResponse(body, status_code=status_of(exc))

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, exc: ValidationError) -> JSONResponse:
        # A service's own check of what the request asked for (a goal whose title is
        # empty after cleaning, say): the caller's to fix, field by field.
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        body = error_body(
            f"{where}: {first['msg']}" if where else first["msg"], kind="InvalidInput"
        )
        body["detail"] = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        return JSONResponse(body, status_code=422)

    for module in (chat, memory, docs, goals, safety, admin):
        app.include_router(module.router)
    app.router.routes.append(mcp.route())
    # The web app at `/` (psi.web): the same services, for a person in a browser.
    from psi.web import Web, web_router

    app.include_router(
        web_router(
            Web(settings, store, tokens=psi.tokens, models=psi.models, memories=psi.memories)
        )
    )
    return app
