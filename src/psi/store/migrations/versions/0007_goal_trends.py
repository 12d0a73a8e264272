"""Goal trends: each measured goal's fitted line, kept beside its check-ins.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "goal_trends",
        sa.Column(
            "goal_id",
            sa.Integer,
            sa.ForeignKey("goals.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("current", sa.Double),
        sa.Column("last_ts", sa.Double),
        sa.Column("slope", sa.Double),
        sa.Column("slope_low", sa.Double),
        sa.Column("slope_high", sa.Double),
        sa.Column("intercept", sa.Double),
        sa.Column("origin_ts", sa.Double),
    )
    op.create_index("ix_goal_trends_user_id", "goal_trends", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_goal_trends_user_id", table_name="goal_trends")
    op.drop_table("goal_trends")
