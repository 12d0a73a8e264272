"""Chat in the browser: the conversation list, a model picker, replies streamed as they
are written, a stop button, and for each reply the model that gave it, why, and what
memory put in front of it.

    GET  /                 a new conversation
    GET  /c/{id}           one of the user's conversations
    POST /chat/stream      form fields text, model (psi or a profile), conversation;
                           answers with server-sent events: start, delta..., done | error
    POST /chat/stop/{id}   end the reply being streamed; what arrived is kept, marked

Each message is a full psi turn through psi.agent.chat.ChatService, as the API's
/v1/chat/completions runs it: memory, goals, routing, the egress door and the guards.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' local Annotated
# aliases (Who) at run time.
import json
import secrets
import threading
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from psi.agent.chat import ChatService, Turn
from psi.errors import InputError, PsiError
from psi.memory.facts import Fact
from psi.store.conversations import Conversations
from psi.web.base import Viewer, Web
from psi.web.forms import Fields, fields
from psi.web.render import badge, markdown

MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


class WebChat(ChatService):
    """A chat service that keeps what memory recalled for the turn, to show it."""

    recalled: str | None = None

    def recall(self, text: str, *, facts: Sequence[Fact] | None = None) -> str | None:
        self.recalled = super().recall(text, facts=facts)
        return self.recalled


def routes(web: Web) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Who = Annotated[Viewer, Depends(web.viewer)]

    def chat_page(request: Request, viewer: Viewer, conversation: int | None) -> HTMLResponse:
        conversations = Conversations(web.store, user_id=viewer.user_id)
        said = []
        if conversation is not None:
            try:
                said = [
                    m
                    for m in conversations.messages(conversation)
                    if m.role in ("user", "assistant") and m.content.strip()
                ]
            except PsiError as error:
                return web.error_page(request, viewer, error)
        return web.page(
            request,
            "chat.html",
            viewer,
            conversations=conversations.list(limit=50),
            conversation=conversation,
            messages=said,
            profiles=sorted(web.settings.profiles()),
            default_model=web.settings.default_model,
        )

    @router.get("/", response_class=HTMLResponse)
    def new_chat(request: Request, viewer: Who) -> HTMLResponse:
        return chat_page(request, viewer, None)

    @router.get("/c/{conversation_id}", response_class=HTMLResponse)
    def old_chat(request: Request, viewer: Who, conversation_id: RowId) -> HTMLResponse:
        return chat_page(request, viewer, conversation_id)

    @router.post("/chat/stream", dependencies=[Depends(web.same_origin)])
    def stream(viewer: Who, form: Annotated[Fields, Depends(fields)]) -> StreamingResponse:
        text = form.text("text", limit=web.settings.max_message_chars)
        model = form.text("model") or "psi"
        conversation = form.optional_id("conversation")
        return StreamingResponse(
            _events(web, viewer, text, model, conversation),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.post("/chat/stop/{stream_id}", dependencies=[Depends(web.same_origin)])
    def stop(viewer: Who, stream_id: Annotated[str, Path(max_length=40)]) -> Response:
        with web.lock:
            found = web.streams.get(stream_id)
        if found is None or found[0] != viewer.user_id:
            return Response(status_code=404)
        found[1].set()
        return Response(status_code=204)

    return router


def _event(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _events(
    web: Web, viewer: Viewer, text: str, model: str, conversation: int | None
) -> Iterator[str]:
    """One turn as server-sent events; every failure is an `error` event saying what to do."""
    from psi.server.state import served_chat

    settings = web.settings
    stream_id = secrets.token_urlsafe(12)
    stopped = threading.Event()
    with web.lock:
        web.streams[stream_id] = (viewer.user_id, stopped)
    service: WebChat | None = None
    turn: Turn | None = None
    lock: Any = None
    try:
        if model != "psi" and model not in settings.profiles():
            raise InputError(
                f"No model profile named {model!r}.", hint="Pick one from the list, or psi."
            )
        service, held = served_chat(
            settings, web.store, web.models, web.memories,
            user_id=viewer.user_id, model=model, kind=WebChat,
        )  # fmt: skip
        if conversation is not None:
            service.resume(conversation)
        held.acquire()
        lock = held
        turn = service.send(text)
        yield _event(
            "start",
            {
                "stream": stream_id,
                "conversation": turn.conversation_id,
                "title": text[:60],
            },
        )
        pieces = iter(turn)
        for piece in pieces:
            if stopped.is_set():
                pieces.close()  # type: ignore[union-attr]  # the turn stores what came
                break
            yield _event("delta", {"text": piece})
        yield _event("done", _finished(web, service, turn))
    except PsiError as error:
        yield _event("error", {"message": error.message, "hint": error.hint})
    finally:
        if turn is not None and turn.message_id is None:
            turn.interrupt()
        if lock is not None:
            lock.release()
        if service is not None:
            service.close()
        with web.lock:
            web.streams.pop(stream_id, None)


def _finished(web: Web, service: WebChat, turn: Turn) -> dict[str, Any]:
    """The reply as the page shows it once it is whole: rendered, with its badge and why."""
    reply = turn.reply
    by_psi = reply.model == "psi"
    name = "psi" if by_psi else turn.model.name
    shown = badge(web.settings, name)
    why: list[str] = []
    if by_psi:
        why.append(
            "psi answered this itself (remember, forget, goal progress or a refusal): "
            "no model saw your message."
        )
    else:
        if service.pinned:
            why.append(f"You picked {name}.")
        route = turn.route()
        if route is not None:
            why += list(route.reasons)
    why += turn.notes
    if turn.notice:
        why.append(turn.notice)
    # The quoted facts and turns the model was given, without the blocks' headers.
    lines = [
        line.removeprefix("- ")
        for line in (service.recalled or "").splitlines()
        if line.startswith(("- ", "["))
    ]
    return {
        "html": str(markdown(reply.text)),
        "model": name,
        "badge": shown.text,
        "where": shown.where,
        "why": why,
        "memories": lines,
        # The documents the reply cites as [n], each a link to the passage as psi read it.
        "sources": [
            {"number": s.number, "where": s.where, "href": f"/docs/passage/{s.passage_id}"}
            for s in turn.cited
        ],
        "interrupted": reply.finish_reason == "interrupted",
        "conversation": turn.conversation_id,
    }
