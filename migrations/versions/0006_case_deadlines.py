"""Each case's own deadlines on its row, so the figures can list every missed one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Issue 14 ("Figures"): `cspflow report dhr` and the console list each open review's missed
deadlines, not only the next one. The workflow writes its deadlines (name, due, state, days late)
with the case row; NULL for a case that has not written them (a Community Trigger, or a review
recorded before this release), whose next_deadline stands in.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("deadlines", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("deadlines")
