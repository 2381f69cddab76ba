"""When a request is chased: reminders before its due date, overdue notices after it.

Local practice, not statute (domain/statutory-reference.md §0.2: no deadline in these processes is
in working days). Reminders go a configured number of working days before the due date; when the
due date has passed unanswered, an overdue notice goes to the agency (and an escalation to the
coordinator and the agency's escalation contact) on the first working day after it, repeated every
`interval` working days. Notices go at 08:00 UTC on their day, the start of a UK working morning.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum

from workflows.rules.deadlines import add_working_days, subtract_working_days

NOTICE_TIME = time(8, 0, tzinfo=UTC)


class ChaseKind(StrEnum):
    """A reminder before the due date, or an overdue notice after it."""

    REMINDER = "reminder"
    OVERDUE = "overdue"


@dataclass(frozen=True, order=True)
class Chase:
    """One scheduled chase: when, what, and its number in its series."""

    at: datetime
    kind: ChaseKind
    number: int
    due: date

    @property
    def step(self) -> str:
        """The step name used in the chase's idempotency key (stable for one due date)."""
        return f"{self.kind.value}-{self.due.isoformat()}"


def notice_moment(day: date) -> datetime:
    """Return the moment on `day` at which that day's notices are sent."""
    return datetime.combine(day, NOTICE_TIME)


def chase_schedule(
    due: date,
    *,
    reminder_offsets: Collection[int],
    interval: int,
    max_overdue: int,
    bank_holidays: Collection[date],
) -> tuple[Chase, ...]:
    """Return every chase for a request due on `due`, in time order."""
    chases = [
        Chase(
            notice_moment(subtract_working_days(due, offset, bank_holidays)),
            ChaseKind.REMINDER,
            number,
            due,
        )
        for number, offset in enumerate(sorted(set(reminder_offsets), reverse=True), start=1)
    ]
    chases += [
        Chase(
            notice_moment(add_working_days(due, 1 + i * interval, bank_holidays)),
            ChaseKind.OVERDUE,
            i + 1,
            due,
        )
        for i in range(max_overdue)
    ]
    return tuple(sorted(chases))


def chases_due(schedule: tuple[Chase, ...], since: datetime) -> tuple[Chase, ...]:
    """Return the chases still to send when the schedule was (re)made at `since`.

    Reminders whose moment had already passed are dropped (reminding late of a date just set
    helps no one). Of the overdue notices already past, the latest is kept, so a request whose due
    date has already passed is chased once at once, not once for every missed interval.
    """
    past_overdue = [c for c in schedule if c.kind is ChaseKind.OVERDUE and c.at < since]
    keep = past_overdue[-1:]
    return tuple(sorted(keep + [c for c in schedule if c.at >= since]))
