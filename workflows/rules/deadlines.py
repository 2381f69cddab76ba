"""Counting periods and working days, exactly as cspflow's processes count them.

Statutory periods in these processes are in calendar months "beginning with" a date (ASB, Crime
and Policing Act 2014 s.104: "within the period of one month beginning with the date on which...").
Local procedures add deadlines in working days: Monday to Friday, not an England and Wales bank
holiday (domain/statutory-reference.md §0.2). Nothing here reads a clock or a calendar: the day to
count from and the bank holidays are always parameters, so a workflow replaying its history gets
the same dates it got the first time (style.md §2).
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterable
from datetime import date, timedelta

SATURDAY = 5  # date.weekday(): Monday is 0


def _month_shift(year: int, month: int, months: int) -> tuple[int, int]:
    """Return the (year, month) that is `months` calendar months after (year, month)."""
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def end_of_period(start: date, months: int) -> date:
    """Return the last day of the period of `months` months beginning with `start`.

    "Beginning with" makes `start` day 1 of the period. Take the date in the `months`-th following
    month with `start`'s day number (the corresponding date); the period ends the day before it.
    When that month has no such date (`start` is the 29th, 30th or 31st), the period ends on the
    last day of that month instead. This is the rule of SI 2018/1082 r.1.4(2)(a), applied to
    ASBCPA 2014 s.104 by analogy (domain/statutory-reference.md §0.2). So one month beginning
    15 Mar 2025 ends 14 Apr 2025, and one month beginning 31 Jan 2025 ends 28 Feb 2025 (not the
    27th, which "clamp to the month's end, then the day before" would give). A period is counted
    in calendar days: one ending on a weekend or bank holiday is not extended.
    """
    if months < 1:
        raise ValueError(f"months is {months}: a period must be at least one month long")
    year, month = _month_shift(start.year, start.month, months)
    last_day = calendar.monthrange(year, month)[1]
    if start.day > last_day:
        return date(year, month, last_day)
    return date(year, month, start.day) - timedelta(days=1)


def within_period(day: date, start: date, months: int) -> bool:
    """Return True when `day` falls in the period of `months` months beginning with `start`.

    Both ends are inclusive: `start` itself is day 1 (s.104 "beginning with"; §0.2), and the last
    day is `end_of_period(start, months)`. A day before `start` is not within the period.
    """
    return start <= day <= end_of_period(start, months)


def is_working_day(day: date, bank_holidays: Collection[date]) -> bool:
    """Return True when `day` is Monday to Friday and not a bank holiday.

    The bank holidays are England and Wales ones, substitute days and one-off days included
    (§0.2); the caller supplies them, so this rule stays pure and replay-safe.
    """
    return day.weekday() < SATURDAY and day not in bank_holidays


def _step_working_days(day: date, n: int, step: int, bank_holidays: Collection[date]) -> date:
    if n < 0:
        raise ValueError(f"n is {n}: count a non-negative number of working days")
    holidays = frozenset(bank_holidays)
    one = timedelta(days=step)
    remaining = n
    while remaining:
        day += one
        if is_working_day(day, holidays):
            remaining -= 1
    return day


def add_working_days(start: date, n: int, bank_holidays: Collection[date]) -> date:
    """Return the n-th working day strictly after `start`; n=0 returns `start` unchanged.

    "N working days after D" never counts D itself (§0.2), so an application received on a
    Saturday with a 2-working-day acknowledgement is due on the Tuesday. Every local timescale
    in schemas/policy.py is counted this way.
    """
    return _step_working_days(start, n, 1, bank_holidays)


def subtract_working_days(day: date, n: int, bank_holidays: Collection[date]) -> date:
    """Return the n-th working day strictly before `day`; n=0 returns `day` unchanged.

    The mirror of `add_working_days`, used for "papers at least 2 working days before the meeting"
    and reminders before a due date (§0.2, local practice).
    """
    return _step_working_days(day, n, -1, bank_holidays)


def days_late(due: date, done: date) -> int:
    """Return how many calendar days after `due` the step was done; 0 when on time.

    Lateness is reported in calendar days, as a coordinator reads it, whatever unit set the due
    date (schemas.shared.Deadline.days_late).
    """
    return max(0, (done - due).days)


def years_spanned(start: date, days: int) -> tuple[int, ...]:
    """Return every year from `start`'s to that of `start + days`, inclusive, in order.

    Tells a caller which years of bank holidays to fetch before counting working days. A
    negative `days` (counting backwards) gives the years from `start + days` to `start`.
    """
    other = start + timedelta(days=days)
    first, last = sorted((start.year, other.year))
    return tuple(range(first, last + 1))


def next_open_deadline(open_dues: Iterable[date]) -> date | None:
    """Return a case's next open deadline: the earliest due date still open; None when none is.

    The one definition every face reads (the CspNextDeadline search attribute, the records'
    next_deadline column, `cspflow cases --overdue`, the console's "Overdue only"): a deadline
    met, missed or cancelled never counts, and a closed case has none (issue 12, defect 4).
    """
    return min(open_dues, default=None)


def is_overdue(due: date, today: date) -> bool:
    """Return True when an open deadline due on `due` is overdue on `today`.

    The due date is the last day on which the step is on time (schemas.shared.Deadline), so a
    step is overdue from the day after it. A case is overdue when its next open deadline is.
    """
    return due < today


def non_working_day(day: date, bank_holidays: Collection[date]) -> str | None:
    """Say why `day` is not a working day ('a Saturday', 'a Sunday', 'a bank holiday'); None
    when it is one (§0.2: Monday to Friday, not an England and Wales bank holiday)."""
    if day.weekday() == SATURDAY:
        return "a Saturday"
    if day.weekday() > SATURDAY:
        return "a Sunday"
    if day in bank_holidays:
        return "a bank holiday"
    return None


def working_days_around(day: date, bank_holidays: Collection[date]) -> tuple[date, date]:
    """Return the working day just before `day` and the one just after, to offer instead of it."""
    return (
        subtract_working_days(day, 1, bank_holidays),
        add_working_days(day, 1, bank_holidays),
    )
