"""Console sessions that can be ended everywhere at once, and sign-in lockout.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Issue 13 ("Sessions"). `users.session_generation` is carried in every signed session cookie and
checked on every request; signing out, a password reset and disabling an account advance it, so
every session of that account (a copied cookie included) stops at once. `sign_in_failures`
counts failed sign-ins per sign-in name (whether or not an account has it, so a lockout tells
nothing about which names exist) and holds the lockout's end.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "sign_in_failures",
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", _UTC, nullable=False),
        sa.Column("locked_until", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("email", name="pk_sign_in_failures"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
