"""Accounts for the web console, and revocations of partner answer links.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Issue 6 ("Sign-in with accounts from the directory"). `users` holds each console account with
its argon2id password hash (never the password); `answer_link_revocations` only grows, so the
latest revocation of a task's answer links wins and earlier ones stay on record. Types are
spelled out here rather than imported from activities/accounts.py, so this revision keeps
creating the same tables after the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("areas", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_users"),
        sa.CheckConstraint(
            "role IN ('coordinator', 'auditor', 'administrator')", name="ck_users_role"
        ),
    )
    op.create_table(
        "answer_link_revocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("revoked_at", _UTC, nullable=False),
        sa.Column("revoked_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_answer_link_revocations"),
    )
    op.create_index("ix_answer_link_revocations_task_id", "answer_link_revocations", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_answer_link_revocations_task_id", table_name="answer_link_revocations")
    op.drop_table("answer_link_revocations")
    op.drop_table("users")
