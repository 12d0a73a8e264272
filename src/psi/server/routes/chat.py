"""OpenAI-compatible chat: `GET /v1/models`, `POST /v1/chat/completions`.

Each request is a full psi turn, with memory, goals, routing, the egress door and the
guards, streamed as server-sent events or whole. `model` is `psi` (the route picks) or a
profile name. The request's earlier messages start a new psi conversation;
`X-Psi-Conversation: ID` continues one instead, and the reply says which
(`psi_conversation_id`).

A reply that does not finish (the client went away, the request ran past
server.request_timeout, the server is shutting down) is stored as far as it came,
marked interrupted; a stream then ends with an error event (`data: {"error": ...}`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from psi.errors import PsiError, UserError
from psi.server.deps import MAX_ID, CurrentUser, Principal, Psi, deadline_of, error_body
from psi.server.state import Services, served_chat

router = APIRouter()


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = ""


class ChatRequest(BaseModel):
    model: str = Field(default="psi", max_length=100)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=32_768)
    temperature: float | None = Field(default=None, ge=0, le=2)


@router.get("/v1/models")
def list_models(who: CurrentUser, psi: Psi) -> dict[str, Any]:
    names = ["psi", *sorted(psi.settings.profiles())]
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "psi"} for n in names],
    }


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatRequest,
    who: CurrentUser,
    psi: Psi,
    request: Request,
    conversation: Annotated[int | None, Header(alias="X-Psi-Conversation", ge=1, le=MAX_ID)] = None,
) -> Any:
    from psi.llm.types import ChatOptions

    last = body.messages[-1]
    if last.role != "user" or not (last.content or "").strip():
        raise UserError(
            "The last message must be the user's, with text.",
            hint='End `messages` with {"role": "user", "content": "..."}.',
        )
    options = ChatOptions(max_tokens=body.max_tokens, temperature=body.temperature)
    created = int(time.time())
    reply_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

    def begin(leave: Callable[[], None]) -> tuple[Any, Any, Any]:
        """The turn's own work (recall, guards, the store), then `leave` the gate: what the
        model does after it is not held back (psi.server.state.TurnGate)."""
        try:
            service, lock = _service(psi, who, body.model)
            try:
                if conversation is not None:
                    service.resume(conversation)
                else:
                    _seed(service, body.messages[:-1])
                lock.acquire()
            except BaseException:
                service.close()
                raise
            try:
                return service, lock, service.send(last.content or "", options=options)
            except BaseException:
                lock.release()
                service.close()
                raise
        finally:
            leave()

    deadline = deadline_of(request)
    seconds = psi.settings.server.request_timeout

    def wind_up(live: Any, service: Any, lock: Any) -> None:
        live.finish()
        psi.streams.end(live)
        lock.release()
        service.close()

    leave = await psi.turns.enter()
    if not body.stream:

        def answer() -> dict[str, Any]:
            service, lock, turn = begin(leave)
            live = psi.streams.start(turn, deadline=deadline, seconds=seconds)
            try:
                for _ in live:
                    pass
            finally:
                wind_up(live, service, lock)
            return _completion(turn, reply_id, created)

        # The whole turn in one thread: one hand-off from the event loop, not two.
        # Plain JSON already: a JSONResponse spares FastAPI walking it to encode it.
        try:
            return JSONResponse(await to_thread.run_sync(answer))
        finally:
            leave()

    try:
        service, lock, turn = await to_thread.run_sync(begin, leave)
    finally:
        leave()
    live = psi.streams.start(turn, deadline=deadline, seconds=seconds)

    def events() -> Iterator[str]:
        name = turn.model.name
        try:
            head = {"role": "assistant", "content": ""}
            yield _event(reply_id, created, name, head, None, turn.conversation_id)
            for piece in live:
                yield _event(reply_id, created, name, {"content": piece}, None,
                             turn.conversation_id)  # fmt: skip
            finish = turn.reply.finish_reason
            yield _event(reply_id, created, name, {}, finish, turn.conversation_id)
            yield "data: [DONE]\n\n"
        except PsiError as exc:
            error = error_body(exc.message, hint=exc.hint, kind=type(exc).__name__)
            yield "data: " + json.dumps(error) + "\n\n"
        finally:
            # However it ended (a client that went away too): what arrived is stored.
            wind_up(live, service, lock)

    return StreamingResponse(events(), media_type="text/event-stream")


def _service(psi: Services, who: Principal, model: str) -> tuple[Any, Any]:
    return served_chat(
        psi.settings, psi.store, psi.models, psi.memories, user_id=who.user_id, model=model
    )


def _seed(service: Any, earlier: list[ChatMessage]) -> None:
    """A new conversation holding the request's earlier user and assistant turns."""
    from psi.llm.types import Message

    kept = [m for m in earlier if m.role in ("user", "assistant") and (m.content or "").strip()]
    if not kept:
        return
    conversation = service._conversation()
    for m in kept:
        message = (
            Message.user(m.content or "")
            if m.role == "user"
            else Message.assistant(m.content or "")
        )
        service.conversations.add(conversation, message, at=service.clock())


def _event(
    reply_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None,
    conversation: int,
) -> str:
    chunk = {
        "id": reply_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "psi_conversation_id": conversation,
        "choices": [{"index": 0, "delta": delta, "finish_reason": _finish(finish)}],
    }
    return "data: " + json.dumps(chunk, ensure_ascii=False) + "\n\n"


def _finish(reason: str | None) -> str | None:
    if reason is None:
        return None
    return "stop" if reason == "interrupted" else reason


def _completion(turn: Any, reply_id: str, created: int) -> dict[str, Any]:
    reply = turn.reply
    usage = reply.usage
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": created,
        "model": reply.model or turn.model.name,
        "psi_conversation_id": turn.conversation_id,
        "psi_notes": turn.notes,
        # The documents the answer cites as [n], with links (file:///...#page=3).
        "psi_sources": [source.as_dict() for source in turn.cited],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": _finish(reply.finish_reason) or "stop",
            }
        ],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        },
    }
