"""Tables. Every row that belongs to a person carries `user_id`, from the first table on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on every database (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: psi stores timezone-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, the stored text straight to an aware datetime: one `fromisoformat`
        with the offset appended is about five times faster than parsing the naive time
        and then `replace(tzinfo=UTC)`, and agendas read thousands of times."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        return utc_from_store


def utc_from_store(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite's driver gives text, others datetimes.
    For code that reads the driver's own rows; `UTCDateTime` does this for SQLAlchemy's."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:  # text with an offset of its own
            return datetime.fromisoformat(value).astimezone(UTC)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# The largest row id on every database psi runs on (PostgreSQL's INTEGER is 32 bits):
# a larger number names no row, and must not reach a query.
MAX_ROW_ID = 2**31 - 1


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_updated", "user_id", "updated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(200))
    model_profile: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation",
        order_by="Message.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation", "conversation_id", "id"),
        # The messages memory has yet to index: what the indexer reads (migration 0015).
        Index(
            "ix_messages_unindexed",
            "user_id",
            "id",
            sqlite_where=text("NOT indexed"),
            postgresql_where=text("NOT indexed"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    model_profile: Mapped[str | None] = mapped_column(String(100))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    tool_call_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(100))
    # Seen by memory's indexer: an episode made of it, or nothing to make (tool traffic).
    indexed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class MemoryItem(Base):
    """One recallable piece of memory. Today an episode: one message as said, by whom and when.

    `document` is the text the keyword index holds (it may carry context, such
    as the previous turn); `vector` is the embedding of `text` by `embedder`,
    empty until the background indexer has run.
    """

    __tablename__ = "memory_items"
    __table_args__ = (
        Index("ix_memory_items_user_at", "user_id", "at"),
        Index("ix_memory_items_user_speaker", "user_id", "speaker"),
        Index("ix_memory_items_user_embedder", "user_id", "embedder"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="episode")
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    prev_id: Mapped[int | None] = mapped_column(
        ForeignKey("memory_items.id", ondelete="SET NULL"), index=True
    )
    speaker: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    document: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    embedder: Mapped[str | None] = mapped_column(String(200))
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)


class Fact(Base):
    """One thing psi holds true about the user or someone in their life, with its history.

    A fact is current while `valid_to` is empty. When a newer fact fills the same
    slot (same subject and `key`, e.g. "home_city") or says the opposite, the old
    one gets `valid_to` and `superseded_by` and stays as history. Provenance is
    `source_message_ids`; `origin` says whether a model extracted it, the user
    asked psi to remember it, or the user edited it.
    """

    __tablename__ = "facts"
    __table_args__ = (
        Index("ix_facts_user_current", "user_id", "valid_to"),
        Index("ix_facts_user_slot", "user_id", "subject", "key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    key: Mapped[str | None] = mapped_column(String(100))
    statement: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20))
    event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confidence: Mapped[float] = mapped_column()
    source_message_ids: Mapped[list[int]] = mapped_column(JSON)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    superseded_by: Mapped[int | None] = mapped_column(
        ForeignKey("facts.id", ondelete="SET NULL"), index=True
    )
    origin: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserProfile(Base):
    """The "about you" text as the user edited it; no row means it is built from current facts.

    The built text is not stored: it is derived from facts in one query, and a
    stored copy would be one more place for forgotten text to linger.
    """

    __tablename__ = "profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- goals -----------------------------------------------------------------------
# Times are UTC in the database; a recurring item keeps the IANA zone its rule is
# written in (`zone`), so "every day at 07:00" stays 07:00 local across DST.


class Goal(Base):
    """Something the user wants to reach, optionally measured: from `baseline` to `target`
    in `unit`, "increase" or "decrease", each check-in a level ("last") or an amount
    added ("sum")."""

    __tablename__ = "goals"
    __table_args__ = (Index("ix_goals_user_status", "user_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    why: Mapped[str | None] = mapped_column(Text)
    area: Mapped[str | None] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    target_date: Mapped[datetime] = mapped_column(UTCDateTime())
    unit: Mapped[str | None] = mapped_column(String(40))
    baseline: Mapped[float | None] = mapped_column(Double)
    target: Mapped[float | None] = mapped_column(Double)
    direction: Mapped[str | None] = mapped_column(String(10))
    aggregate: Mapped[str | None] = mapped_column(String(10))
    # active | paused | done | archived
    status: Mapped[str] = mapped_column(String(20))
    # 1 (highest) to 3
    priority: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Milestone(Base):
    __tablename__ = "milestones"
    __table_args__ = (Index("ix_milestones_goal", "goal_id", "due"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    due: Mapped[datetime] = mapped_column(UTCDateTime())
    # The metric's value this milestone stands for, when the goal has a metric.
    value: Mapped[float | None] = mapped_column(Double)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Task(Base):
    """A to-do, once (`due`) or recurring (`rule`, an RFC 5545 RRULE in `zone` from
    `starts_at`); a recurring task's occurrences are done through check-ins."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_user_due", "user_id", "due"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rule: Mapped[str | None] = mapped_column(Text)
    zone: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    estimate_minutes: Mapped[int | None] = mapped_column(Integer)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Habit(Base):
    """Something done on a schedule (`rule` in `zone`), or `per_period` times a
    `period` ("week", "month")."""

    __tablename__ = "habits"
    __table_args__ = (Index("ix_habits_user", "user_id", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    per_period: Mapped[int | None] = mapped_column(Integer)
    period: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IfThen(Base):
    """An implementation intention: "if <situation>, then <action>"."""

    __tablename__ = "if_then_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    situation: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckIn(Base):
    """Progress at a moment: a goal's metric value, a habit or recurring task done for
    an `occurrence`, with an optional note, energy and mood (1-5)."""

    __tablename__ = "check_ins"
    __table_args__ = (
        Index("ix_check_ins_goal", "goal_id", "at"),
        Index("ix_check_ins_habit", "habit_id", "at"),
        Index("ix_check_ins_task", "task_id", "occurrence"),
        Index("ix_check_ins_user_at", "user_id", "at"),
        # Covers the agenda's read of every goal's values, in order, without the table.
        Index("ix_check_ins_user_goal", "user_id", "goal_id", "at", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    habit_id: Mapped[int | None] = mapped_column(ForeignKey("habits.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    occurrence: Mapped[datetime | None] = mapped_column(UTCDateTime())
    value: Mapped[float | None] = mapped_column(Double)
    note: Mapped[str | None] = mapped_column(Text)
    energy: Mapped[int | None] = mapped_column(Integer)
    mood: Mapped[int | None] = mapped_column(Integer)
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GoalTrend(Base):
    """A measured goal's series as its forecast needs it (psi.goals.forecast.Fitted),
    kept so an agenda need not re-read and re-fit every check-in. Derived data:
    `key` names the check-ins and metric it was fitted from, and a row whose key no
    longer matches is fitted again (psi.goals.progress)."""

    __tablename__ = "goal_trends"

    goal_id: Mapped[int] = mapped_column(
        ForeignKey("goals.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(300))
    current: Mapped[float | None] = mapped_column(Double)
    last_ts: Mapped[float | None] = mapped_column(Double)
    # The Theil–Sen line, all None when the series has fewer than two times.
    slope: Mapped[float | None] = mapped_column(Double)
    slope_low: Mapped[float | None] = mapped_column(Double)
    slope_high: Mapped[float | None] = mapped_column(Double)
    intercept: Mapped[float | None] = mapped_column(Double)
    origin_ts: Mapped[float | None] = mapped_column(Double)


class EgressRecord(Base):
    """One request that left the machine (psi.egress.ledger): where to, for what, how big,
    what it cost and how much personal data was replaced before it went. `payload` is kept
    only when the user opted in; its SHA-256 always is."""

    __tablename__ = "egress_log"
    __table_args__ = (Index("ix_egress_log_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    host: Mapped[str] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Double)
    # {"PERSON": 2, "EMAIL_ADDRESS": 1}: what was replaced by placeholders before sending.
    redactions: Mapped[dict[str, int]] = mapped_column(JSON)
    payload_bytes: Mapped[int] = mapped_column(Integer)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str | None] = mapped_column(Text)


class Notice(Base):
    """Something psi reached out with (a morning agenda, a reminder, a weekly review):
    `key` makes each one once ("agenda:2026-11-28"); `shown_at` is set once the next
    chat has shown it; `channels` records where it was delivered."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_notices_user_key"),
        Index("ix_notices_user_shown", "user_id", "shown_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channels: Mapped[list[str]] = mapped_column(JSON)


class SchedulerState(Base):
    """When a scheduled job of psi's last ran for a user (`job` names it: "outreach"),
    so a restart knows what it missed while the machine was off."""

    __tablename__ = "scheduler_state"
    __table_args__ = (UniqueConstraint("user_id", "job", name="uq_scheduler_state_user_job"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    job: Mapped[str] = mapped_column(String(60))
    last_run: Mapped[datetime] = mapped_column(UTCDateTime())


class Commitment(Base):
    """Time the user has promised elsewhere, read from their calendar (`source`, a file
    name), so planning can keep clear of it: once (`starts_at` to `ends_at`) or
    recurring (`rule` in `zone` from `starts_at`, each occurrence as long as the
    first, less the instants in `exdates`, UTC ISO strings). `uid` is the event's
    UID, or "UID#RECURRENCE-ID" for one changed occurrence of a recurring event."""

    __tablename__ = "commitments"
    __table_args__ = (
        UniqueConstraint("user_id", "uid", name="uq_commitments_user_uid"),
        Index("ix_commitments_user_starts", "user_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rule: Mapped[str | None] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(String(64))
    all_day: Mapped[bool] = mapped_column(Boolean)
    exdates: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(500))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRecord(Base):
    """One safety event (psi.safety.audit): a guard's verdict on a text, a tool call, an
    approval asked for or decided, each with its reason."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # verdict | tool_call | approval_request | approval_decision
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str | None] = mapped_column(String(20))
    # verdicts: allow/warn/block; tool calls: ran/blocked/held/failed;
    # decisions: approved/denied
    action: Mapped[str] = mapped_column(String(20))
    categories: Mapped[list[str]] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Double)
    reason: Mapped[str] = mapped_column(Text)
    # What it was about: a tool and its arguments, or the start of the text judged.
    subject: Mapped[str] = mapped_column(String(300))
    conversation_id: Mapped[int | None] = mapped_column(Integer)
    approval_id: Mapped[int | None] = mapped_column(Integer)


class Approval(Base):
    """An action held for the user (psi.safety.approval): which tool with which arguments,
    why it needs a yes, and what became of it (pending, approved, denied)."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_user_status", "user_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))
    tool: Mapped[str] = mapped_column(String(100))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    risk: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    # chat | api | scheduler: where the action was proposed.
    origin: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[int | None] = mapped_column(Integer)
    # What running it returned, once approved.
    result: Mapped[str | None] = mapped_column(Text)


class ApiToken(Base):
    """A bearer token for `psi serve` (psi.server.tokens): only its scrypt hash is kept,
    found by the public `prefix` the token starts with; revoked tokens stay, marked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(20), unique=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LeaseRow(Base):
    """Who holds a named lease (psi.store.lease) and until when: the one process of
    several that runs the scheduler."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DocRoot(Base):
    """A file or folder the user gave psi to read (`psi docs add`), or one they took out
    of a folder they gave (`excluded`), which `psi docs sync` then passes over."""

    __tablename__ = "doc_roots"
    __table_args__ = (UniqueConstraint("user_id", "path", name="uq_doc_roots_user_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Document(Base):
    """One file psi has read: where it is, what it held (by SHA-256) and what it is about.

    `size` and `mtime_ns` let a sync pass over a file without reading it; `sha256`
    tells a real change from a touch, and a moved file from a new one."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("user_id", "path", name="uq_documents_user_path"),
        Index("ix_documents_user_sha256", "user_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    root_id: Mapped[int | None] = mapped_column(
        ForeignKey("doc_roots.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int | None] = mapped_column(Integer)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DocChunk(Base):
    """A passage of a document: its heading path and page are where a citation points.

    `keywords` is what the keyword index holds (title, heading and text); `vector` embeds
    the same on SQLite (PostgreSQL keeps it in pgvector's `embedding`, migration 0013).
    Ids are never reused (AUTOINCREMENT), so a count and the highest id tell a cached
    matrix of vectors whether it is stale."""

    __tablename__ = "doc_chunks"
    __table_args__ = (
        Index("ix_doc_chunks_user_embedder", "user_id", "embedder"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ord: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(Text, default="")
    page: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text)
    embedder: Mapped[str | None] = mapped_column(String(200))
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
