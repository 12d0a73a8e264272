"""The HTTP API: OpenAI-compatible chat and REST routes, thin over psi's services.

    app = create_app(settings)          # uvicorn.run(app, host="127.0.0.1", port=8765)

Every route needs `Authorization: Bearer psi_...` (psi.server.tokens) and acts as that
token's user: the services it calls are built for that user id, and every repository
query is scoped by it, so another user's row is simply not found (404).

- `GET /v1/models`, `POST /v1/chat/completions` (streaming as server-sent events or
  whole): a full psi turn, with memory, goals, routing, the egress door and the guards.
  `model` is `psi` (the route picks) or a profile name. The request's earlier messages
  start a new psi conversation; `X-Psi-Conversation: ID` continues one instead, and the
  reply says which (`psi_conversation_id`).
- `/api/approvals` (list, approve, deny), `/api/audit`, `/api/egress`: what the CLI's
  `psi approvals`, `psi audit` and `psi egress log` show.
- `/mcp`: psi mcp's tools and resources over MCP's streamable HTTP for the token's user;
  its errors are JSON-RPC errors, as an MCP client expects (psi.mcp.http).

Errors are JSON `{"error": {"message", "hint", "type"}}`: 401 without a valid token,
404 for what is not this user's, 400/422 for bad input, 403 when the privacy policy
refuses, 502 when a model fails.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from psi.config import Settings
from psi.errors import ModelError, NotFound, OfflineRefusal, PsiError, UserError
from psi.goals.conversation import CreateGoal as CreateGoalBody
from psi.server.tokens import Tokens
from psi.store.db import Store, open_store


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    is_admin: bool


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = ""


class ChatRequest(BaseModel):
    model: str = Field(default="psi", max_length=100)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=32_768)
    temperature: float | None = Field(default=None, ge=0, le=2)


# Row ids and offsets stay within what every database's integer holds: PostgreSQL's
# INTEGER is 32 bits.
MAX_ID = 2**31 - 1
RowId = Annotated[int, FastAPIPath(ge=1, le=MAX_ID)]


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    admin: bool = False


class CheckIn(BaseModel):
    value: float
    note: str | None = Field(default=None, max_length=2000)


class ProfileText(BaseModel):
    text: str = Field(max_length=20_000)


STATUS = {NotFound: 404, OfflineRefusal: 403, UserError: 400, ModelError: 502}


def status_of(error: PsiError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 500)


def error_body(message: str, *, hint: str | None = None, kind: str = "error") -> dict[str, Any]:
    return {"error": {"message": message, "hint": hint, "type": kind}}


class Models:
    """One model object per profile for the process; a local model (one llama.cpp context)
    answers one request at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._models: dict[str, Any] = {}
        self._locks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[Any, Any]:
        """The profile's model and what a request holds while it answers: a lock for an
        in-process llama.cpp model, nothing for a model behind a server."""
        from psi.llm.registry import get_model

        with self._lock:
            if name not in self._models:
                model = get_model(self.settings.profile(name), self.settings)
                self._models[name] = model
                self._locks[name] = threading.Lock() if model.backend == "llamacpp" else _NoLock()
            return self._models[name], self._locks[name]


class _NoLock:
    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None


