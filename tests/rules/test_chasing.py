"""The chase schedule (workflows/rules/chasing.py): reminders before a due date, overdue notices on
working days after it, at an interval, up to a cap, and only the latest passed notice on a late
start. Working days are counted here one day at a time, independently of the rule's own counting.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.rules.strategies import days_with_holidays, england_bank_holidays
from workflows.rules.chasing import (
    NOTICE_TIME,
    Chase,
    ChaseKind,
    chase_schedule,
    chases_due,
    notice_moment,
)

ENG_2030_31 = england_bank_holidays(2030, 2031)
ENG_2026 = england_bank_holidays(2026)


def working(day: date, bank_holidays: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in bank_holidays


def working_days_between(first: date, last: date, bank_holidays: frozenset[date]) -> int:
    """How many working days fall in first..last, both included."""
    return sum(
        working(first + timedelta(days=k), bank_holidays) for k in range((last - first).days + 1)
    )


def days_of(chases: tuple[Chase, ...], kind: ChaseKind) -> list[date]:
    return [c.at.date() for c in chases if c.kind is kind]


def schedule(
    due: date,
    bank_holidays: frozenset[date],
    *,
    reminders: tuple[int, ...] = (3, 1),
    interval: int = 2,
    cap: int = 3,
) -> tuple[Chase, ...]:
    return chase_schedule(
        due,
        reminder_offsets=reminders,
        interval=interval,
        max_overdue=cap,
        bank_holidays=bank_holidays,
    )


# Examples ---------------------------------------------------------------------------------------


def test_christmas_2030_reminders_and_overdue_notices_skip_the_bank_holidays() -> None:
    """Due Tuesday 24 Dec 2030: reminders on the 19th and 23rd; overdue on the 27th, the 31st and
    3 Jan (25, 26 Dec and 1 Jan are bank holidays, the 28th-29th a weekend)."""
    chases = schedule(date(2030, 12, 24), ENG_2030_31)
    assert days_of(chases, ChaseKind.REMINDER) == [date(2030, 12, 19), date(2030, 12, 23)]
    assert days_of(chases, ChaseKind.OVERDUE) == [
        date(2030, 12, 27),
        date(2030, 12, 31),
        date(2031, 1, 3),
    ]
    assert [(c.kind, c.number) for c in chases] == [
        (ChaseKind.REMINDER, 1),
        (ChaseKind.REMINDER, 2),
        (ChaseKind.OVERDUE, 1),
        (ChaseKind.OVERDUE, 2),
        (ChaseKind.OVERDUE, 3),
    ]
    assert all(c.at.time() == time(8, 0) and c.at.tzinfo is UTC for c in chases)
    assert {c.step for c in chases} == {"reminder-2030-12-24", "overdue-2030-12-24"}


@pytest.mark.parametrize(
    ("due", "first_overdue"),
    [
        (date(2026, 3, 11), date(2026, 3, 12)),  # a Wednesday: the Thursday
        (date(2026, 3, 13), date(2026, 3, 16)),  # a Friday: the Monday
        (date(2026, 3, 14), date(2026, 3, 16)),  # a Saturday: the Monday
        (date(2026, 4, 2), date(2026, 4, 7)),  # Thursday before Easter: the Tuesday after
        (date(2026, 4, 3), date(2026, 4, 7)),  # Good Friday itself: the Tuesday after Easter
        (date(2026, 5, 22), date(2026, 5, 26)),  # Friday before the late May bank holiday
        (date(2026, 12, 24), date(2026, 12, 29)),  # Christmas Eve: 25th, 28th (substitute) off
    ],
)
def test_the_first_overdue_notice_goes_on_the_first_working_day_after_the_due_date(
    due: date, first_overdue: date
) -> None:
    """Never on the due date itself, even when the due date is a working day."""
    [first, *_] = [c for c in schedule(due, ENG_2026) if c.kind is ChaseKind.OVERDUE]
    assert first.at == datetime.combine(first_overdue, NOTICE_TIME)
    assert first.number == 1


def test_the_overdue_notices_stop_at_the_cap() -> None:
    """With a cap of 10 and an interval of 1 there are exactly 10, on 10 working days in a row."""
    chases = schedule(date(2026, 6, 1), ENG_2026, interval=1, cap=10)
    assert days_of(chases, ChaseKind.OVERDUE) == [
        date(2026, 6, 2),
        date(2026, 6, 3),
        date(2026, 6, 4),
        date(2026, 6, 5),
        date(2026, 6, 8),
        date(2026, 6, 9),
        date(2026, 6, 10),
        date(2026, 6, 11),
        date(2026, 6, 12),
        date(2026, 6, 15),
    ]


def test_reminder_offsets_are_deduplicated_and_numbered_earliest_first() -> None:
    """Offsets (1, 5, 1) give two reminders: number 1 five working days before, 2 one before."""
    chases = schedule(date(2026, 6, 12), ENG_2026, reminders=(1, 5, 1))
    reminders = [(c.at.date(), c.number) for c in chases if c.kind is ChaseKind.REMINDER]
    assert reminders == [(date(2026, 6, 5), 1), (date(2026, 6, 11), 2)]


def test_a_late_start_sends_only_the_latest_passed_overdue_notice() -> None:
    """Made on 5 Jan 2031 for a request due 24 Dec 2030, the schedule sends the notice of 3 Jan
    (not those of 27 and 31 Dec too, nor the passed reminders), then the rest."""
    chases = schedule(date(2030, 12, 24), ENG_2030_31, cap=5)
    due_now = chases_due(chases, datetime(2031, 1, 5, 12, 0, tzinfo=UTC))
    assert [(c.kind, c.at.date()) for c in due_now] == [
        (ChaseKind.OVERDUE, date(2031, 1, 3)),
        (ChaseKind.OVERDUE, date(2031, 1, 7)),
        (ChaseKind.OVERDUE, date(2031, 1, 9)),
    ]


def test_a_schedule_made_before_every_chase_keeps_them_all() -> None:
    """Made before the first reminder, every chase is still to send."""
    chases = schedule(date(2030, 12, 24), ENG_2030_31)
    assert chases_due(chases, datetime(2030, 12, 16, 9, 0, tzinfo=UTC)) == chases


def test_a_reminder_whose_moment_passed_is_dropped_and_one_at_this_moment_kept() -> None:
    """Made at 08:00 on the second reminder's day: the first is dropped, the second kept."""
    chases = schedule(date(2030, 12, 24), ENG_2030_31)
    due_now = chases_due(chases, notice_moment(date(2030, 12, 23)))
    assert [(c.kind, c.number) for c in due_now][:2] == [
        (ChaseKind.REMINDER, 2),
        (ChaseKind.OVERDUE, 1),
    ]


