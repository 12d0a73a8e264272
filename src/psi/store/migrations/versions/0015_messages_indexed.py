"""Messages say whether memory has indexed them, behind a partial index of those it has not.

The indexer found its work by joining every one of the user's messages to the episodes
(a scan that grew with the history, inside the write transaction); it now reads the few
the partial index holds. Messages memory has an episode of, and those it never makes one
of (tool traffic, empty text), start as indexed.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on SQLite too: a batch copy would drop the old table, and with it
    # (foreign keys on) every episode of its messages.
    op.add_column(
        "messages", sa.Column("indexed", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.execute(
        "UPDATE messages SET indexed = TRUE WHERE role NOT IN ('user', 'assistant') "
        "OR content = '' OR id IN (SELECT message_id FROM memory_items "
        "WHERE message_id IS NOT NULL)"
    )
    op.create_index(
        "ix_messages_unindexed",
        "messages",
        ["user_id", "id"],
        sqlite_where=sa.text("NOT indexed"),
        postgresql_where=sa.text("NOT indexed"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unindexed", table_name="messages")
    op.drop_column("messages", "indexed")  # SQLite 3.35 or later
