"""Commitments: the busy time read from the user's calendar files.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from psi.store.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commitments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("uid", sa.String(500), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("rule", sa.Text),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("all_day", sa.Boolean, nullable=False),
        sa.Column("exdates", sa.JSON, nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "uid", name="uq_commitments_user_uid"),
    )
    op.create_index("ix_commitments_user_starts", "commitments", ["user_id", "starts_at"])


def downgrade() -> None:
    op.drop_table("commitments")
