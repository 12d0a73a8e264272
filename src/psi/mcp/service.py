"""One user's memory and goals as psi's MCP server serves them, free of the protocol.

    service = Service.open(load_settings())     # the configured database and user
    service.call("recall", {"query": "dog"})    # JSON-ready data, or PsiError
    service.profile()                           # the text behind psi://profile
    service.goals()                             # the JSON behind psi://goals
    service.close()

psi serve makes one per user (psi.mcp.http) on its own store and each user's Memory.
A user's calls run one at a time: the store's writes read before they write (a fact is
merged with its twin), and one client gains nothing from overlapping them. Every call
that writes is recorded in psi's audit log (`psi audit`), reason "asked by an MCP client";
remember and forget by a fingerprint of their words, so a forgotten thing does not live
on there. Asking the user before a call is the client's job: the server marks which
tools only read and which destroy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from psi.clock import system_clock
from psi.config import Settings
from psi.errors import InputError, PsiError
from psi.goals.store import Goals
from psi.mcp.tools import active_goals, mcp_tools
from psi.memory.profile import Profiles
from psi.memory.service import BackgroundIndexer, Memory
from psi.safety.audit import Audit, fingerprint
from psi.store.db import open_store
from psi.tools.base import Risk, Tool, ToolContext

AUDIT_REASON = "asked by an MCP client (psi mcp)"
# Their words are memory: the audit log names them by fingerprint, so forgetting a fact
# leaves no copy of it there.
UNSAID = frozenset({"remember", "forget"})
NO_PROFILE = "psi knows nothing about the user yet."


def _bad_arguments(tool: str, error: ValidationError) -> InputError:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'arguments'}: {e['msg']}"
        for e in error.errors()
    )
    return InputError(
        f"Bad arguments for {tool}: {problems}.",
        hint="The tool's input schema (tools/list) says what it takes.",
    )


class Service:
    """One user's tools and resources on `ctx.store`, with that user's `memory` and the
    `indexer` that keeps it current (both may be shared, as psi serve shares them with
    its REST API); `reason` is what the audit log says asked for a write."""

    def __init__(
        self,
        ctx: ToolContext,
        *,
        memory: Memory,
        indexer: BackgroundIndexer,
        reason: str = AUDIT_REASON,
    ) -> None:
        self.ctx = ctx
        self.memory = memory
        self.indexer = indexer
        self.reason = reason
        self.tools: dict[str, Tool] = {t.name: t for t in mcp_tools(memory, indexer)}
        self.audit = Audit(ctx.store, user_id=ctx.user_id, clock=ctx.clock)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, *, embed: bool = True) -> Service:
        """The configured user's service on its own store and indexer: close() ends them."""
        from psi.agent.chat import load_embedder

        store = open_store(settings.db_url)
        user_id = store.ensure_user(settings.user)
        ctx = ToolContext(settings=settings, store=store, user_id=user_id, clock=system_clock)
        memory = Memory(
            store, user_id=user_id, embedder=lambda: load_embedder(settings), clock=system_clock
        )
        # Loads the embedder and embeds what lacks a vector while the client settles in, as
        # a chat session does; recall is keyword-only until then.
        indexer = BackgroundIndexer(memory, embed=embed)
        if embed:
            indexer.notify()
        return cls(ctx, memory=memory, indexer=indexer)

    def call(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Run tool `name`; its result as JSON-ready data. PsiError for what the caller
        can put right: an unknown tool, bad arguments, a goal that does not exist."""
        tool = self.tools.get(name)
        if tool is None:
            raise InputError(f"psi has no tool {name!r}.", hint=f"It has: {', '.join(self.tools)}.")
        try:
            args = tool.Args.model_validate(arguments)
        except ValidationError as exc:
            raise _bad_arguments(name, exc) from None
        with self._lock:
            try:
                result = tool.run(args, self.ctx)
            except PsiError:
                self._record(tool, arguments, "failed")
                raise
            self._record(tool, arguments, "ran")
        # Dates and times become strings, as the agent's tool results do.
        data: dict[str, Any] = json.loads(json.dumps(result, ensure_ascii=False, default=str))
        return data

    def _record(self, tool: Tool, arguments: Mapping[str, Any], action: str) -> None:
        if tool.risk is Risk.read:
            return
        shown = dict(arguments)
        if tool.name in UNSAID:
            shown = {k: fingerprint(str(v)) for k, v in shown.items()}
        self.audit.tool_call(tool.name, shown, action=action, reason=self.reason)

    def profile(self) -> str:
        """The profile psi puts in front of every chat: the user's edit, else built from facts."""
        text = Profiles(self.ctx.store, user_id=self.ctx.user_id).get().text.strip()
        return text or NO_PROFILE

    def goals(self) -> str:
        """The active goals with their standing, as JSON."""
        ctx = self.ctx
        goals = Goals(ctx.store, user_id=ctx.user_id, zone=ctx.settings.zone(), clock=ctx.clock)
        return json.dumps({"goals": active_goals(goals)}, ensure_ascii=False, indent=2)

    def close(self) -> None:
        """End what open() made: the indexer (after it has caught up) and the store."""
        self.indexer.close(timeout=5)
        self.ctx.store.dispose()
