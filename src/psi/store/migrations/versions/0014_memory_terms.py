"""How many episodes hold each keyword (SQLite): an fts5vocab table over memory_fts.

Keyword search leaves out a word most episodes hold ("hi", "ok" in a long memory): its
BM25 weight is nil, yet FTS5 would score every row that holds it. The counts come from
FTS5's own index, read per word.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # One row per (term, column): `doc` is how many rows hold the term there.
        op.execute("CREATE VIRTUAL TABLE memory_fts_terms USING fts5vocab(memory_fts, col)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE memory_fts_terms")
