"""When the outreach job last ran for each user (`scheduler_state`).

APScheduler keeps its own jobs table (`apscheduler_jobs`) in the same database and
creates it itself; this migration does not touch it.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from psi.store.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("job", sa.String(60), nullable=False),
        sa.Column("last_run", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "job", name="uq_scheduler_state_user_job"),
    )


def downgrade() -> None:
    op.drop_table("scheduler_state")
