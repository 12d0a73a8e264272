"""What a `psi serve` process keeps across requests: one model object per profile, each
user's memory and indexer, and the streams in flight.

    psi = Services.open(settings, store)       # app.state.psi; routes get it as `Psi`
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from psi.config import Settings
from psi.server.streams import LiveTurns
from psi.server.tokens import Tokens
from psi.store.db import Store

if TYPE_CHECKING:
    from psi.server.deps import Principal


class Models:
    """One model object per profile for the process; a local model (one llama.cpp context)
    answers one request at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._models: dict[str, Any] = {}
        self._locks: dict[int, Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[Any, Any]:
        """The profile's model and what a request holds while it answers (`lock_for`)."""
        from psi.llm.registry import get_model

        with self._lock:
            if name not in self._models:
                self._models[name] = get_model(self.settings.profile(name), self.settings)
            model = self._models[name]
        return model, self.lock_for(model)

    def lock_for(self, model: Any) -> Any:
        """A lock for an in-process llama.cpp model, nothing for a model behind a server
        (or for no model)."""
        with self._lock:
            if id(model) not in self._locks:
                local = getattr(model, "backend", None) == "llamacpp"
                self._locks[id(model)] = threading.Lock() if local else _NoLock()
            return self._locks[id(model)]


class _NoLock:
    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# Seconds a user's indexer waits after a reply for more to index in the same pass.
GATHER = 0.2


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
                # Replies are indexed a few at a time, off their requests.
                indexer = BackgroundIndexer(memory, embed=False, gather=GATHER)
                self._by_user[user_id] = (memory, indexer)
            return self._by_user[user_id]

    def close(self) -> None:
        for _, indexer in self._by_user.values():
            indexer.close(timeout=10)


def served_chat(
    settings: Settings,
    store: Store,
    models: Models,
    memories: Memories,
    *,
    user_id: int,
    model: str,
    kind: type[Any] | None = None,
) -> tuple[Any, Any]:
    """A chat service for one request of a served user, and the lock its model needs while
    it answers: the process's model object and the user's memory and indexer, indexing
    after the response, and approvals held for later (nobody is at a keyboard, so calls
    that need a yes wait in /api/approvals, or are refused under confirm = deny), and the
    user's documents once they have any.
    `model` is "psi" (the route picks) or a profile name; `kind` a ChatService subclass."""
    from psi.agent.chat import ChatService
    from psi.knowledge.library import Library
    from psi.safety.approval import HoldForUser, Refuse

    chosen = settings.default_model if model == "psi" else model
    chat_model, lock = models.get(chosen)
    memory, indexer = memories.get(user_id)
    service = (kind or ChatService)(
        settings=settings,
        store=store,
        user_id=user_id,
        model=chat_model,
        memory=memory,
        indexer=indexer,
        owns_store=False,
        embed=False,
        approver=Refuse() if settings.safety.confirm == "deny" else HoldForUser(),
        library=Library(store, user_id=user_id, settings=settings.docs, embedder=memory.embedder),
    )
    # The user's documents answer too, once there are any (docs.chat), as in psi chat.
    service.use_documents = settings.docs.chat
    service.pinned = model != "psi"
    return service, lock


class TurnGate:
    """At most `size` chat turns (or memory searches) do their own work at once: recall,
    guards, the store, on threads that would otherwise only take turns at the
    interpreter lock. First come, first served; a request waits on the event loop,
    holding no thread, and the thread doing the work lets the next one in as soon as
    that part is done, while it goes on to the model's answer.

        leave = await gate.enter()
        try:
            await to_thread.run_sync(work, leave)   # work calls leave() when its part ends
        finally:
            leave()                                  # once, however it ended
    """

    def __init__(self, size: int) -> None:
        self._limiter = anyio.CapacityLimiter(size)

    async def enter(self) -> Callable[[], None]:
        loop = asyncio.get_running_loop()
        holder = object()
        await self._limiter.acquire_on_behalf_of(holder)
        left = threading.Lock()

        def leave() -> None:  # from any thread; the limiter itself is the loop's
            if left.acquire(blocking=False):
                loop.call_soon_threadsafe(self._limiter.release_on_behalf_of, holder)

        return leave


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    tokens: Tokens
    models: Models
    memories: Memories
    streams: LiveTurns
    # Requests answered 504 whose handlers still run (psi.server.limits).
    late: set[asyncio.Task[None]] = field(default_factory=set)
    # Each token's user as routes see them (psi.server.deps.principal), by user id.
    principals: dict[int, Principal] = field(default_factory=dict)
    # Entered while a chat turn or a memory search does its own work: at most
    # server.turn_threads at once.
    turns: TurnGate = field(default_factory=lambda: TurnGate(2))

    @classmethod
    def open(cls, settings: Settings, store: Store) -> Services:
        return cls(
            settings, store, Tokens(store), Models(settings), Memories(settings, store),
            LiveTurns(), turns=TurnGate(settings.server.turn_threads),
        )  # fmt: skip