# Properties -------------------------------------------------------------------------------------

due_and_holidays = days_with_holidays(
    reach=150, min_value=date(1991, 1, 1), max_value=date(2099, 12, 31)
)
offsets = st.sets(st.integers(min_value=1, max_value=20), max_size=4)
intervals = st.integers(min_value=1, max_value=10)
caps = st.integers(min_value=1, max_value=10)


@given(due_and_holidays, offsets, intervals, caps)
def test_every_chase_is_at_0800_utc_on_a_working_day_in_time_order(
    due_and_its_holidays: tuple[date, frozenset[date]],
    reminders: set[int],
    interval: int,
    cap: int,
) -> None:
    """No chase falls on a weekend or a bank holiday; each is at the notice time; in order."""
    due, bank_holidays = due_and_its_holidays
    chases = schedule(due, bank_holidays, reminders=tuple(reminders), interval=interval, cap=cap)
    assert all(working(c.at.date(), bank_holidays) for c in chases)
    assert all(c.at == datetime.combine(c.at.date(), NOTICE_TIME) for c in chases)
    assert [c.at for c in chases] == sorted(c.at for c in chases)
    assert all(c.due == due for c in chases)


@given(due_and_holidays, offsets)
def test_each_reminder_goes_its_offset_in_working_days_before_the_due_date(
    due_and_its_holidays: tuple[date, frozenset[date]], reminders: set[int]
) -> None:
    """A reminder `n` working days before goes on the working day from which there are exactly
    `n` working days up to the day before the due date; numbered 1, 2, ... earliest first."""
    due, bank_holidays = due_and_its_holidays
    chases = [
        c
        for c in schedule(due, bank_holidays, reminders=tuple(reminders))
        if c.kind is ChaseKind.REMINDER
    ]
    assert [c.number for c in chases] == list(range(1, len(reminders) + 1))
    for chase, offset in zip(chases, sorted(reminders, reverse=True), strict=True):
        day = chase.at.date()
        assert day < due
        assert working_days_between(day, due - timedelta(days=1), bank_holidays) == offset


@given(due_and_holidays, intervals, caps)
def test_overdue_notices_start_the_first_working_day_after_due_and_repeat_every_interval(
    due_and_its_holidays: tuple[date, frozenset[date]], interval: int, cap: int
) -> None:
    """The first overdue notice is on the first working day strictly after the due date (never
    on it); each next one `interval` working days after the last; exactly `cap` of them."""
    due, bank_holidays = due_and_its_holidays
    overdue = [
        c
        for c in schedule(due, bank_holidays, interval=interval, cap=cap)
        if c.kind is ChaseKind.OVERDUE
    ]
    assert [c.number for c in overdue] == list(range(1, cap + 1))
    first = overdue[0].at.date()
    assert first > due
    assert working_days_between(due + timedelta(days=1), first, bank_holidays) == 1
    for earlier, later in pairwise(overdue):
        start = earlier.at.date() + timedelta(days=1)
        assert working_days_between(start, later.at.date(), bank_holidays) == interval


@given(
    due_and_holidays,
    offsets,
    intervals,
    caps,
    st.integers(min_value=-40 * 24, max_value=80 * 24),
)
def test_chases_due_keeps_what_is_still_ahead_and_only_the_latest_passed_overdue_notice(
    due_and_its_holidays: tuple[date, frozenset[date]],
    reminders: set[int],
    interval: int,
    cap: int,
    hours_after_due: int,
) -> None:
    """Remade at any moment, every chase at or after it is kept, no passed reminder is, and of
    the passed overdue notices exactly the latest is (none when none has passed)."""
    due, bank_holidays = due_and_its_holidays
    chases = schedule(due, bank_holidays, reminders=tuple(reminders), interval=interval, cap=cap)
    since = datetime.combine(due, time(0, 0), tzinfo=UTC) + timedelta(hours=hours_after_due)
    kept = chases_due(chases, since)
    passed_overdue = [c for c in chases if c.kind is ChaseKind.OVERDUE and c.at < since]
    ahead = [c for c in chases if c.at >= since]
    assert list(kept) == sorted(passed_overdue[-1:] + ahead)
    assert sum(c.at < since for c in kept) == min(1, len(passed_overdue))
    assert not [c for c in kept if c.kind is ChaseKind.REMINDER and c.at < since]
