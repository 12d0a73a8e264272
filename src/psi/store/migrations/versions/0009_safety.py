"""Safety: the audit log of verdicts, tool calls and approvals, and the actions held for
the user's approval.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from psi.store.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _user() -> sa.Column[int]:
    return sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("channel", sa.String(20)),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("score", sa.Double),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("conversation_id", sa.Integer),
        sa.Column("approval_id", sa.Integer),
    )
    op.create_index("ix_audit_log_user_at", "audit_log", ["user_id", "at"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("tool", sa.String(100), nullable=False),
        sa.Column("arguments", sa.JSON, nullable=False),
        sa.Column("risk", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("conversation_id", sa.Integer),
        sa.Column("result", sa.Text),
    )
    op.create_index("ix_approvals_user_status", "approvals", ["user_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_approvals_user_status", table_name="approvals")
    op.drop_table("approvals")
    op.drop_index("ix_audit_log_user_at", table_name="audit_log")
    op.drop_table("audit_log")
