"""The audit log: every verdict, tool call, approval asked for and decision, with its reason.

    audit = Audit(store, user_id=1)
    audit.verdict(verdict, text, conversation_id=7)
    audit.tool_call("web_fetch", {"url": ...}, action="held", reason="...", approval_id=3)
    audit.entries(since=..., kinds=["verdict"])

`psi audit [--since] [--type]` reads it. A verdict's row names the text judged by its
length and SHA-256 and the conversation it belongs to, never by its words: the audit log
says what happened, the conversation holds what was said, and forgetting a message leaves
no copy of it here. Tool calls keep their arguments (the exact action taken).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select

from psi.clock import Clock, system_clock
from psi.safety.types import Verdict
from psi.store.db import Store, inserted_id
from psi.store.models import AuditRecord

SUBJECT_CHARS = 200


class Kind(StrEnum):
    verdict = "verdict"
    tool_call = "tool_call"
    approval_request = "approval_request"
    approval_decision = "approval_decision"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    kind: str
    channel: str | None
    action: str
    categories: list[str]
    score: float | None
    reason: str
    subject: str
    conversation_id: int | None
    approval_id: int | None


def excerpt(text: str, limit: int = SUBJECT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def fingerprint(text: str) -> str:
    """A text named without its words: `212 chars, sha256 3fa9c1d2e4b5`."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{len(text)} chars, sha256 {digest[:12]}"


def call_text(tool: str, arguments: dict[str, Any]) -> str:
    """`web_fetch(url="https://…")`: a tool call as the user reads it."""
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return f"{tool}({args})"


# An audit row (built once: a reply writes two).
_INSERT = insert(AuditRecord)  # no RETURNING: the id comes from `inserted_id`


class Audit:
    def __init__(self, store: Store, *, user_id: int, clock: Clock = system_clock) -> None:
        self.store = store
        self.user_id = user_id
        self.clock = clock

    def _add(self, connection: Connection | None = None, **values: Any) -> int:
        row = {"categories": [], **values, "user_id": self.user_id, "at": self.clock()}
        if connection is not None:
            return inserted_id(connection.execute(_INSERT, row))
        with self.store.writing() as own:
            return self._add(own, **values)

    def verdict(self, verdict: Verdict, text: str, *, conversation_id: int | None = None) -> int:
        return self.verdict_in(None, verdict, text, conversation_id=conversation_id)

    def verdict_in(
        self,
        connection: Connection | None,
        verdict: Verdict,
        text: str,
        *,
        conversation_id: int | None = None,
    ) -> int:
        """`verdict`, written in `connection`'s transaction: the one storing `text`."""
        backend = verdict.assessment.backend if verdict.assessment else ""
        reason = "; ".join(verdict.reasons) or "nothing over the thresholds"
        if backend:
            reason = f"{reason} [{backend}]"
        return self._add(
            connection,
            kind=Kind.verdict,
            channel=str(verdict.channel),
            action=verdict.action,
            categories=list(verdict.categories),
            score=verdict.score,
            reason=reason,
            subject=fingerprint(text),
            conversation_id=conversation_id,
        )

    def tool_call(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        action: str,
        reason: str,
        conversation_id: int | None = None,
        approval_id: int | None = None,
    ) -> int:
        return self._add(
            kind=Kind.tool_call,
            channel="tool",
            action=action,
            reason=reason,
            subject=excerpt(call_text(tool, arguments)),
            conversation_id=conversation_id,
            approval_id=approval_id,
        )

    def approval(
        self,
        kind: Kind,
        *,
        approval_id: int | None,
        tool: str,
        arguments: dict[str, Any],
        action: str,
        reason: str,
        conversation_id: int | None = None,
    ) -> int:
        return self._add(
            kind=kind,
            channel=None,
            action=action,
            reason=reason,
            subject=excerpt(call_text(tool, arguments)),
            conversation_id=conversation_id,
            approval_id=approval_id,
        )

    def entries(
        self,
        *,
        since: datetime | None = None,
        kinds: list[str] | None = None,
        limit: int = 50,
        offset: int = 0,
        conversation_id: int | None = None,
    ) -> list[AuditEntry]:
        """Newest first."""
        query = select(AuditRecord).where(AuditRecord.user_id == self.user_id)
        if since is not None:
            query = query.where(AuditRecord.at >= since)
        if kinds:
            query = query.where(AuditRecord.kind.in_(kinds))
        if conversation_id is not None:
            query = query.where(AuditRecord.conversation_id == conversation_id)
        query = query.order_by(AuditRecord.id.desc()).limit(limit).offset(offset)
        with self.store.session() as session:
            return [
                AuditEntry(
                    id=row.id,
                    at=row.at,
                    kind=row.kind,
                    channel=row.channel,
                    action=row.action,
                    categories=list(row.categories),
                    score=row.score,
                    reason=row.reason,
                    subject=row.subject,
                    conversation_id=row.conversation_id,
                    approval_id=row.approval_id,
                )
                for row in session.scalars(query)
            ]
