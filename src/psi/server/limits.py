"""What one request may ask of `psi serve`: its body size, its token's rate, its time.

- 413 for a body over `server.max_body_bytes`;
- 429 with Retry-After once a token has made `server.rate_limit` requests in the window;
- 504 for a request with no response within `server.request_timeout` seconds.

The time limit: a request's deadline is in its scope's state (`deadline`, monotonic
seconds), for the routes that stop themselves (a chat turn stops between pieces and is
stored, marked interrupted; a slow write checks it before writing). Whatever does not
stop in time is answered 504 by the middleware, and its late response is dropped. A
response that has started (a stream) is not cut here: the stream keeps its own deadline
(psi.server.streams).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import Any

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers

from psi.config import Settings
from psi.server.deps import error_body
from psi.server.streams import timed_out

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]


class RequestLimits:
    """413 over `server.max_body_bytes`; 429 past `server.rate_limit` per token. A plain
    ASGI middleware: it runs before every request, so it adds no task or stream of its own."""

    def __init__(self, app: Any, *, settings: Settings) -> None:
        from limits import parse, storage, strategies

        self.app = app
        self.rate_text = settings.server.rate_limit
        self.rate = parse(self.rate_text)
        # Two counters a token (this window's and the last, weighted by the time left):
        # memory and time per request stay the same at any rate, where a moving window
        # keeps every request of the window (100,000 objects at 100,000/minute).
        self.limiter = strategies.SlidingWindowCounterRateLimiter(storage.MemoryStorage())
        self.largest = settings.server.max_body_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(Headers(scope=scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, headers: Headers) -> JSONResponse | None:
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.largest:
            return JSONResponse(
                error_body(
                    f"The request body is {int(length):,} bytes; psi takes up to {self.largest:,}.",
                    hint="Send less, or raise server.max_body_bytes.",
                ),
                status_code=413,
            )
        auth = headers.get("authorization", "")
        key = auth.removeprefix("Bearer ").strip()[:13]  # psi_ + the public prefix
        if key.startswith("psi_") and not self.limiter.hit(self.rate, key):
            reset = self.limiter.get_window_stats(self.rate, key).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            return JSONResponse(
                error_body(
                    f"Too many requests for this token ({self.rate_text}).",
                    hint=f"Try again in {wait} s, or raise server.rate_limit.",
                ),
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        return None


class RequestTimeoutMiddleware:
    """504 for a request that has not begun its response within `seconds`."""

    def __init__(self, app: Any, *, seconds: float, late: set[asyncio.Task[None]]) -> None:
        self.app = app
        self.seconds = seconds
        # Requests answered 504 whose handlers are still running (a thread cannot be
        # cancelled); kept so they finish, and so shutdown can wait for them.
        self.late = late
        self._refusals: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["deadline"] = time.monotonic() + self.seconds
        state["timeout"] = self.seconds
        loop = asyncio.get_running_loop()
        request = asyncio.current_task()
        started = False
        answered = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 504 went out instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        def expire() -> None:
            nonlocal answered
            if started:
                return
            answered = True
            if request is not None:
                self.late.add(request)
            refusal = loop.create_task(self._refuse(send))
            self._refusals.add(refusal)
            refusal.add_done_callback(self._refusals.discard)

        # A timer, not a task and a wait of its own per request: the request runs on.
        timer = loop.call_later(self.seconds, expire)
        try:
            await self.app(scope, receive, guarded)
        except Exception as exc:
            if not answered:
                raise
            log.warning("a request answered 504 failed later: %r", exc)
        finally:
            timer.cancel()
            if request is not None:
                self.late.discard(request)

    async def _refuse(self, send: Any) -> None:
        error = timed_out(self.seconds)
        body = json.dumps(error_body(error.message, hint=error.hint, kind="RequestTimeout"))
        await send(
            {
                "type": "http.response.start",
                "status": 504,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode("utf-8")})
