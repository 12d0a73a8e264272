"""Documents: the files a user gave psi to read, their passages, and the indexes on them.

  - `doc_roots`: the files and folders given (`psi docs add`), and those taken out;
  - `documents`: one row per file read, with its content hash for incremental sync;
  - `doc_chunks`: its passages with heading and page, for citations.

Keyword search is FTS5 (`doc_fts`, rows deleted by trigger) on SQLite and a generated
tsvector under GIN on PostgreSQL; vectors are a BLOB on SQLite and a pgvector column on
PostgreSQL, as for memory (0002, 0012).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from psi.store.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "doc_roots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("excluded", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "path", name="uq_doc_roots_user_path"),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("root_id", sa.Integer, sa.ForeignKey("doc_roots.id", ondelete="CASCADE")),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("links", sa.JSON, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("pages", sa.Integer),
        sa.Column("chunks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("indexed_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "path", name="uq_documents_user_path"),
    )
    op.create_index("ix_documents_root_id", "documents", ["root_id"])
    op.create_index("ix_documents_user_sha256", "documents", ["user_id", "sha256"])
    op.create_table(
        "doc_chunks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "document_id",
            sa.Integer,
            sa.ForeignKey("documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("ord", sa.Integer, nullable=False),
        sa.Column("heading", sa.Text, nullable=False),
        sa.Column("page", sa.Integer),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("keywords", sa.Text, nullable=False),
        sa.Column("embedder", sa.String(200)),
        sa.Column("vector", sa.LargeBinary),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_doc_chunks_document_id", "doc_chunks", ["document_id"])
    op.create_index("ix_doc_chunks_user_embedder", "doc_chunks", ["user_id", "embedder"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE doc_fts USING fts5(keywords, tokenize='porter unicode61')")
        # Passages that go with their document (a cascade) leave no text behind.
        op.execute(
            "CREATE TRIGGER doc_chunks_forget AFTER DELETE ON doc_chunks "
            "BEGIN DELETE FROM doc_fts WHERE rowid = old.id; END"
        )
    else:
        op.execute(
            "ALTER TABLE doc_chunks ADD COLUMN embedding vector, "
            "ADD COLUMN keywords_tsv tsvector GENERATED ALWAYS AS "
            "(to_tsvector('english', keywords)) STORED"
        )
        op.execute("CREATE INDEX ix_doc_chunks_keywords_tsv ON doc_chunks USING gin (keywords_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER doc_chunks_forget")
        op.execute("DROP TABLE doc_fts")
    op.drop_table("doc_chunks")
    op.drop_table("documents")
    op.drop_table("doc_roots")
