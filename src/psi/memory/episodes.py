"""Episodes: every message, with its speaker and time, in a keyword index and a vector index.

The repository is built for one user and every query filters by `user_id`.
On SQLite, keyword search is FTS5 (BM25, Porter stemming); vectors are
float32 rows in a BLOB column, searched by a dot product over a matrix cached
per process (`VectorCache`): at 384 dimensions that is ~15 ms for 100,000
items on two cores, with nothing to build or repair beside the table itself.

On PostgreSQL (migration 0012), the table carries its own indexes: generated
tsvector columns under GIN (English stemming), ranked by BM25 computed in SQL
over them (psi.store.pgsearch), and a pgvector `embedding` column searched in SQL by
inner product (`nearest`), exact within the user's rows. Several server processes
then share one index, and no process holds a matrix.

Left out here: facts, and ranking (psi.memory.rank).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from psi.memory.rank import turn_text
from psi.memory.snapshot import porter
from psi.store.db import Store
from psi.store.models import MemoryItem, Message
from psi.store.pgsearch import PgSearch

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Episode:
    id: int
    message_id: int | None
    conversation_id: int | None
    speaker: str
    text: str
    at: datetime
    prev_id: int | None = None


@dataclass(frozen=True)
class Said:
    """A stored message waiting to become an episode."""

    message_id: int
    conversation_id: int
    speaker: str
    text: str
    at: datetime


# Function words carry no topic; in a small memory BM25 would still weigh them
# heavily (few documents hold "is"), so a question's own grammar would win.
STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be been before being
    below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i
    if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves""".split()  # noqa: SIM905
)


def day_label(at: datetime) -> str:
    """ "8 May 2023": the date as people write it, so its words match their questions."""
    return f"{at.day} {at:%B %Y}"


def topical_words(query: str) -> list[str]:
    """The topical words of `query`, lower-cased and sorted; every word when the query is
    nothing but function words."""
    words = {word.lower() for word in _WORD.findall(query)}
    return sorted(words - STOPWORDS or words)


def fts_query(query: str) -> str | None:
    """An FTS5 query matching any topical word of `query`, each quoted so no syntax leaks in."""
    return fts_match(topical_words(query))


def fts_match(words: Sequence[str]) -> str | None:
    """An FTS5 query matching any of `words`, each quoted so no syntax leaks in."""
    if not words:
        return None
    return " OR ".join(f'"{word}"' for word in words)


# A word more than half of the episodes hold weighs nothing in BM25 (FTS5's idf is
# clamped to ~0 there), yet FTS5 scores every row holding it: "hi" in 100,000 episodes
# costs ~50 ms a search, against ~1.5 ms to count it. Keyword search leaves such words
# out once a memory holds COMMON_FLOOR episodes; below that, short conversations' window
# documents hold most of their words, and every row is cheap to score.
COMMON_FLOOR = 1_000

# The PostgreSQL side of search leaves the same words out, in its BM25 query.
_PG = PgSearch("memory_items", common_floor=COMMON_FLOOR)


