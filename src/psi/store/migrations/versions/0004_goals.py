"""Goals with their milestones, tasks, habits, if-then plans and check-ins; the notices
psi reached out with.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from psi.store.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _owner() -> sa.Column[int]:
    return sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def _goal(*, nullable: bool) -> sa.Column[int]:
    return sa.Column(
        "goal_id", sa.Integer, sa.ForeignKey("goals.id", ondelete="CASCADE"), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("why", sa.Text),
        sa.Column("area", sa.String(40)),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("target_date", UTCDateTime(), nullable=False),
        sa.Column("unit", sa.String(40)),
        sa.Column("baseline", sa.Double),
        sa.Column("target", sa.Double),
        sa.Column("direction", sa.String(10)),
        sa.Column("aggregate", sa.String(10)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_goals_user_status", "goals", ["user_id", "status"])
    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        _goal(nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("due", UTCDateTime(), nullable=False),
        sa.Column("value", sa.Double),
        sa.Column("done_at", UTCDateTime()),
    )
    op.create_index("ix_milestones_goal", "milestones", ["goal_id", "due"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        _goal(nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("due", UTCDateTime()),
        sa.Column("rule", sa.Text),
        sa.Column("zone", sa.String(64)),
        sa.Column("starts_at", UTCDateTime()),
        sa.Column("estimate_minutes", sa.Integer),
        sa.Column("done_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_tasks_user_due", "tasks", ["user_id", "due"])
    op.create_table(
        "habits",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        _goal(nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("per_period", sa.Integer),
        sa.Column("period", sa.String(10)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_habits_user", "habits", ["user_id", "active"])
    op.create_table(
        "if_then_plans",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        _goal(nullable=False),
        sa.Column("situation", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "check_ins",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("at", UTCDateTime(), nullable=False),
        _goal(nullable=True),
        sa.Column("habit_id", sa.Integer, sa.ForeignKey("habits.id", ondelete="CASCADE")),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id", ondelete="CASCADE")),
        sa.Column("occurrence", UTCDateTime()),
        sa.Column("value", sa.Double),
        sa.Column("note", sa.Text),
        sa.Column("energy", sa.Integer),
        sa.Column("mood", sa.Integer),
        sa.Column(
            "source_message_id",
            sa.Integer,
            sa.ForeignKey("messages.id", ondelete="SET NULL"),
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_check_ins_goal", "check_ins", ["goal_id", "at"])
    op.create_index("ix_check_ins_habit", "check_ins", ["habit_id", "at"])
    op.create_index("ix_check_ins_task", "check_ins", ["task_id", "occurrence"])
    op.create_index("ix_check_ins_user_at", "check_ins", ["user_id", "at"])
    op.create_index("ix_check_ins_user_goal", "check_ins", ["user_id", "goal_id", "at", "value"])
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("shown_at", UTCDateTime()),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.UniqueConstraint("user_id", "key", name="uq_notices_user_key"),
    )
    op.create_index("ix_notices_user_shown", "notices", ["user_id", "shown_at"])


def downgrade() -> None:
    for table in ("notices", "check_ins", "if_then_plans", "habits", "tasks", "milestones"):
        op.drop_table(table)
    op.drop_table("goals")
