"""The access log: who read which case's personal data, when, and through which view.

Issue 4 ("Access log"): every read of a case's personal data through cspflow (status, timeline,
bundle, mail show, later the web console) is written here, in the records database, so an
auditor can answer "who has looked at this case?" (UK GDPR Art. 5(2) accountability, Art. 30
records). The log is append-only: this module offers no way to change or remove a row, and the
database refuses UPDATE and DELETE with a trigger (migration 0002) whatever client tries.

Not an activity: reads happen in the CLI (and later the console), not in workflows, so there is
nothing for Temporal to retry; each call writes one row in its own transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from activities.db import Base, SessionFactory
from schemas.audit import AccessRecord

VIEWS = ("status", "timeline", "bundle", "mail")
"""The views that read a case's personal data today; new ones may be added freely."""

REFUSED_STEP = "refused-step"
"""The view of a step the worker refused because the front did not sign it (issue 13): written
by the worker (starter/refused_steps.py), read by `cspflow stalled` and `cspflow audit access`."""


class AccessLogEntry(Base):
    """One read of a case; never updated or deleted (the database refuses both)."""

    __tablename__ = "access_log"
    __table_args__ = (
        sa.Index(None, "case_id", "at"),
        sa.Index(None, "user", "at"),
        # Tells table-wiping test fixtures and maintenance scripts the rows must stay.
        {"info": {"append_only": True}},
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    user: Mapped[str]
    case_id: Mapped[str | None]
    view: Mapped[str]
    detail: Mapped[str | None] = mapped_column(sa.Text)


def _record(row: AccessLogEntry) -> AccessRecord:
    return AccessRecord(
        id=row.id,
        at=row.at,
        user=row.user,
        case_id=row.case_id,
        view=row.view,
        detail=row.detail,
    )


async def record_access(
    session_factory: SessionFactory,
    user: str,
    case_id: str | None,
    view: str,
    at: datetime | None = None,
    *,
    detail: str | None = None,
) -> AccessRecord:
    """Write one access row: `user` read `case_id` through `view` at `at` (default: now, UTC).

    Call it after the read succeeded and before the data is shown, so nothing is shown that was
    not logged. `detail` says which part was read (a format, a message id); never personal data.
    """
    if not user:
        raise ValueError("an access must name the user: set CSPFLOW_USER")
    if not view:
        raise ValueError("an access must name the view, e.g. 'status' or 'timeline'")
    row = AccessLogEntry(
        at=at or datetime.now(UTC), user=user, case_id=case_id, view=view, detail=detail
    )
    async with session_factory() as session, session.begin():
        session.add(row)
        await session.flush()
        record = _record(row)
    return record


async def list_access(
    session_factory: SessionFactory,
    case_id: str | None = None,
    user: str | None = None,
    *,
    view: str | None = None,
    since: datetime | None = None,
) -> list[AccessRecord]:
    """List accesses, oldest first, to one case, by one user, through one view, since a time."""
    query = sa.select(AccessLogEntry)
    if case_id is not None:
        query = query.where(AccessLogEntry.case_id == case_id)
    if user is not None:
        query = query.where(AccessLogEntry.user == user)
    if view is not None:
        query = query.where(AccessLogEntry.view == view)
    if since is not None:
        query = query.where(AccessLogEntry.at >= since)
    query = query.order_by(AccessLogEntry.at, AccessLogEntry.id)
    async with session_factory() as session:
        rows = (await session.execute(query)).scalars().all()
    return [_record(row) for row in rows]