class CommonWords:
    """The keywords found in more than half of the episodes, remembered for
    COMMON_SECONDS: a word that common in a memory of 1,000 turns or more stays so for a
    while, and every reply asks (two queries, a few percent of a served reply). Other
    words are counted afresh each time, so one that becomes common is left out from the
    next reply on."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, str], float] = {}
        self._everyone = (0.0, 0)

    def known(self, column: str, term: str) -> bool:
        return self._until.get((column, term), 0.0) > time.monotonic()

    def remember(self, column: str, terms: set[str]) -> None:
        if len(self._until) > COMMON_KEPT:
            self._until.clear()
        until = time.monotonic() + COMMON_SECONDS
        self._until.update({(column, term): until for term in terms})

    def everyone(self, session: Connection, query: Select[Any] | None = None) -> int:
        """How many episodes there are (`query`'s count; by default every user's, as
        FTS5's idf counts them all); a count past COMMON_FLOOR is kept for
        COMMON_SECONDS."""
        now = time.monotonic()
        if self._everyone[0] <= now:
            query = query if query is not None else select(func.count()).select_from(MemoryItem)
            count = int(session.scalar(query) or 0)
            kept = COMMON_SECONDS if count >= COMMON_FLOOR else 0.0
            self._everyone = (now + kept, count)
        return self._everyone[1]


# How long a common word, and a large count of episodes, are remembered; how many words.
COMMON_SECONDS = 10.0
COMMON_KEPT = 10_000

_TERM_COUNTS = text(
    "SELECT term, doc FROM memory_fts_terms WHERE col = :column AND term IN :terms"
).bindparams(bindparam("terms", expanding=True))


_TOP_ANYONE = text(
    "SELECT rowid, bm25(memory_fts) AS score FROM memory_fts "
    "WHERE memory_fts MATCH :match AND rowid > :after ORDER BY score LIMIT :limit"
)
_TOP_OWN = text(
    "SELECT f.rowid, bm25(memory_fts) AS score FROM memory_fts AS f "
    "JOIN memory_items AS m ON m.id = f.rowid "
    "WHERE memory_fts MATCH :match AND f.rowid > :after AND m.user_id = :user "
    "ORDER BY score LIMIT :limit"
)

_EPISODE_COLUMNS = (
    MemoryItem.id,
    MemoryItem.message_id,
    MemoryItem.conversation_id,
    MemoryItem.speaker,
    MemoryItem.text,
    MemoryItem.at,
    MemoryItem.prev_id,
)


def _episode(row: MemoryItem) -> Episode:
    return Episode(
        id=row.id,
        message_id=row.message_id,
        conversation_id=row.conversation_id,
        speaker=row.speaker,
        text=row.text,
        at=row.at,
        prev_id=row.prev_id,
    )


class Episodes:
    def __init__(self, store: Store, *, user_id: int) -> None:
        self.store = store
        self.user_id = user_id
        self._common = CommonWords()
        # The user's episodes, counted (PostgreSQL's BM25 counts per user).
        self._own_count = select(func.count(MemoryItem.id)).where(MemoryItem.user_id == user_id)

    @contextmanager
    def indexing(self) -> Iterator[Indexing]:
        """One indexing pass as one transaction, and one pass at a time for this user in
        every process (Store.serialize): two server workers' indexers would otherwise both
        take the same messages, or link two turns to the same one before them."""
        with self.store.writing() as connection:
            self.store.serialize(connection, f"memory-index:{self.user_id}")
            yield Indexing(self, connection)

    def set_documents(self, documents: dict[int, str]) -> None:
        """Replace keyword documents (a turn's window grows as later turns arrive)."""
        with self.store.session() as session:
            Indexing(self, session).set_documents(documents)

    def tail(self, conversation_id: int, count: int) -> list[Episode]:
        """The newest `count` episodes of a conversation, oldest first."""
        with self.store.session() as session:
            return Indexing(self, session).tails([conversation_id], count).get(conversation_id, [])

    def around(self, ids: Sequence[int]) -> dict[int, Episode]:
        """The episodes `ids` with the turns said just before and after each, in one query.

        The user is checked on the rows: in the WHERE clause it steers SQLite to the
        user's index, a scan, instead of primary-key and prev_id lookups."""
        if not ids:
            return {}
        wanted = list(ids)
        query = select(*_EPISODE_COLUMNS, MemoryItem.user_id).where(
            or_(
                MemoryItem.id.in_(wanted),
                MemoryItem.prev_id.in_(wanted),
                MemoryItem.id.in_(select(MemoryItem.prev_id).where(MemoryItem.id.in_(wanted))),
            )
        )
        with self.store.engine.connect() as connection:
            return {
                row[0]: Episode(*row[:-1])
                for row in connection.execute(query).all()
                if row[-1] == self.user_id
            }

    def newest(self) -> int:
        """The highest episode id of any user (0 when there is none): a lookup at the end
        of the table, where this user's own highest id would cost a scan of their index."""
        query = select(func.max(MemoryItem.id))
        with self.store.engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)

    def speakers(self) -> list[str]:
        query = select(MemoryItem.speaker).where(MemoryItem.user_id == self.user_id).distinct()
        with self.store.session() as session:
            return list(session.scalars(query))

    def without_vectors(self, embedder: str, *, limit: int = 256) -> list[tuple[int, str]]:
        query = (
            select(MemoryItem.id, MemoryItem.speaker, MemoryItem.text, MemoryItem.at)
            .where(
                MemoryItem.user_id == self.user_id,
                (MemoryItem.embedder.is_(None)) | (MemoryItem.embedder != embedder),
            )
            .order_by(MemoryItem.id)
            .limit(limit)
        )
        with self.store.session() as session:
            return [
                (row.id, turn_text(day_label(row.at), row.speaker, row.text))
                for row in session.execute(query)
            ]

    def set_vectors(self, ids: Sequence[int], vectors: NDArray[np.float32], embedder: str) -> None:
        if not self.store.is_sqlite:
            self._set_embeddings(ids, vectors, embedder)
            return
        with self.store.session() as session:
            session.execute(
                update(MemoryItem)
                .where(MemoryItem.user_id == self.user_id)
                .execution_options(synchronize_session=None),
                [
                    {
                        "id": item_id,
                        "vector": vector.astype(np.float32).tobytes(),
                        "embedder": embedder,
                    }
                    for item_id, vector in zip(ids, vectors, strict=True)
                ],
            )

    def _set_embeddings(
        self, ids: Sequence[int], vectors: NDArray[np.float32], embedder: str
    ) -> None:
        """PostgreSQL: the vectors into the pgvector column (the BLOB stays empty)."""
        with self.store.session() as session:
            _PG.set_embeddings(
                session, dict(zip(ids, vectors, strict=True)), user_id=self.user_id,
                embedder=embedder,
            )  # fmt: skip

    def nearest(
        self, embedder: str, query: NDArray[np.float32], *, limit: int
    ) -> list[tuple[int, float]]:
        """PostgreSQL: (id, cosine) of this user's `limit` episodes nearest `query`,
        by pgvector in the database (vectors are unit length: inner product = cosine)."""
        with self.store.session() as session:
            return _PG.nearest(session, query, user_id=self.user_id, embedder=embedder, limit=limit)

    def keyword_search(
        self, query: str, *, limit: int, column: str = "document", after: int = 0
    ) -> list[tuple[int, float]]:
        """(episode id, score; higher is better) for the best `limit` matches in
        `column`: "document" (the turn with its neighbours) or "turn" (the turn alone),
        among episodes with ids above `after`. BM25 on both (FTS5; psi.store.pgsearch)."""
        if column not in ("document", "turn"):
            raise ValueError(f"no keyword column {column!r}")
        if not self.store.is_sqlite:
            return self._pg_keyword_search(query, limit=limit, column=column, after=after)
        with self.store.transaction() as session:
            match = fts_match(self._telling(session, topical_words(query), column))
            if match is None:
                return []
            match = f"{{{column}}} : ({match})"
            params = {"match": match, "user": self.user_id, "limit": limit, "after": after}
            # The keyword index holds every user's episodes. Rank without joining
            # memory_items first (a third of the cost); when every hit is this user's,
            # that is exactly their top `limit`. Otherwise rank again, scoped.
            rows = session.execute(_TOP_ANYONE, params).all()
            ids = [int(row[0]) for row in rows]
            # The owner is checked on the rows, found by id: with the user in the WHERE
            # clause SQLite scans the user's index instead (0.75 ms at 17,000 episodes
            # and growing, against 0.01).
            owned = {
                found for found, owner in session.execute(_OWNERS, {"ids": ids})
                if owner == self.user_id
            }  # fmt: skip
            if len(owned) < len(ids):
                rows = session.execute(_TOP_OWN, params).all()
        # FTS5's bm25() is negative, more negative meaning a better match.
        return [(int(row[0]), -float(row[1])) for row in rows]

    def telling_words(self, query: str, *, column: str = "document") -> list[str]:
        """The topical words of `query` keyword search looks for: those in no more than
        half of the episodes' `column` (all of them in a memory under COMMON_FLOOR). On
        PostgreSQL, every topical word: its BM25 query leaves the common ones out itself."""
        words = topical_words(query)
        if not self.store.is_sqlite:
            return words
        with self.store.transaction() as connection:
            return self._telling(connection, words, column)

    def _telling(self, session: Connection, words: list[str], column: str) -> list[str]:
        if not words:
            return words
        stems = dict(zip(words, porter(words), strict=True))
        common = {t for t in stems.values() if self._common.known(column, t)}
        if rest := sorted(set(stems.values()) - common):
            read = session.execute(_TERM_COUNTS, {"column": column, "terms": rest})
            held = {str(term): int(count) for term, count in read}
            if 2 * max(held.values(), default=0) > COMMON_FLOOR:
                everyone = self._common.everyone(session)
                if everyone >= COMMON_FLOOR:
                    found = {term for term, count in held.items() if 2 * count > everyone}
                    self._common.remember(column, found)
                    common |= found
        return [word for word in words if stems[word] not in common]

    def _pg_keyword_search(
        self, query: str, *, limit: int, column: str, after: int
    ) -> list[tuple[int, float]]:
        tsv = f"{column}_tsv"
        with self.store.transaction() as connection:
            # Words known to be common are left out before asking (as on SQLite): their
            # counts are a scan of the rows that hold them.
            words = [w for w in topical_words(query) if not self._common.known(tsv, w)]
            if not words:
                return []
            everyone = self._common.everyone(connection, self._own_count)
            if everyone >= COMMON_FLOOR:
                held = _PG.word_counts(connection, words, user_id=self.user_id, column=tsv)
                common = {word for word, count in held.items() if 2 * count > everyone}
                self._common.remember(tsv, common)
                words = [word for word in words if word not in common]
                if not words:
                    return []
            return _PG.keywords(
                connection, words, user_id=self.user_id, column=tsv, limit=limit,
                after=after, everyone=everyone,
            )  # fmt: skip

    def documents(self) -> list[tuple[int, str]]:
        """(id, keyword document) of every episode, oldest first."""
        query = (
            select(MemoryItem.id, MemoryItem.document)
            .where(MemoryItem.user_id == self.user_id)
            .order_by(MemoryItem.id)
        )
        with self.store.session() as session:
            return [(int(row[0]), row[1] or "") for row in session.execute(query)]

    def vectors_after(
        self, embedder: str, after_id: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        query = (
            select(MemoryItem.id, MemoryItem.vector)
            .where(
                MemoryItem.user_id == self.user_id,
                MemoryItem.embedder == embedder,
                MemoryItem.vector.is_not(None),
                MemoryItem.id > after_id,
            )
            .order_by(MemoryItem.id)
        )
        with self.store.session() as session:
            rows = session.execute(query).all()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        matrix = np.vstack([np.frombuffer(row[1] or b"", dtype=np.float32) for row in rows])
        return ids, matrix

    def count(self, *, embedder: str | None = None) -> int:
        query = select(func.count(MemoryItem.id)).where(MemoryItem.user_id == self.user_id)
        if embedder is not None:
            query = query.where(MemoryItem.embedder == embedder)
        with self.store.session() as session:
            return int(session.scalar(query) or 0)

    def get(self, ids: Sequence[int]) -> dict[int, Episode]:
        if not ids:
            return {}
        # Only the columns an Episode needs: not the vector, not the keyword document.
        # The user is checked on the rows: in the WHERE clause it steers SQLite to the
        # user's index, a scan, instead of primary-key lookups.
        query = select(*_EPISODE_COLUMNS, MemoryItem.user_id).where(MemoryItem.id.in_(list(ids)))
        with self.store.session() as session:
            return {
                row[0]: Episode(*row[:-1])
                for row in session.execute(query)
                if row[-1] == self.user_id
            }

    def newest_id(self, *, embedder: str) -> int:
        """The highest id with a vector from `embedder` (an index lookup, not a count)."""
        query = select(func.max(MemoryItem.id)).where(
            MemoryItem.user_id == self.user_id, MemoryItem.embedder == embedder
        )
        with self.store.session() as session:
            return int(session.scalar(query) or 0)

    def recent(self, *, limit: int, offset: int = 0) -> list[Episode]:
        """Newest first."""
        query = (
            select(MemoryItem)
            .where(MemoryItem.user_id == self.user_id)
            .order_by(MemoryItem.at.desc(), MemoryItem.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.store.session() as session:
            return [_episode(row) for row in session.scalars(query)]

    def conversation_ids(self) -> list[int]:
        query = (
            select(MemoryItem.conversation_id)
            .where(MemoryItem.user_id == self.user_id, MemoryItem.conversation_id.is_not(None))
            .distinct()
        )
        with self.store.session() as session:
            return [int(i) for i in session.scalars(query) if i is not None]

    def clear_vectors(self) -> None:
        with self.store.session() as session:
            session.execute(
                update(MemoryItem)
                .where(MemoryItem.user_id == self.user_id)
                .values(vector=None, embedder=None)
            )
            if not self.store.is_sqlite:
                session.execute(
                    text("UPDATE memory_items SET embedding = NULL WHERE user_id = :user"),
                    {"user": self.user_id},
                )

    def neighbours(self, episode: Episode, *, before: int, after: int) -> list[Episode]:
        """Episodes said just before and after `episode` in its conversation, in order."""
        if episode.conversation_id is None:
            return [episode]
        base = select(MemoryItem).where(
            MemoryItem.user_id == self.user_id,
            MemoryItem.conversation_id == episode.conversation_id,
        )
        with self.store.session() as session:
            earlier = session.scalars(
                base.where(MemoryItem.id < episode.id).order_by(MemoryItem.id.desc()).limit(before)
            ).all()
            later = session.scalars(
                base.where(MemoryItem.id > episode.id).order_by(MemoryItem.id).limit(after)
            ).all()
        return [*(_episode(r) for r in reversed(earlier)), episode, *(_episode(r) for r in later)]

    def purge(self) -> None:
        """Make deletions final: FTS5 keeps deleted tokens in old index segments until
        they are merged, and WAL keeps old pages until a checkpoint; PostgreSQL keeps
        deleted rows until a VACUUM."""
        if not self.store.is_sqlite:
            with self.store.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM memory_items"
                )
            return
        with self.store.session() as session:
            session.execute(text("INSERT INTO memory_fts(memory_fts) VALUES ('optimize')"))
        with self.store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def forget_all(self) -> int:
        with self.store.session() as session:
            result = session.execute(delete(MemoryItem).where(MemoryItem.user_id == self.user_id))
            return int(getattr(result, "rowcount", 0) or 0)


# The user's messages memory has yet to index, oldest first (the partial index
# ix_messages_unindexed holds just these).
_UNINDEXED = (
    select(
        Message.id, Message.conversation_id, Message.name, Message.role, Message.content,
        Message.created_at,
    )
    .where(Message.user_id == bindparam("user"), text("NOT messages.indexed"))
    .order_by(Message.id)
    .limit(bindparam("limit"))
)  # fmt: skip
_MARK_INDEXED = (
    update(Message).where(Message.id.in_(bindparam("ids", expanding=True))).values(indexed=True)
)


def _stored_time(session: Session | Connection) -> Callable[[datetime], Any]:
    """How `memory_items.at` binds a time on this session's database (its type's own
    processing: UTC, then the driver's text form on SQLite)."""
    dialect = session.get_bind().dialect if isinstance(session, Session) else session.dialect
    column_type = MemoryItem.__table__.c.at.type
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else (lambda value: value)


@cache
def _tails() -> Select[tuple[Any, ...]]:
    """The newest :count episodes of each of :conversations, oldest first (built once:
    the indexer asks it for every batch).

    The user is checked on the ranked rows, outside: in the inner WHERE it steers SQLite
    to the user's index, a scan of all their memory (63 ms at 200,000 episodes, in the
    write lock), instead of the conversations' index. A conversation's episodes are all
    its user's, so the ranking is the same."""
    newest = (
        func.row_number()
        .over(partition_by=MemoryItem.conversation_id, order_by=MemoryItem.id.desc())
        .label("newest")
    )
    ranked = (
        select(*_EPISODE_COLUMNS, MemoryItem.user_id, newest)
        .where(MemoryItem.conversation_id.in_(bindparam("conversations", expanding=True)))
        .subquery()
    )
    return (
        select(*(ranked.c[c.key] for c in _EPISODE_COLUMNS))
        .where(ranked.c.newest <= bindparam("count"), ranked.c.user_id == bindparam("user"))
        .order_by(ranked.c.id)
    )


_OWNERS = select(MemoryItem.id, MemoryItem.user_id).where(
    MemoryItem.id.in_(bindparam("ids", expanding=True))
)
_SET_DOCUMENT = text(
    "UPDATE memory_items SET document = :document WHERE id = :row AND user_id = :user"
)
_NEXT_ID = text("SELECT coalesce(max(id), 0) + 1 FROM memory_items")
_RESERVE_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('memory_items', 'id')) FROM generate_series(1, :count)"
)
# SQLite: a batch of episodes, and their keyword entries, each as one statement over a
# JSON array of rows. A statement a row (what executemany does) lets go of Python's
# interpreter lock for every row, and under load each time may wait for it behind the
# server's other threads while holding the database's one write lock.
_INSERT_EPISODES = text(
    "INSERT INTO memory_items "
    "(id, user_id, kind, message_id, conversation_id, prev_id, speaker, text, document, at) "
    "SELECT json_extract(value, '$[0]'), :user, 'episode', json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), "
    "json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[7]') "
    "FROM json_each(:rows) ORDER BY key"
)
_FTS_INSERT = text(
    "INSERT INTO memory_fts(rowid, document, turn) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[6]'), "
    "json_extract(value, '$[4]') || ': ' || json_extract(value, '$[5]') "
    "FROM json_each(:rows) ORDER BY key"
)


class Indexing:
    """Reads and writes of indexing inside one transaction (Episodes.indexing's)."""

    def __init__(self, episodes: Episodes, session: Session | Connection) -> None:
        self.user_id = episodes.user_id
        self.is_sqlite = episodes.store.is_sqlite
        self.session = session

    def take_unindexed(self, *, limit: int) -> tuple[list[Said], int]:
        """This user's next `limit` messages memory has not yet indexed, oldest first,
        marked indexed in this transaction (which makes their episodes): those to make
        episodes of, and how many were taken (tool traffic and empty text are taken, and
        make none). The partial index on the unindexed keeps this as quick at 100,000
        messages as at 10."""
        rows = self.session.execute(
            _UNINDEXED, {"user": self.user_id, "limit": limit}
        ).all()  # fmt: skip
        if rows:
            self.session.execute(_MARK_INDEXED, {"ids": [row.id for row in rows]})
        said = [
            Said(
                message_id=row.id,
                conversation_id=row.conversation_id,
                speaker=row.name or ("psi" if row.role == "assistant" else "user"),
                text=row.content,
                at=row.created_at,
            )
            for row in rows
            if row.role in ("user", "assistant") and row.content != ""
        ]
        return said, len(rows)

    def tails(self, conversation_ids: Sequence[int], count: int) -> dict[int, list[Episode]]:
        """The newest `count` episodes of each conversation, oldest first, in one query."""
        if not conversation_ids:
            return {}
        query = _tails()
        params = {"user": self.user_id, "conversations": list(conversation_ids), "count": count}
        found: dict[int, list[Episode]] = {}
        for row in self.session.execute(query, params):
            found.setdefault(row.conversation_id, []).append(Episode(*row))
        return found

    def add_chains(
        self, chains: Sequence[tuple[Sequence[Said], Sequence[str], int | None]]
    ) -> list[list[int]]:
        """Consecutive episodes of each conversation, each linked to the one before it
        (the first to `after`), with their keyword documents; only inside
        Episodes.indexing. The ids are numbered first, so each episode is stored already
        linked: on SQLite the next row ids (that transaction holds the write lock), on
        PostgreSQL ids reserved from the table's sequence. Then one statement stores the
        episodes, and on SQLite one more their keyword entries (PostgreSQL's keyword
        column is computed from the document). Linking afterwards, a statement an
        episode, took 1.6 ms each on PostgreSQL at 20,000 episodes."""
        count = sum(len(said) for said, _, _ in chains)
        if count == 0:
            return [[] for _ in chains]
        fresh = iter(self._new_ids(count))
        ids = [[next(fresh) for _ in said] for said, _, _ in chains]
        rows = [
            (
                chain[i],
                item.message_id,
                item.conversation_id,
                after if i == 0 else chain[i - 1],
                item.speaker,
                item.text,
                document,
                item.at,
            )
            for (said, documents, after), chain in zip(chains, ids, strict=True)
            for i, (item, document) in enumerate(zip(said, documents, strict=True))
        ]
        if self.is_sqlite:
            stored_at = _stored_time(self.session)
            batch = {
                "rows": json.dumps([[*row[:-1], stored_at(row[-1])] for row in rows]),
                "user": self.user_id,
            }
            self.session.execute(_INSERT_EPISODES, batch)
            self.session.execute(_FTS_INSERT, batch)
        else:
            columns = ("id", "message_id", "conversation_id", "prev_id", "speaker", "text",
                       "document", "at")  # fmt: skip
            self.session.execute(
                insert(MemoryItem),
                [
                    {
                        **dict(zip(columns, row, strict=True)),
                        "user_id": self.user_id,
                        "kind": "episode",
                    }
                    for row in rows
                ],
            )
        return ids

    def _new_ids(self, count: int) -> list[int]:
        """`count` ids for new episodes, ascending."""
        if self.is_sqlite:
            first = int(self.session.execute(_NEXT_ID).scalar_one())
            return list(range(first, first + count))
        return sorted(self.session.execute(_RESERVE_IDS, {"count": count}).scalars())

    def set_documents(self, documents: dict[int, str]) -> None:
        """Replace keyword documents (a turn's window grows as later turns arrive)."""
        if not documents:
            return
        rows = [{"row": i, "document": d, "user": self.user_id} for i, d in documents.items()]
        self.session.execute(_SET_DOCUMENT, rows)
        if self.is_sqlite:
            self.session.execute(
                text("UPDATE memory_fts SET document = :document WHERE rowid = :row"), rows
            )


class VectorCache:
    """Each (database, user, embedder)'s vectors as one matrix, topped up with new rows.

    Each search looks up the newest id (an index lookup) and loads only rows past
    the cached ones. Deletions in this process clear the cache (psi.memory.control);
    rows deleted by another process are skipped at lookup, since recall fetches
    every hit by id, and go at the next restart.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[
            tuple[str, int, str], tuple[NDArray[np.int64], NDArray[np.float32]]
        ] = {}

    def matrix(
        self, episodes: Episodes, embedder: str
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        key = (episodes.store.url, episodes.user_id, embedder)
        with self._lock:
            ids, matrix = self._entries.get(
                key, (np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))
            )
            after = int(ids[-1]) if len(ids) else 0
            if episodes.newest_id(embedder=embedder) > after:
                new_ids, new_rows = episodes.vectors_after(embedder, after)
                if len(new_ids):
                    ids = np.concatenate([ids, new_ids])
                    matrix = new_rows if matrix.size == 0 else np.vstack([matrix, new_rows])
            self._entries[key] = (ids, matrix)
            return ids, matrix

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def dense_search(
    ids: NDArray[np.int64], matrix: NDArray[np.float32], query: NDArray[np.float32], *, limit: int
) -> list[tuple[int, float]]:
    """(id, cosine) of the `limit` rows nearest `query` (rows and query are unit vectors)."""
    if len(ids) == 0:
        return []
    scores = matrix @ query
    top = min(limit, len(ids))
    best = np.argpartition(-scores, top - 1)[:top]
    best = best[np.argsort(-scores[best])]
    return [(int(ids[i]), float(scores[i])) for i in best]
