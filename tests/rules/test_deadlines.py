"""Period and working-day counting (domain/statutory-reference.md §0.2)."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.rules.strategies import days_with_holidays
from workflows.rules.deadlines import (
    add_working_days,
    days_late,
    end_of_period,
    is_working_day,
    subtract_working_days,
    within_period,
    years_spanned,
)

# England and Wales bank holidays, written out so the rules are tested against known data.
ENG_2025_26 = frozenset(
    {
        date(2025, 1, 1),
        date(2025, 4, 18),
        date(2025, 4, 21),
        date(2025, 5, 5),
        date(2025, 5, 26),
        date(2025, 8, 25),
        date(2025, 12, 25),
        date(2025, 12, 26),
        date(2026, 1, 1),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 5, 4),
        date(2026, 5, 25),
        date(2026, 8, 31),
        date(2026, 12, 25),
        date(2026, 12, 28),
    }
)
NONE: frozenset[date] = frozenset()

days = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
# A day and bank holidays packed around it (real England ones or generated): up to 60 working
# days span about 90 calendar days, more with holidays, so 120 days either side cover them.
day_and_holidays = days_with_holidays(reach=120)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2025, 3, 15), 1, date(2025, 4, 14)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 1, 29), 1, date(2025, 2, 28)),
        (date(2024, 1, 29), 1, date(2024, 2, 28)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
    ],
)
def test_end_of_period_matches_the_worked_examples(start: date, months: int, end: date) -> None:
    """Every example written out in §0.2 holds."""
    assert end_of_period(start, months) == end


def test_end_of_period_does_not_clamp_then_subtract() -> None:
    """One month beginning 31 Jan 2025 ends 28 Feb, not 27 Feb (the rejected reading)."""
    assert end_of_period(date(2025, 1, 31), 1) != date(2025, 2, 27)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2024, 2, 29), 1, date(2024, 3, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2023, 3, 29), 11, date(2024, 2, 28)),
        (date(2023, 3, 30), 11, date(2024, 2, 29)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
    ],
)
def test_end_of_period_handles_leap_years(start: date, months: int, end: date) -> None:
    """29 February is a corresponding date in a leap year and missing otherwise."""
    assert end_of_period(start, months) == end


def test_end_of_period_crosses_the_year_end() -> None:
    """Six months beginning 15 Sep 2025 end on 14 Mar 2026."""
    assert end_of_period(date(2025, 9, 15), 6) == date(2026, 3, 14)


def test_end_of_period_is_not_extended_past_a_weekend_or_bank_holiday() -> None:
    """A period ending on a Saturday or on Good Friday ends that day (calendar days, §0.2)."""
    assert end_of_period(date(2025, 5, 1), 1) == date(2025, 5, 31)
    assert date(2025, 5, 31).weekday() == 5
    assert end_of_period(date(2025, 3, 19), 1) == date(2025, 4, 18)


def test_end_of_period_refuses_a_period_shorter_than_a_month() -> None:
    """A zero-month period is a caller's mistake, refused with the value."""
    with pytest.raises(ValueError, match="months is 0"):
        end_of_period(date(2025, 1, 1), 0)


@given(days)
def test_one_month_period_ends_after_start_and_within_32_days(start: date) -> None:
    """One month beginning with a day ends on or after it and fewer than 32 days later."""
    end = end_of_period(start, 1)
    assert start <= end < start + timedelta(days=32)


@given(days, st.integers(min_value=1, max_value=24))
def test_period_ends_in_the_mth_month_or_the_day_before_it(start: date, months: int) -> None:
    """The period ends in the M-th following month, or on the last day of the month before."""
    end = end_of_period(start, months)
    index = (end.year * 12 + end.month) - (start.year * 12 + start.month)
    assert index in (months, months - 1)
    if index == months - 1:
        assert start.day == 1
        assert (end + timedelta(days=1)).day == 1


@given(days, st.integers(min_value=1, max_value=24))
def test_within_period_includes_both_ends_and_nothing_outside(start: date, months: int) -> None:
    """The start and the last day are inside; the day before and the day after are outside."""
    end = end_of_period(start, months)
    assert within_period(start, start, months)
    assert within_period(end, start, months)
    assert not within_period(start - timedelta(days=1), start, months)
    assert not within_period(end + timedelta(days=1), start, months)


def test_within_period_on_the_statutory_example() -> None:
    """Behaviour on 15 March: a complaint on 14 April is in time, on 15 April it is not."""
    assert within_period(date(2025, 4, 14), date(2025, 3, 15), 1)
    assert not within_period(date(2025, 4, 15), date(2025, 3, 15), 1)


def test_is_working_day_excludes_weekends_and_bank_holidays() -> None:
    """Saturday, Sunday and Good Friday are not working days; the Thursday before is."""
    assert is_working_day(date(2025, 4, 17), ENG_2025_26)
    assert not is_working_day(date(2025, 4, 18), ENG_2025_26)
    assert not is_working_day(date(2025, 4, 19), ENG_2025_26)
    assert not is_working_day(date(2025, 4, 20), ENG_2025_26)
    assert is_working_day(date(2025, 4, 18), NONE)


def test_add_zero_working_days_returns_the_start() -> None:
    """n=0 leaves the day unchanged, even a Sunday."""
    assert add_working_days(date(2025, 4, 20), 0, ENG_2025_26) == date(2025, 4, 20)
    assert subtract_working_days(date(2025, 4, 20), 0, ENG_2025_26) == date(2025, 4, 20)


