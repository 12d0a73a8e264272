"""On PostgreSQL, memory's keyword and vector indexes live in the table itself.

SQLite has FTS5 (0002) and psi's own vector matrix; PostgreSQL gets, on
memory_items:
  - `document_tsv` and `turn_tsv`: generated tsvector columns (English
    stemming) under GIN indexes, for keyword recall;
  - `embedding`: a pgvector column, searched by inner product in SQL.

`CREATE EXTENSION vector` needs a role allowed to create it (a superuser, or
the database owner once an administrator has made it trusted): when it fails
the error says so. Nothing changes on SQLite.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute(
        "ALTER TABLE memory_items "
        "ADD COLUMN embedding vector, "
        "ADD COLUMN document_tsv tsvector GENERATED ALWAYS AS "
        "(to_tsvector('english', document)) STORED, "
        "ADD COLUMN turn_tsv tsvector GENERATED ALWAYS AS "
        "(to_tsvector('english', speaker || ': ' || text)) STORED"
    )
    op.execute("CREATE INDEX ix_memory_items_document_tsv ON memory_items USING gin (document_tsv)")
    op.execute("CREATE INDEX ix_memory_items_turn_tsv ON memory_items USING gin (turn_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_memory_items_turn_tsv")
    op.execute("DROP INDEX ix_memory_items_document_tsv")
    op.execute(
        "ALTER TABLE memory_items DROP COLUMN turn_tsv, DROP COLUMN document_tsv, "
        "DROP COLUMN embedding"
    )
