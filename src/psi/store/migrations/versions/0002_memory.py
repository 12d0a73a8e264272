"""Memory items (episodes) with a keyword index (SQLite FTS5) and embedding vectors.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from psi.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memory_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(20), nullable=False, server_default="episode"),
        sa.Column(
            "message_id",
            sa.Integer,
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            unique=True,
        ),
        sa.Column(
            "conversation_id",
            sa.Integer,
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        ),
        # The episode said just before this one in its conversation: recall scores
        # neighbouring turns together.
        sa.Column("prev_id", sa.Integer, sa.ForeignKey("memory_items.id", ondelete="SET NULL")),
        sa.Column("speaker", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("embedder", sa.String(200)),
        sa.Column("vector", sa.LargeBinary),
    )
    op.create_index("ix_memory_items_user_at", "memory_items", ["user_id", "at"])
    op.create_index("ix_memory_items_conversation_id", "memory_items", ["conversation_id"])
    op.create_index("ix_memory_items_prev_id", "memory_items", ["prev_id"])
    op.create_index("ix_memory_items_user_speaker", "memory_items", ["user_id", "speaker"])
    # Finds the newest vector of an embedder without a scan (the vector cache's check).
    op.create_index("ix_memory_items_user_embedder", "memory_items", ["user_id", "embedder"])
    if op.get_bind().dialect.name == "sqlite":
        # A plain (not external-content) FTS5 table keyed by memory_items.id: the
        # memory code writes and deletes its rows itself, so forgetting is explicit.
        # `document` is a turn with its neighbours, `turn` the turn alone.
        op.execute(
            "CREATE VIRTUAL TABLE memory_fts USING fts5(document, turn, "
            "tokenize='porter unicode61')"
        )
        # Rows that go by cascade (a conversation or message deleted) leave no text behind.
        op.execute(
            "CREATE TRIGGER memory_items_forget AFTER DELETE ON memory_items "
            "BEGIN DELETE FROM memory_fts WHERE rowid = old.id; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER memory_items_forget")
        op.execute("DROP TABLE memory_fts")
    op.drop_table("memory_items")
