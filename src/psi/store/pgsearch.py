"""Search on PostgreSQL over a user-scoped table: BM25 on a tsvector column, pgvector nearest.

    search = PgSearch("memory_items")
    search.keywords(session, words, user_id=7, column="document_tsv", limit=50, after=0)
    search.nearest(session, vector, user_id=7, embedder="minilm-l6-v2", limit=50)
    search.set_embeddings(session, {12: vector, 13: vector}, user_id=7, embedder="...")

Memory's episodes (psi.memory.episodes) and documents' passages (psi.knowledge.index)
keep their keyword and vector indexes in their own tables on PostgreSQL (migrations 0012
and 0013): a table with `id`, `user_id`, `embedder`, an `embedding vector` column and
generated tsvector columns. SQLite's side (FTS5, the cached matrix) stays in each
repository.

BM25 (k1 = 1.2, b = 0.75, as FTS5's bm25()) is computed in SQL, since PostgreSQL's own
`ts_rank_cd` has no inverse document frequency: a word every row holds would count as
much as a name said once (LoCoMo recall@10 0.739 with it, against 0.810 for FTS5;
0.807 with this). Document frequencies come from the GIN index, one count per query
word, computed once per query (MATERIALIZED: inlined, PostgreSQL counted them again for
every matching row, 40 times slower); term frequencies from the matching rows'
positions; a row's length is its number of distinct lexemes, against the average of the
matching rows. With a `common_floor`, once the user has that many rows a word more than
half of them hold is left out (it weighs little and would match nearly every row), as
memory's FTS5 search does; memory also remembers such words for a while and passes the
user's row count it knows (`everyone`), so neither is counted again every reply. Vector
search is exact within the user's rows, by inner product (vectors are unit length, so it
is the cosine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import text

_BM25 = """
WITH words AS (
    SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', :words))
), everyone AS MATERIALIZED (
    SELECT coalesce(
        CAST(:everyone AS float), (SELECT count(*)::float FROM {table} WHERE user_id = :user)
    ) AS n
), df AS MATERIALIZED (
    SELECT w.lexeme, (
        SELECT count(*) FROM {table} AS m
        WHERE m.user_id = :user AND m.{column} @@ quote_literal(w.lexeme)::tsquery
    )::float AS df
    FROM words AS w
), telling AS MATERIALIZED (
    SELECT df.lexeme FROM df, everyone WHERE df.df * 2 <= everyone.n OR everyone.n < :floor
), hits AS (
    SELECT m.id, length(m.{column})::float AS dl, t.lexeme,
           array_length(t.positions, 1)::float AS tf
    FROM {table} AS m, unnest(m.{column}) AS t
    WHERE m.user_id = :user AND m.id > :after
      AND m.{column} @@ (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery FROM telling)
      AND t.lexeme IN (SELECT lexeme FROM telling)
), average AS (
    SELECT avg(dl) AS avgdl FROM (SELECT DISTINCT id, dl FROM hits) AS rows
)
SELECT h.id, sum(
    ln(1 + (everyone.n - df.df + 0.5) / (df.df + 0.5))
    * h.tf * 2.2 / (h.tf + 1.2 * (0.25 + 0.75 * h.dl / greatest(average.avgdl, 1)))
) AS score
FROM hits AS h JOIN df USING (lexeme), everyone, average
GROUP BY h.id ORDER BY score DESC, h.id LIMIT :limit
"""

# How many of the user's rows hold each word (its lexemes, as the BM25 query reads it).
_WORD_COUNTS = """
SELECT w.word, (
    SELECT count(*) FROM {table} AS m
    WHERE m.user_id = :user AND m.{column} @@ plainto_tsquery('english', w.word)
) AS n
FROM unnest(CAST(:words AS text[])) AS w(word)
"""

# No word is too common for a table without a floor.
MAX_FLOOR = 2**62

_NEAREST = """
SELECT id, -(embedding <#> CAST(:query AS vector)) AS score FROM {table}
WHERE user_id = :user AND embedder = :embedder AND embedding IS NOT NULL
ORDER BY embedding <#> CAST(:query AS vector), id LIMIT :limit
"""

_SET = """
UPDATE {table} SET embedding = CAST(:vector AS vector), embedder = :embedder
WHERE id = :id AND user_id = :user
"""


def pg_vector(vector: NDArray[np.float32]) -> str:
    """pgvector's text form, `[0.1,0.2,...]`, exact for float32."""
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


class PgSearch:
    def __init__(self, table: str, *, common_floor: int | None = None) -> None:
        """`common_floor`: once the user has that many rows, a word more than half of
        them hold is left out of keyword search (psi.memory.episodes.COMMON_FLOOR)."""
        self.table = table
        self.common_floor = common_floor
        self._nearest = text(_NEAREST.format(table=table))
        self._set = text(_SET.format(table=table))
        self._bm25: dict[str, Any] = {}

    def keywords(
        self,
        session: Any,
        words: Sequence[str],
        *,
        user_id: int,
        column: str,
        limit: int,
        after: int = 0,
        everyone: int | None = None,
    ) -> list[tuple[int, float]]:
        """(id, BM25; higher is better) of the user's best `limit` rows above `after`
        matching any of `words` in the tsvector `column`. `everyone`: how many rows the
        user has, when it is known (else counted: a scan of the user's rows)."""
        if not words:
            return []
        if column not in self._bm25:
            self._bm25[column] = text(_BM25.format(table=self.table, column=column))
        params = {
            "everyone": everyone,
            "words": " ".join(words),
            "floor": self.common_floor or MAX_FLOOR,
            "user": user_id,
            "limit": limit,
            "after": after,
        }
        rows = session.execute(self._bm25[column], params).all()
        return [(int(row[0]), float(row[1])) for row in rows]

    def word_counts(
        self, session: Any, words: Sequence[str], *, user_id: int, column: str
    ) -> dict[str, int]:
        """How many of the user's rows hold each of `words` in the tsvector `column`: an
        index lookup, whose time grows with the count (for a common word, the rows)."""
        key = f"counts:{column}"
        if key not in self._bm25:
            self._bm25[key] = text(_WORD_COUNTS.format(table=self.table, column=column))
        rows = session.execute(self._bm25[key], {"words": list(words), "user": user_id})
        return {str(word): int(count) for word, count in rows}

    def nearest(
        self,
        session: Any,
        query: NDArray[np.float32],
        *,
        user_id: int,
        embedder: str,
        limit: int,
    ) -> list[tuple[int, float]]:
        """(id, cosine) of the user's `limit` rows nearest `query` among `embedder`'s."""
        params = {"query": pg_vector(query), "user": user_id, "embedder": embedder,
                  "limit": limit}  # fmt: skip
        rows = session.execute(self._nearest, params).all()
        return [(int(row[0]), float(row[1])) for row in rows]

    def set_embeddings(
        self,
        session: Any,
        vectors: Mapping[int, NDArray[np.float32]],
        *,
        user_id: int,
        embedder: str,
    ) -> None:
        """Store each row's vector in the pgvector column (only the user's own rows)."""
        if vectors:
            session.execute(
                self._set,
                [
                    {"id": i, "vector": pg_vector(v), "embedder": embedder, "user": user_id}
                    for i, v in vectors.items()
                ],
            )
