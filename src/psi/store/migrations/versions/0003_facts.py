"""Semantic facts with validity and supersession, and the user's edited profile.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from psi.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("subject", sa.String(200), nullable=False),
        # The slot a fact fills ("home_city"): a newer fact in the same slot supersedes it.
        sa.Column("key", sa.String(100)),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("event_at", UTCDateTime()),
        sa.Column("confidence", sa.Double, nullable=False),
        sa.Column("source_message_ids", sa.JSON, nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_to", UTCDateTime()),
        sa.Column("superseded_by", sa.Integer, sa.ForeignKey("facts.id", ondelete="SET NULL")),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_facts_user_current", "facts", ["user_id", "valid_to"])
    op.create_index("ix_facts_user_slot", "facts", ["user_id", "subject", "key"])
    op.create_index("ix_facts_superseded_by", "facts", ["superseded_by"])
    op.create_table(
        "profiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("profiles")
    op.drop_table("facts")
