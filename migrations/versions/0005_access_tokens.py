"""Personal access tokens for `cspflow` through the console's API.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-14

Issue 13 ("a personal access token per account, revocable, shown in the console"). Each row is
one token: its public id, the account it acts as, a name, the SHA-256 of its secret (never the
secret), who made it and when, its last use, and its revocation.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("secret_sha256", sa.String(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("last_used_at", _UTC, nullable=True),
        sa.Column("revoked_at", _UTC, nullable=True),
        sa.Column("revoked_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_access_tokens"),
    )
    op.create_index("ix_access_tokens_email", "access_tokens", ["email"])


def downgrade() -> None:
    op.drop_index("ix_access_tokens_email", table_name="access_tokens")
    op.drop_table("access_tokens")
