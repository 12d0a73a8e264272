"""The document index of one user: documents, their passages, keyword and vector search.

Every query filters by `user_id`. As for memory (psi.memory.episodes), the two
databases differ only here: on SQLite, keyword search is FTS5 (`doc_fts`, BM25, Porter
stemming) and vectors are BLOBs searched as a matrix cached per process, reloaded when
the passages' count or highest id moves (ids are never reused); on PostgreSQL, a
generated tsvector under GIN (BM25 in SQL) and a pgvector column (psi.store.pgsearch).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, bindparam, delete, func, select, text, update

from psi.knowledge.chunking import Chunk
from psi.memory.episodes import dense_search, fts_query, topical_words
from psi.store.db import Store
from psi.store.models import DocChunk, DocRoot, Document
from psi.store.pgsearch import PgSearch

# One of the user's documents, if any (built once: every reply asks).
_ANY = select(Document.id).where(Document.user_id == bindparam("user")).limit(1)


@dataclass(frozen=True)
class Passage:
    """A passage found for a query, with where it is: what a citation shows."""

    id: int
    document_id: int
    path: str
    title: str
    heading: str
    page: int | None
    text: str


@dataclass(frozen=True)
class Stored:
    """What the index knows of a file, enough to tell whether it changed."""

    id: int
    path: str
    size: int
    mtime_ns: int
    sha256: str
    root_id: int | None


@dataclass(frozen=True)
class Listed:
    id: int
    path: str
    kind: str
    title: str
    tags: list[str]
    pages: int | None
    chunks: int
    size: int
    indexed_at: datetime


_FTS_TOP = text(
    "SELECT f.rowid, bm25(doc_fts) AS score FROM doc_fts AS f "
    "JOIN doc_chunks AS c ON c.id = f.rowid "
    "WHERE doc_fts MATCH :match AND c.user_id = :user ORDER BY score LIMIT :limit"
)
_PG = PgSearch("doc_chunks")  # the PostgreSQL side of search


class DocIndex:
    def __init__(self, store: Store, *, user_id: int) -> None:
        self.store = store
        self.user_id = user_id

    # -- roots ---------------------------------------------------------------------------

    def roots(self) -> list[tuple[int, str, bool]]:
        """(id, path, excluded) of every root, in the order given."""
        query = select(DocRoot.id, DocRoot.path, DocRoot.excluded).where(
            DocRoot.user_id == self.user_id
        )
        with self.store.session() as session:
            return [(int(r[0]), str(r[1]), bool(r[2])) for r in session.execute(query)]

    def add_root(self, path: str, *, at: datetime, excluded: bool = False) -> int:
        with self.store.session() as session:
            row = session.scalar(
                select(DocRoot).where(DocRoot.user_id == self.user_id, DocRoot.path == path)
            )
            if row is None:
                row = DocRoot(user_id=self.user_id, path=path, excluded=excluded, added_at=at)
                session.add(row)
            row.excluded = excluded
            session.flush()
            return int(row.id)

    def drop_root(self, root_id: int) -> None:
        with self.store.session() as session:
            session.execute(
                delete(DocRoot).where(DocRoot.id == root_id, DocRoot.user_id == self.user_id)
            )

    # -- documents -----------------------------------------------------------------------

    def stored(self) -> dict[str, Stored]:
        query = select(
            Document.id,
            Document.path,
            Document.size,
            Document.mtime_ns,
            Document.sha256,
            Document.root_id,
        ).where(Document.user_id == self.user_id)
        with self.store.session() as session:
            return {str(r[1]): Stored(*r) for r in session.execute(query)}

    def listed(self, *, limit: int | None = None, offset: int = 0) -> list[Listed]:
        """This user's documents by path; a page of them with `limit` and `offset`."""
        query = (
            select(
                Document.id,
                Document.path,
                Document.kind,
                Document.title,
                Document.tags,
                Document.pages,
                Document.chunks,
                Document.size,
                Document.indexed_at,
            )
            .where(Document.user_id == self.user_id)
            .order_by(Document.path, Document.id)
            .limit(limit)
            .offset(offset)
        )
        with self.store.session() as session:
            return [Listed(*row) for row in session.execute(query)]

    def put(
        self,
        *,
        path: str,
        root_id: int | None,
        fields: dict[str, Any],
        chunks: Sequence[Chunk],
        at: datetime,
    ) -> tuple[int, list[int]]:
        """Store a document read afresh (replacing its passages if it was known) with its
        passages, in one transaction; (document id, passage ids)."""
        with self.store.session() as session:
            row = session.scalar(
                select(Document).where(Document.user_id == self.user_id, Document.path == path)
            )
            if row is None:
                row = Document(user_id=self.user_id, path=path)
                session.add(row)
            else:
                session.execute(delete(DocChunk).where(DocChunk.document_id == row.id))
            for key, value in fields.items():
                setattr(row, key, value)
            row.root_id, row.chunks, row.indexed_at = root_id, len(chunks), at
            session.flush()
            title = str(fields["title"])
            rows = [
                DocChunk(
                    document_id=row.id,
                    user_id=self.user_id,
                    ord=number,
                    heading=chunk.heading,
                    page=chunk.page,
                    text=chunk.text,
                    keywords=keyword_text(title, chunk),
                )
                for number, chunk in enumerate(chunks)
            ]
            session.add_all(rows)
            session.flush()
            ids = [int(r.id) for r in rows]
            if self.store.is_sqlite and rows:
                session.execute(
                    text("INSERT INTO doc_fts(rowid, keywords) VALUES (:id, :keywords)"),
                    [{"id": r.id, "keywords": r.keywords} for r in rows],
                )
            return int(row.id), ids

    def touch(self, document_id: int, *, size: int, mtime_ns: int) -> None:
        """The file was touched, not changed: remember its new time so the next sync
        passes it without reading."""
        with self.store.session() as session:
            session.execute(
                update(Document)
                .where(Document.id == document_id, Document.user_id == self.user_id)
                .values(size=size, mtime_ns=mtime_ns)
            )

    def move(self, document_id: int, *, path: str, root_id: int | None, mtime_ns: int) -> None:
        """A file moved or renamed: same content, new path; its passages stay as they are."""
        with self.store.session() as session:
            session.execute(
                update(Document)
                .where(Document.id == document_id, Document.user_id == self.user_id)
                .values(path=path, root_id=root_id, mtime_ns=mtime_ns)
            )

    def remove(self, document_ids: Sequence[int]) -> int:
        if not document_ids:
            return 0
        with self.store.session() as session:
            result = session.execute(
                delete(Document).where(
                    Document.id.in_(list(document_ids)), Document.user_id == self.user_id
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def any(self, *, connection: Connection | None = None) -> bool:
        """Whether the user has a document (one index lookup, where a count reads them all),
        read in `connection`'s transaction when given."""
        if connection is None:
            with self.store.transaction() as own:
                return self.any(connection=own)
        return connection.scalar(_ANY, {"user": self.user_id}) is not None

    def count(self) -> int:
        query = select(func.count(Document.id)).where(Document.user_id == self.user_id)
        with self.store.transaction() as connection:
            return int(connection.scalar(query) or 0)

    # -- passages ------------------------------------------------------------------------

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        if not ids:
            return {}
        query = (
            select(
                DocChunk.id,
                DocChunk.document_id,
                Document.path,
                Document.title,
                DocChunk.heading,
                DocChunk.page,
                DocChunk.text,
            )
            .join(Document, Document.id == DocChunk.document_id)
            .where(DocChunk.id.in_(list(ids)), DocChunk.user_id == self.user_id)
        )
        with self.store.session() as session:
            return {int(r[0]): Passage(*r) for r in session.execute(query)}

    def passage(self, passage_id: int) -> Passage:
        """One of this user's passages; NotFound for anyone else's."""
        from psi.errors import NotFound

        found = self.passages([passage_id]).get(passage_id)
        if found is None:
            raise NotFound(
                f"No passage {passage_id} in your documents.",
                hint="It may have changed at a sync; ask again to get fresh sources.",
            )
        return found

    def every_passage(self) -> list[Passage]:
        """All of this user's passages, in the order they were stored."""
        query = select(DocChunk.id).where(DocChunk.user_id == self.user_id)
        with self.store.session() as session:
            ids = [int(i) for i in session.scalars(query)]
        found = self.passages(ids)
        return [found[i] for i in sorted(found)]

    def keyword_search(self, query: str, *, limit: int) -> list[tuple[int, float]]:
        """(passage id, BM25; higher is better): FTS5's on SQLite, psi.store.pgsearch's on
        PostgreSQL."""
        if not self.store.is_sqlite:
            with self.store.session() as session:
                return _PG.keywords(session, topical_words(query), user_id=self.user_id,
                                    column="keywords_tsv", limit=limit)  # fmt: skip
        match = fts_query(query)
        if match is None:
            return []
        with self.store.session() as session:
            rows = session.execute(
                _FTS_TOP, {"match": match, "user": self.user_id, "limit": limit}
            ).all()
        # FTS5's bm25() is negative, more negative meaning a better match.
        return [(int(r[0]), -float(r[1])) for r in rows]

    def without_vectors(self, embedder: str, *, limit: int) -> list[tuple[int, str]]:
        query = (
            select(DocChunk.id, DocChunk.keywords)
            .where(
                DocChunk.user_id == self.user_id,
                (DocChunk.embedder.is_(None)) | (DocChunk.embedder != embedder),
            )
            .order_by(DocChunk.id)
            .limit(limit)
        )
        with self.store.session() as session:
            return [(int(r[0]), str(r[1])) for r in session.execute(query)]

    def count_without_vectors(self, embedder: str) -> int:
        query = select(func.count(DocChunk.id)).where(
            DocChunk.user_id == self.user_id,
            (DocChunk.embedder.is_(None)) | (DocChunk.embedder != embedder),
        )
        with self.store.session() as session:
            return int(session.scalar(query) or 0)

    def set_vectors(self, ids: Sequence[int], vectors: NDArray[np.float32], embedder: str) -> None:
        with self.store.session() as session:
            if self.store.is_sqlite:
                session.execute(
                    update(DocChunk)
                    .where(DocChunk.user_id == self.user_id)
                    .execution_options(synchronize_session=None),
                    [
                        {"id": i, "vector": v.astype(np.float32).tobytes(), "embedder": embedder}
                        for i, v in zip(ids, vectors, strict=True)
                    ],
                )
                return
            _PG.set_embeddings(session, dict(zip(ids, vectors, strict=True)),
                               user_id=self.user_id, embedder=embedder)  # fmt: skip

    def nearest(
        self, embedder: str, query: NDArray[np.float32], *, limit: int
    ) -> list[tuple[int, float]]:
        """(passage id, cosine) nearest `query`: pgvector on PostgreSQL, the cached matrix
        on SQLite."""
        if self.store.is_sqlite:
            ids, matrix = _MATRICES.matrix(self, embedder)
            return dense_search(ids, matrix, query, limit=limit)
        with self.store.session() as session:
            return _PG.nearest(session, query, user_id=self.user_id, embedder=embedder, limit=limit)

    def vector_state(self, embedder: str) -> tuple[int, int]:
        """(count, highest id) of this user's passages with vectors from `embedder`."""
        query = select(func.count(DocChunk.id), func.max(DocChunk.id)).where(
            DocChunk.user_id == self.user_id, DocChunk.embedder == embedder
        )
        with self.store.session() as session:
            row = session.execute(query).one()
        return int(row[0] or 0), int(row[1] or 0)

    def vectors(self, embedder: str) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        query = (
            select(DocChunk.id, DocChunk.vector)
            .where(
                DocChunk.user_id == self.user_id,
                DocChunk.embedder == embedder,
                DocChunk.vector.is_not(None),
            )
            .order_by(DocChunk.id)
        )
        with self.store.session() as session:
            rows = session.execute(query).all()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, np.vstack([np.frombuffer(r[1] or b"", dtype=np.float32) for r in rows])

    def purge(self) -> None:
        """Make removals final (FTS5 segments, the WAL; PostgreSQL's dead rows)."""
        if not self.store.is_sqlite:
            with self.store.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM doc_chunks"
                )
            return
        with self.store.session() as session:
            session.execute(text("INSERT INTO doc_fts(doc_fts) VALUES ('optimize')"))


def keyword_text(title: str, chunk: Chunk) -> str:
    """What the keyword index and the embedder see of a passage: where it is, then what it
    says (a question often names the note or section, not words of the passage)."""
    where = " — ".join(part for part in (title, chunk.heading) if part)
    return f"{where}\n{chunk.text}" if where else chunk.text


class _Matrices:
    """Each (database, user, embedder)'s passage vectors as one matrix, reloaded whole
    when the count or the highest id changes (a sync replaced or removed passages)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[
            tuple[str, int, str],
            tuple[tuple[int, int], NDArray[np.int64], NDArray[np.float32]],
        ] = {}

    def matrix(
        self, index: DocIndex, embedder: str
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        key = (index.store.url, index.user_id, embedder)
        state = index.vector_state(embedder)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != state:
                ids, matrix = index.vectors(embedder)
                entry = (state, ids, matrix)
                self._entries[key] = entry
            return entry[1], entry[2]


_MATRICES = _Matrices()
