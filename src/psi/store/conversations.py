"""Conversations and their messages, always scoped to one user.

The repository is built for one `user_id`; every query filters by it, so no
caller (CLI today, API routes later) can read another person's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, String, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from psi.errors import NotFound
from psi.llm.types import Message as ChatMessage
from psi.llm.types import ToolCall
from psi.store.db import Store, inserted_id
from psi.store.models import Conversation, Message
from psi.store.records import UNTITLED, ConversationSummary

TITLE_CHARS = 60

# The statements of every message stored, built once (a reply stores two).
# Without RETURNING: SQLite gives the new row's id without a row to step through
# (PostgreSQL adds RETURNING itself for `inserted_primary_key`).
_INSERT_CONVERSATION = insert(Conversation)
_INSERT_MESSAGE = insert(Message)
# A conversation touched by a new message: its time, its model when one is named, and
# its title when it has none and a user's message can give one.
_TOUCH = (
    update(Conversation)
    .where(
        Conversation.id == bindparam("conversation"),
        Conversation.user_id == bindparam("user"),
    )
    .values(
        updated_at=bindparam("now", type_=Conversation.updated_at.type),
        model_profile=func.coalesce(bindparam("profile", type_=String), Conversation.model_profile),
        title=func.coalesce(Conversation.title, bindparam("title", type_=String)),
    )
)


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: int
    role: str
    content: str
    created_at: datetime
    model_profile: str | None
    prompt_tokens: int
    completion_tokens: int
    interrupted: bool
    chat: ChatMessage

    @classmethod
    def of(cls, row: Message) -> StoredMessage:
        chat = ChatMessage.model_validate(
            {
                "role": row.role,
                "content": row.content,
                "tool_calls": [ToolCall.model_validate(c) for c in row.tool_calls or []],
                "tool_call_id": row.tool_call_id,
                "name": row.name,
            }
        )
        return cls(
            id=row.id,
            conversation_id=row.conversation_id,
            role=row.role,
            content=row.content,
            created_at=row.created_at,
            model_profile=row.model_profile,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            interrupted=row.interrupted,
            chat=chat,
        )


# More writes for the transaction storing a message: (connection, conversation id).
Also = Callable[[Connection, int], object]


class Conversations:
    def __init__(self, store: Store, *, user_id: int) -> None:
        self.store = store
        self.user_id = user_id

    def create(
        self,
        *,
        model_profile: str | None = None,
        title: str | None = None,
        at: datetime | None = None,
    ) -> int:
        now = at or self.store.clock()
        with self.store.session() as session:
            row = Conversation(
                user_id=self.user_id,
                title=title,
                model_profile=model_profile,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return row.id

    def _get(self, session: Session, conversation_id: int) -> Conversation:
        row = session.scalar(
            select(Conversation).where(
                Conversation.id == conversation_id, Conversation.user_id == self.user_id
            )
        )
        if row is None:
            raise _missing(conversation_id)
        return row

    def exists(self, conversation_id: int) -> bool:
        with self.store.session() as session:
            return (
                session.scalar(
                    select(Conversation.id).where(
                        Conversation.id == conversation_id, Conversation.user_id == self.user_id
                    )
                )
                is not None
            )

    def latest(self) -> int | None:
        with self.store.session() as session:
            return session.scalar(
                select(Conversation.id)
                .where(Conversation.user_id == self.user_id)
                .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
                .limit(1)
            )

    def add(
        self,
        conversation_id: int,
        message: ChatMessage,
        *,
        model_profile: str | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        interrupted: bool = False,
        at: datetime | None = None,
        also: Also | None = None,
    ) -> int:
        """Append `message` (said now, or `at` when importing a past one); the first user
        message also titles the conversation. `also(connection, conversation_id)` writes
        more in the same transaction (the guard's verdict on the message, say)."""
        now = at or self.store.clock()
        titled = message.role == "user" and message.content.strip()
        touch = {
            "conversation": conversation_id,
            "user": self.user_id,
            "now": now,
            "profile": model_profile or None,
            "title": _title(message.content) if titled else None,
        }
        with self.store.writing() as session:
            # The conversation's row is checked to be this user's and touched in one
            # statement; the message follows in the same transaction.
            touched = session.execute(_TOUCH, touch)
            if not getattr(touched, "rowcount", 0):
                raise _missing(conversation_id)
            message_id = self._insert(
                session,
                conversation_id,
                message,
                now=now,
                model_profile=model_profile,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                interrupted=interrupted,
            )
            if also is not None:
                also(session, conversation_id)
            return message_id

    def start(
        self,
        message: ChatMessage,
        *,
        model_profile: str | None = None,
        at: datetime | None = None,
        also: Also | None = None,
    ) -> tuple[int, int]:
        """A new conversation (on `model_profile`, as `create` makes it) holding `message`,
        in one transaction: (conversation id, message id). Titled after the message when it
        is the user's. `also` as for `add`."""
        now = at or self.store.clock()
        titled = message.role == "user" and message.content.strip()
        with self.store.writing() as session:
            conversation_id = inserted_id(
                session.execute(
                    _INSERT_CONVERSATION,
                    {
                        "user_id": self.user_id,
                        "title": _title(message.content) if titled else None,
                        "model_profile": model_profile,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            )
            message_id = self._insert(session, conversation_id, message, now=now)
            if also is not None:
                also(session, conversation_id)
            return conversation_id, message_id

    def _insert(
        self,
        session: Session | Connection,
        conversation_id: int,
        message: ChatMessage,
        *,
        now: datetime,
        model_profile: str | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        interrupted: bool = False,
    ) -> int:
        row = {
            "conversation_id": conversation_id,
            "user_id": self.user_id,
            "role": message.role,
            "content": message.content,
            "created_at": now,
            "model_profile": model_profile,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "interrupted": interrupted,
            "tool_calls": [c.model_dump() for c in message.tool_calls] or None,
            "tool_call_id": message.tool_call_id,
            "name": message.name,
        }
        return inserted_id(session.execute(_INSERT_MESSAGE, row))

    def retitle(self, conversation_id: int) -> None:
        """Title the conversation after its first user message again (after a deletion)."""
        with self.store.session() as session:
            conversation = self._get(session, conversation_id)
            first = session.scalar(
                select(Message.content)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.user_id == self.user_id,
                    Message.role == "user",
                )
                .order_by(Message.id)
                .limit(1)
            )
            conversation.title = _title(first) if first and first.strip() else None

    def messages(
        self, conversation_id: int, *, limit: int | None = None, offset: int = 0
    ) -> list[StoredMessage]:
        """Oldest first; `limit` and `offset` page through a long conversation."""
        with self.store.session() as session:
            self._get(session, conversation_id)
            rows = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.user_id == self.user_id)
                .order_by(Message.id)
                .limit(limit)
                .offset(offset)
            )
            return [StoredMessage.of(row) for row in rows]

    def list(self, *, limit: int = 20, offset: int = 0) -> list[ConversationSummary]:
        """Newest first."""
        counts = (
            select(Message.conversation_id, func.count(Message.id).label("n"))
            .where(Message.user_id == self.user_id)
            .group_by(Message.conversation_id)
            .subquery()
        )
        query = (
            select(Conversation, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.conversation_id == Conversation.id)
            .where(Conversation.user_id == self.user_id)
            .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.store.session() as session:
            return [
                ConversationSummary(
                    id=row.id,
                    title=row.title or UNTITLED,
                    model_profile=row.model_profile,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    message_count=int(count),
                )
                for row, count in session.execute(query)
            ]


def _missing(conversation_id: int) -> NotFound:
    return NotFound(
        f"No conversation {conversation_id}.",
        hint="`psi history list` shows your conversations and their numbers.",
    )


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"
