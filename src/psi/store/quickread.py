"""Read-only queries on SQLite through the standard library, for commands that must start fast.

`psi history list` should answer within 0.3 s, and importing SQLAlchemy alone
takes about that long on a 2-core machine (BENCHMARKS.md). So for a SQLite
database whose schema is already at HEAD, the conversation list is read here
with the query the repository runs (a test keeps the two in step). Anything
else (another database, an older schema, a missing file, any error, and every
write) returns None, and the caller goes through the SQLAlchemy repository,
which also migrates and explains errors.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from psi.store.migrations import HEAD
from psi.store.records import UNTITLED, ConversationSummary

_LIST = """
SELECT c.id, c.title, c.model_profile, c.created_at, c.updated_at, COALESCE(n.count, 0)
FROM conversations AS c
LEFT OUTER JOIN (
    SELECT conversation_id, count(id) AS count FROM messages
    WHERE user_id = ? GROUP BY conversation_id
) AS n ON n.conversation_id = c.id
WHERE c.user_id = ?
ORDER BY c.updated_at DESC, c.id DESC
LIMIT ? OFFSET ?
"""


def sqlite_file(url: str) -> Path | None:
    """The file behind a `sqlite:///PATH` URL; None for other URLs and in-memory databases."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    if path in ("", ":memory:") or "?" in path:
        return None
    return Path(path)


def list_conversations(
    url: str, *, user: str, limit: int, offset: int = 0
) -> list[ConversationSummary] | None:
    """The user's conversations, newest first, or None when this fast path does not apply."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(path, timeout=5.0)) as connection:
            version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            if version is None or version[0] != HEAD:
                return None
            found = connection.execute("SELECT id FROM users WHERE name = ?", (user,)).fetchone()
            if found is None:
                return []
            user_id = found[0]
            rows = connection.execute(_LIST, (user_id, user_id, limit, offset)).fetchall()
    except sqlite3.Error:
        return None
    return [
        ConversationSummary(
            id=row[0],
            title=row[1] or UNTITLED,
            model_profile=row[2],
            created_at=_utc(row[3]),
            updated_at=_utc(row[4]),
            message_count=row[5],
        )
        for row in rows
    ]


def _utc(value: str) -> datetime:
    # SQLAlchemy writes SQLite datetimes as naive ISO text in UTC (see models.UTCDateTime).
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