class Memories:
    """Each user's `Memory` and background indexer, kept for the process: recall reuses
    what it has loaded, and a turn is indexed after its response, not inside it."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._by_user: dict[int, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: int) -> tuple[Any, Any]:
        from psi.agent.chat import load_embedder
        from psi.memory.service import BackgroundIndexer, Memory

        with self._lock:
            if user_id not in self._by_user:
                memory = Memory(
                    self.store, user_id=user_id, embedder=lambda: load_embedder(self.settings)
                )
                self._by_user[user_id] = (memory, BackgroundIndexer(memory, embed=False))
            return self._by_user[user_id]

    def close(self) -> None:
        for _, indexer in self._by_user.values():
            indexer.close(timeout=10)


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The user the bearer token belongs to; 401 without a valid one."""
    from psi.store.models import User

    token = (authorization or "").removeprefix("Bearer ").strip()
    user_id = request.app.state.tokens.verify(token) if token else None
    if user_id is None:
        raise HTTPException(
            status_code=401,
            detail="A valid API token is needed: `Authorization: Bearer psi_...` "
            "(`psi user add NAME` makes one).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with request.app.state.store.session() as session:
        user = session.get(User, user_id)
        assert user is not None  # tokens go with their user
        return Principal(user.id, user.name, bool(user.is_admin))


CurrentUser = Annotated[Principal, Depends(principal)]


def create_app(
    settings: Settings, *, store: Store | None = None, schedule: bool = False
) -> FastAPI:
    """The app on `store` (default: the settings' database); `schedule` runs the goal
    scheduler in this process while it holds the lease (psi.server.scheduler)."""
    store = store or open_store(settings.db_url)
    tokens = Tokens(store)
    models = Models(settings)
    memories = Memories(settings, store)
    # psi's MCP server for the token's user, over streamable HTTP (psi.mcp.http).
    from psi.mcp.http import McpHttp

    mcp = McpHttp(settings, store, verify=tokens.verify, memory_for=memories.get)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = None
        if schedule:
            from psi.server.scheduler import ServerScheduler

            runner = ServerScheduler(settings, store)
            runner.start()
        app.state.scheduler = runner
        async with mcp.running():
            yield
        if runner is not None:
            runner.stop()
        # Shutting down: what the last turns said is indexed before the process goes.
        memories.close()

    app = FastAPI(title="psi", version="1", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.store = store
    app.state.tokens = tokens
    app.state.memories = memories
    limit_requests(app, settings)
    app.router.routes.append(mcp.route())
    from psi.server.docs_routes import docs_router

    app.include_router(
        docs_router(settings, store, principal=principal, row_id=RowId,
                    embedder_of=lambda user_id: memories.get(user_id)[0].embedder)
    )  # fmt: skip

    @app.exception_handler(PsiError)
    async def psi_error(request: Request, exc: PsiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.message, hint=exc.hint, kind=type(exc).__name__),
            status_code=status_of(exc),
        )

    # -- OpenAI-compatible -------------------------------------------------------------

    @app.get("/v1/models")
    def list_models(who: CurrentUser) -> dict[str, Any]:
        names = ["psi", *sorted(settings.profiles())]
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "created": 0, "owned_by": "psi"} for n in names],
        }

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(
        body: ChatRequest,
        who: CurrentUser,
        conversation: Annotated[
            int | None, Header(alias="X-Psi-Conversation", ge=1, le=MAX_ID)
        ] = None,
    ) -> Any:
        from psi.llm.types import ChatOptions

        service, lock = _service(settings, store, models, memories, who, body.model)
        if conversation is not None:
            service.resume(conversation)
        else:
            _seed(service, body.messages[:-1])
        last = body.messages[-1]
        if last.role != "user" or not (last.content or "").strip():
            service.close()
            raise UserError(
                "The last message must be the user's, with text.",
                hint='End `messages` with {"role": "user", "content": "..."}.',
            )
        options = ChatOptions(max_tokens=body.max_tokens, temperature=body.temperature)
        created = int(time.time())
        reply_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        lock.acquire()
        try:
            turn = service.send(last.content or "", options=options)
        except BaseException:
            lock.release()
            service.close()
            raise
        if not body.stream:
            try:
                for _ in turn:
                    pass
            finally:
                lock.release()
                service.close()
            return _completion(turn, reply_id, created)

        def events() -> Iterator[str]:
            name = turn.model.name
            try:
                head = {"role": "assistant", "content": ""}
                yield _event(reply_id, created, name, head, None, turn.conversation_id)
                for piece in turn:
                    yield _event(reply_id, created, name, {"content": piece}, None,
                                 turn.conversation_id)  # fmt: skip
                finish = turn.reply.finish_reason
                yield _event(reply_id, created, name, {}, finish, turn.conversation_id)
                yield "data: [DONE]\n\n"
            except PsiError as exc:
                yield "data: " + json.dumps(error_body(exc.message, hint=exc.hint)) + "\n\n"
            finally:
                # A client that went away: what arrived is stored, marked interrupted.
                if turn.message_id is None:
                    turn.interrupt()
                lock.release()
                service.close()

        return StreamingResponse(events(), media_type="text/event-stream")

    # -- REST ---------------------------------------------------------------------------

    @app.get("/api/approvals")
    def approvals(
        who: CurrentUser,
        status: Literal["pending", "approved", "denied", "all"] = "pending",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        from psi.safety.approval import Approvals

        rows = Approvals(store, user_id=who.user_id).list(
            status=None if status == "all" else status, limit=limit
        )
        return {"data": [_plain(vars(a)) for a in rows]}

    @app.post("/api/approvals/{approval_id}/{decision}")
    def decide(
        approval_id: RowId,
        decision: Literal["approve", "deny"],
        who: CurrentUser,
    ) -> dict[str, Any]:
        from psi.agent.acting import settle

        status, output = settle(
            approval_id,
            approve=decision == "approve",
            settings=settings,
            store=store,
            user_id=who.user_id,
        )
        return {"id": approval_id, "status": status, "result": output}

    @app.get("/api/audit")
    def audit(
        who: CurrentUser,
        since: datetime | None = None,
        type: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        from psi.safety.audit import Audit

        entries = Audit(store, user_id=who.user_id).entries(since=since, kinds=type, limit=limit)
        return {"data": [_plain(vars(e)) for e in entries]}

    @app.get("/api/egress")
    def egress_log(
        who: CurrentUser,
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> dict[str, Any]:
        from psi.egress.ledger import Ledger

        rows = Ledger(store, user_id=who.user_id).recent(limit, offset=offset)
        return {"data": [_plain(vars(e)) for e in rows]}

    def admin(who: Principal) -> None:
        if not who.is_admin:
            raise HTTPException(status_code=403, detail="Only an admin manages users.")

    @app.get("/api/users")
    def users(who: CurrentUser) -> dict[str, Any]:
        from sqlalchemy import select

        from psi.store.models import User

        admin(who)
        with store.session() as session:
            rows = [(u.id, u.name, bool(u.is_admin)) for u in session.scalars(select(User))]
        return {"data": [{"id": i, "name": n, "admin": a} for i, n, a in rows]}

    @app.post("/api/users", status_code=201)
    def add_user(body: NewUser, who: CurrentUser) -> dict[str, Any]:
        from sqlalchemy import select

        from psi.server.tokens import check_name
        from psi.store.models import User

        admin(who)
        name = check_name(body.name)
        with store.session() as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise UserError(f"There is a user {name!r} already.")
        user_id = store.ensure_user(name)
        with store.session() as session:
            row = session.get(User, user_id)
            assert row is not None
            row.is_admin = body.admin
        # The token's only appearance: the caller hands it on.
        return {"id": user_id, "name": name, "admin": body.admin, "token": tokens.issue(user_id)}

    @app.get("/api/tokens")
    def my_tokens(who: CurrentUser) -> dict[str, Any]:
        rows = tokens.list(who.user_id)
        return {"data": [_plain(vars(t)) for t in rows]}

    @app.post("/api/tokens/rotate")
    def rotate_token(who: CurrentUser) -> dict[str, Any]:
        return {"token": tokens.rotate(who.user_id)}

    @app.delete("/api/tokens/{token_id}", status_code=204)
    def revoke_token(token_id: RowId, who: CurrentUser) -> None:
        tokens.revoke(token_id, user_id=None if who.is_admin else who.user_id)

    @app.get("/api/conversations")
    def conversations(
        who: CurrentUser,
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> dict[str, Any]:
        from psi.store.conversations import Conversations

        rows = Conversations(store, user_id=who.user_id).list(limit=limit, offset=offset)
        return {"data": [_plain(vars(c)) for c in rows], "limit": limit, "offset": offset}

    @app.get("/api/conversations/{conversation_id}/messages")
    def messages(conversation_id: RowId, who: CurrentUser) -> dict[str, Any]:
        from psi.store.conversations import Conversations

        said = Conversations(store, user_id=who.user_id).messages(conversation_id)
        return {
            "data": [
                {
                    "id": m.id,
                    "role": m.role,
                    "content": m.content,
                    "at": m.created_at.isoformat(),
                    "model": m.model_profile,
                    "interrupted": m.interrupted,
                }
                for m in said
            ]
        }

    @app.get("/api/memories/search")
    def search_memories(
        who: CurrentUser,
        q: Annotated[str, Query(min_length=1, max_length=2000)],
        limit: Annotated[int, Query(ge=1, le=50)] = 6,
    ) -> dict[str, Any]:
        memory, _ = memories.get(who.user_id)
        found = memory.recall(q, limit=limit)
        return {
            "data": [
                {
                    "id": r.episode.id,
                    "speaker": r.episode.speaker,
                    "text": r.episode.text,
                    "at": r.episode.at.isoformat(),
                    "conversation_id": r.episode.conversation_id,
                }
                for r in found
            ]
        }

    @app.delete("/api/memories/{memory_id}", status_code=204)
    def forget_memory(memory_id: RowId, who: CurrentUser) -> None:
        from psi.memory.control import forget_episode

        forget_episode(memories.get(who.user_id)[0], memory_id)

    @app.get("/api/profile")
    def get_profile(who: CurrentUser) -> dict[str, Any]:
        from psi.memory.profile import Profiles

        return {"text": Profiles(store, user_id=who.user_id).get().text}

    @app.put("/api/profile")
    def put_profile(body: ProfileText, who: CurrentUser) -> dict[str, Any]:
        from psi.memory.profile import Profiles

        return {"text": Profiles(store, user_id=who.user_id).set(body.text).text}

    @app.get("/api/goals")
    def goals(who: CurrentUser) -> dict[str, Any]:
        from psi.goals.store import Goals

        rows = Goals(store, user_id=who.user_id, zone=settings.zone()).all()
        return {
            "data": [
                {
                    "id": g.id,
                    "title": g.title,
                    "status": g.status,
                    "target_date": g.target_date.isoformat(),
                }
                for g in rows
            ]
        }

    def goal_chat(who: Principal) -> Any:
        from psi.goals.conversation import GoalChat
        from psi.goals.store import Goals

        return GoalChat(Goals(store, user_id=who.user_id, zone=settings.zone()))

    @app.post("/api/goals", status_code=201)
    def create_goal(body: CreateGoalBody, who: CurrentUser) -> Any:
        """A goal with a starting plan psi drafts (as the chat's create_goal tool does)."""
        return goal_chat(who).handle("create_goal", body)

    @app.get("/api/goals/{goal_id}")
    def goal(goal_id: RowId, who: CurrentUser) -> dict[str, Any]:
        chat = goal_chat(who)
        found = chat.goals.get(goal_id)
        return {
            "id": found.id,
            "title": found.title,
            "status": found.status,
            "target_date": found.target_date.isoformat(),
            "standing": chat.standing_text(goal_id),
        }

    @app.post("/api/goals/{goal_id}/checkins", status_code=201)
    def check_in(goal_id: RowId, body: CheckIn, who: CurrentUser) -> dict[str, Any]:
        chat = goal_chat(who)
        chat.goals.log(goal_id, body.value, note=body.note)
        return {"goal": goal_id, "logged": body.value, "standing": chat.standing_text(goal_id)}

    @app.post("/api/items/{item}/done")
    def done(item: Annotated[str, FastAPIPath(max_length=200)], who: CurrentUser) -> Any:
        """A task (t12), today's habit (h3) or a milestone (m4) done."""
        from psi.goals.conversation import CompleteTask

        return goal_chat(who).handle("complete_task", CompleteTask(item=item))

    @app.get("/api/agenda")
    def agenda(who: CurrentUser, days: Annotated[int, Query(ge=1, le=14)] = 1) -> Any:
        from psi.goals.conversation import GetAgenda, GoalChat
        from psi.goals.store import Goals

        chat = GoalChat(Goals(store, user_id=who.user_id, zone=settings.zone()))
        return chat.handle("get_agenda", GetAgenda(days=days))

    return app


def limit_requests(app: FastAPI, settings: Settings) -> None:
    """413 for a body over `server.max_body_bytes`; 429 with Retry-After once a token has
    made `server.rate_limit` requests in the moving window."""
    import math

    from limits import parse, storage, strategies

    rate = parse(settings.server.rate_limit)
    limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
    largest = settings.server.max_body_bytes

    @app.middleware("http")
    async def limits(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > largest:
            return JSONResponse(
                error_body(
                    f"The request body is {int(length):,} bytes; psi takes up to {largest:,}.",
                    hint="Send less, or raise server.max_body_bytes.",
                ),
                status_code=413,
            )
        auth = request.headers.get("authorization", "")
        key = auth.removeprefix("Bearer ").strip()[:13]  # psi_ + the public prefix
        if key.startswith("psi_") and not limiter.hit(rate, key):
            reset = limiter.get_window_stats(rate, key).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            return JSONResponse(
                error_body(
                    f"Too many requests for this token ({settings.server.rate_limit}).",
                    hint=f"Try again in {wait} s, or raise server.rate_limit.",
                ),
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        return await call_next(request)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _service(
    settings: Settings,
    store: Store,
    models: Models,
    memories: Memories,
    who: Principal,
    model: str,
) -> tuple[Any, Any]:
    from psi.agent.chat import ChatService
    from psi.knowledge.library import Library
    from psi.safety.approval import HoldForUser, Refuse

    chosen = settings.default_model if model == "psi" else model
    chat_model, lock = models.get(chosen)
    memory, indexer = memories.get(who.user_id)
    service = ChatService(
        settings=settings,
        store=store,
        user_id=who.user_id,
        model=chat_model,
        memory=memory,
        indexer=indexer,
        owns_store=False,
        embed=False,
        # Nobody is at a keyboard: calls that need a yes wait in /api/approvals.
        approver=Refuse() if settings.safety.confirm == "deny" else HoldForUser(),
        library=Library(store, user_id=who.user_id, settings=settings.docs,
                        embedder=memory.embedder),
    )  # fmt: skip
    service.use_documents = settings.docs.chat and service.has_documents()
    service.pinned = model != "psi"
    return service, lock


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