def test_add_working_days_never_counts_the_start() -> None:
    """One working day after a Monday is the Tuesday; after a Saturday, the Monday."""
    assert add_working_days(date(2025, 3, 3), 1, NONE) == date(2025, 3, 4)
    assert add_working_days(date(2025, 3, 1), 1, NONE) == date(2025, 3, 3)
    assert add_working_days(date(2025, 3, 1), 2, NONE) == date(2025, 3, 4)


def test_add_working_days_skips_easter_2025() -> None:
    """From Maundy Thursday 2025, one working day later is Tuesday 22 April."""
    assert add_working_days(date(2025, 4, 17), 1, ENG_2025_26) == date(2025, 4, 22)
    assert add_working_days(date(2025, 4, 16), 2, ENG_2025_26) == date(2025, 4, 22)
    assert subtract_working_days(date(2025, 4, 22), 1, ENG_2025_26) == date(2025, 4, 17)


def test_add_working_days_skips_christmas_and_new_year_2025_26() -> None:
    """From Christmas Eve 2025: Mon 29 Dec is the first working day, Fri 2 Jan 2026 the fourth."""
    assert add_working_days(date(2025, 12, 24), 1, ENG_2025_26) == date(2025, 12, 29)
    assert add_working_days(date(2025, 12, 24), 3, ENG_2025_26) == date(2025, 12, 31)
    assert add_working_days(date(2025, 12, 24), 4, ENG_2025_26) == date(2026, 1, 2)
    assert add_working_days(date(2025, 12, 24), 10, ENG_2025_26) == date(2026, 1, 12)
    assert subtract_working_days(date(2026, 1, 2), 4, ENG_2025_26) == date(2025, 12, 24)


def test_add_working_days_skips_a_one_off_bank_holiday() -> None:
    """The State Funeral holiday of Monday 19 Sep 2022 is skipped when it is in the list."""
    one_off = {date(2022, 9, 19)}
    assert add_working_days(date(2022, 9, 16), 1, one_off) == date(2022, 9, 20)


def test_negative_working_days_are_refused() -> None:
    """A negative count is a caller's mistake, refused with the value."""
    with pytest.raises(ValueError, match="n is -1"):
        add_working_days(date(2025, 1, 6), -1, NONE)


@given(day_and_holidays, st.integers(min_value=1, max_value=60))
def test_add_working_days_lands_on_a_working_day_strictly_after_start(
    start_and_holidays: tuple[date, frozenset[date]], n: int
) -> None:
    """The result is never a weekend or bank holiday and always after the start."""
    start, bank_holidays = start_and_holidays
    result = add_working_days(start, n, bank_holidays)
    assert result > start
    assert result.weekday() < 5
    assert result not in bank_holidays


@given(day_and_holidays, st.integers(min_value=0, max_value=60))
def test_add_then_count_gives_back_n(
    start_and_holidays: tuple[date, frozenset[date]], n: int
) -> None:
    """Counting the working days after the start up to the result gives exactly n."""
    start, bank_holidays = start_and_holidays
    result = add_working_days(start, n, bank_holidays)
    counted = sum(
        is_working_day(start + timedelta(days=k), bank_holidays)
        for k in range(1, (result - start).days + 1)
    )
    assert counted == n


@given(day_and_holidays, st.integers(min_value=1, max_value=60))
def test_subtract_lands_on_a_working_day_strictly_before(
    day_and_its_holidays: tuple[date, frozenset[date]], n: int
) -> None:
    """The result of subtracting is a working day before the day counted from."""
    day, bank_holidays = day_and_its_holidays
    result = subtract_working_days(day, n, bank_holidays)
    assert result < day
    assert is_working_day(result, bank_holidays)


@given(day_and_holidays, st.integers(min_value=0, max_value=60))
def test_subtract_undoes_add_from_a_working_day(
    start_and_holidays: tuple[date, frozenset[date]], n: int
) -> None:
    """From a working day, adding then subtracting n working days returns to it."""
    start, bank_holidays = start_and_holidays
    if not is_working_day(start, bank_holidays):
        start = add_working_days(start, 1, bank_holidays)
    assert (
        subtract_working_days(add_working_days(start, n, bank_holidays), n, bank_holidays) == start
    )


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=1, max_value=30),
)
def test_add_working_days_agrees_with_the_holidays_package(start: date, n: int) -> None:
    """With the England bank holidays of the `holidays` package, no result is a bank holiday."""
    bank_holidays = set(holidays.UK(subdiv="ENG", years=years_spanned(start, 3 * n + 14)))
    result = add_working_days(start, n, bank_holidays)
    assert result not in bank_holidays
    assert result.weekday() < 5


def test_explicit_holiday_list_matches_the_holidays_package() -> None:
    """The list written in this test is the England list for 2025 and 2026."""
    assert set(holidays.UK(subdiv="ENG", years=(2025, 2026))) - {date(2026, 12, 26)} == ENG_2025_26


def test_days_late_counts_calendar_days_after_due() -> None:
    """Done on the due date is 0 days late; three days after is 3; early is 0."""
    assert days_late(date(2025, 4, 17), date(2025, 4, 17)) == 0
    assert days_late(date(2025, 4, 17), date(2025, 4, 20)) == 3
    assert days_late(date(2025, 4, 17), date(2025, 4, 1)) == 0


def test_years_spanned_lists_every_year_touched() -> None:
    """A span across New Year gives both years; a span inside one year gives one."""
    assert years_spanned(date(2025, 12, 20), 30) == (2025, 2026)
    assert years_spanned(date(2025, 3, 1), 10) == (2025,)
    assert years_spanned(date(2025, 1, 5), -10) == (2024, 2025)
    assert years_spanned(date(2024, 6, 1), 600) == (2024, 2025, 2026)
