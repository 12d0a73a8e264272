"""Notices from psi's scheduler (morning agenda, reminders, the weekly review), live.

    GET /events    server-sent events: `notice` {id, kind, text, at} for each notice no
                   chat has shown yet, then each new one as the scheduler stores it
    GET /notices   the recent ones, shown or not

The scheduler may run in another `psi serve` process (psi.server.scheduler holds a lease),
so the stream watches the `notices` table (psi.goals.delivery) rather than the scheduler
itself. A notice sent to the browser counts as shown, as one `psi chat` shows does: it
appears in one place, not again in the next chat. A stream ends after STREAM_SECONDS;
the browser's EventSource reconnects by itself.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' local Annotated
# aliases (Who) at run time.
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from psi.goals.delivery import NoticeView, mark_shown, pending_notices
from psi.store.models import Notice
from psi.web.base import Viewer, Web

STREAM_SECONDS = 300.0
RECENT = 50


def routes(web: Web) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Who = Annotated[Viewer, Depends(web.viewer)]

    def take(user_id: int) -> list[NoticeView]:
        from psi.clock import system_clock

        waiting = pending_notices(web.store, user_id)
        if waiting:
            mark_shown(web.store, user_id, [n.id for n in waiting], at=system_clock())
        return waiting

    @router.get("/events")
    async def events(request: Request, viewer: Who) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            yield "retry: 5000\n\n"
            ends = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < ends:
                if await request.is_disconnected():
                    return
                for notice in await run_in_threadpool(take, viewer.user_id):
                    data = {
                        "id": notice.id,
                        "kind": notice.kind,
                        "text": notice.text,
                        "at": notice.created_at.isoformat(),
                    }
                    yield f"event: notice\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                yield ": still here\n\n"
                await anyio.sleep(web.notice_every)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.get("/notices", response_class=HTMLResponse)
    def recent(request: Request, viewer: Who) -> HTMLResponse:
        query = (
            select(Notice)
            .where(Notice.user_id == viewer.user_id)
            .order_by(Notice.created_at.desc(), Notice.id.desc())
            .limit(RECENT)
        )
        with web.store.session() as session:
            rows = [(n.kind, n.text, n.created_at, n.channels) for n in session.scalars(query)]
        return web.page(request, "notices.html", viewer, notices=rows)

    return router
