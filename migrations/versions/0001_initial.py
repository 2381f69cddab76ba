"""Initial records schema: cases, decisions, tasks, recommendations, chairs and notices.

Revision ID: 0001
Revises:
Create Date: 2025-06-01

Types are spelled out here rather than imported from activities/db.py, so this revision keeps
creating the same tables after the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("process", sa.String(), nullable=False),
        sa.Column("area", sa.String(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("policy", sa.String(), nullable=False),
        sa.Column("opened_at", _UTC, nullable=False),
        sa.Column("opened_by", sa.String(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("next_deadline", sa.Date(), nullable=True),
        sa.Column("threshold_met", sa.Boolean(), nullable=True),
        sa.Column("review_carried_out", sa.Boolean(), nullable=True),
        sa.Column("recommendations", sa.Integer(), nullable=True),
        sa.Column("closed_at", _UTC, nullable=True),
        sa.Column("closed_reason", sa.String(), nullable=True),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_cases"),
        sa.UniqueConstraint("process", "area", "reference", name="uq_cases_process_area_reference"),
    )
    op.create_index("ix_cases_area_received_on", "cases", ["area", "received_on"])
    op.create_index("ix_cases_next_deadline", "cases", ["next_deadline"])

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("decided_at", _UTC, nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.UniqueConstraint("idempotency_key", name="uq_decisions_idempotency_key"),
    )
    op.create_index("ix_decisions_case_id", "decisions", ["case_id"])

    op.create_table(
        "tasks",
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("agency", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_case_id", "tasks", ["case_id"])

    op.create_table(
        "recommendations",
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("to_body", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "idx", name="pk_recommendations"),
    )

    op.create_table(
        "chair_allocations",
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("chair_id", sa.String(), nullable=False),
        sa.Column("allocated_at", _UTC, nullable=False),
        sa.Column("allocated_by", sa.String(), nullable=False),
        sa.Column("released_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("case_id", name="pk_chair_allocations"),
    )
    op.create_index(
        "ix_chair_allocations_chair_id_released_at",
        "chair_allocations",
        ["chair_id", "released_at"],
    )

    op.create_table(
        "chair_locks",
        sa.Column("chair_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("chair_id", name="pk_chair_locks"),
    )

    op.create_table(
        "notices",
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("template", sa.String(), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("content_sha256", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("sent_at", _UTC, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_notices_status"),
        sa.PrimaryKeyConstraint("idempotency_key", name="pk_notices"),
        sa.UniqueConstraint("message_id", name="uq_notices_message_id"),
    )
    op.create_index("ix_notices_case_id", "notices", ["case_id"])


def downgrade() -> None:
    for table in (
        "notices",
        "chair_locks",
        "chair_allocations",
        "recommendations",
        "tasks",
        "decisions",
        "cases",
    ):
        op.drop_table(table)
