"""Egress log: every request that left the machine.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from psi.store.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "egress_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("host", sa.String(300), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("tokens_in", sa.Integer),
        sa.Column("tokens_out", sa.Integer),
        sa.Column("cost_usd", sa.Double),
        sa.Column("redactions", sa.JSON, nullable=False),
        sa.Column("payload_bytes", sa.Integer, nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text),
    )
    op.create_index("ix_egress_log_user_at", "egress_log", ["user_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_egress_log_user_at", table_name="egress_log")
    op.drop_table("egress_log")
