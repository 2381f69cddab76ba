"""Age on a date (decision-rules §0; Family Law Reform Act 1969 s.9)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workflows.rules.ages import age_on, birthday_in, leap_day_reading_applies

births = st.dates(min_value=date(1880, 1, 1), max_value=date(2090, 12, 31))
leap_years = [y for y in range(1880, 2096) if calendar.isleap(y)]


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2009, 3, 15), date(2025, 3, 15), 16),
        (date(2009, 3, 15), date(2025, 3, 14), 15),
        (date(2009, 3, 15), date(2009, 3, 15), 0),
        (date(2008, 2, 29), date(2024, 2, 29), 16),
        (date(2008, 2, 29), date(2024, 2, 28), 15),
        (date(2008, 2, 29), date(2025, 2, 28), 16),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(1950, 12, 31), date(2025, 1, 1), 74),
    ],
)
def test_age_on_counts_completed_years(born: date, on: date, age: int) -> None:
    """Worked examples: completed years, reached on the birthday, 29 February on 1 March."""
    assert age_on(born, on) == age


def test_age_on_refuses_a_date_before_birth() -> None:
    """An age cannot be counted on a day before the person was born."""
    with pytest.raises(ValueError, match="before the date of birth"):
        age_on(date(2000, 1, 2), date(2000, 1, 1))


def test_the_leap_day_reading_matters_only_on_28_february_of_a_common_year() -> None:
    """The reading is named only where it changes the answer: 28 February, common year."""
    born = date(2008, 2, 29)
    assert leap_day_reading_applies(born, date(2025, 2, 28))
    assert not leap_day_reading_applies(born, date(2025, 3, 1))
    assert not leap_day_reading_applies(born, date(2024, 2, 28))
    assert not leap_day_reading_applies(date(2008, 2, 28), date(2025, 2, 28))


@given(born=births, years=st.integers(min_value=0, max_value=110))
def test_the_new_age_is_reached_on_the_birthday_and_not_the_day_before(
    born: date, years: int
) -> None:
    """On each birthday the age is the years since birth; on the day before, one less."""
    birthday = birthday_in(born, born.year + years)
    assert age_on(born, birthday) == years
    if years:
        assert age_on(born, birthday - timedelta(days=1)) == years - 1


@given(year=st.sampled_from(leap_years), years=st.integers(min_value=1, max_value=110))
def test_a_29_february_birth_turns_on_1_march_in_a_common_year(year: int, years: int) -> None:
    """Born 29 February: in a common year the new age comes on 1 March, not 28 February."""
    born = date(year, 2, 29)
    target = year + years
    assume(target <= 2100)
    if calendar.isleap(target):
        assert age_on(born, date(target, 2, 29)) == years
        assert age_on(born, date(target, 2, 28)) == years - 1
    else:
        assert age_on(born, date(target, 3, 1)) == years
        assert age_on(born, date(target, 2, 28)) == years - 1


@given(born=births, first=st.integers(0, 40_000), step=st.integers(0, 4_000))
def test_age_never_decreases_as_the_date_moves_on(born: date, first: int, step: int) -> None:
    """For one person, a later date never gives a smaller age (monotonic in the date)."""
    earlier = born + timedelta(days=first)
    later = earlier + timedelta(days=step)
    assume(later <= date(2100, 12, 31))
    assert age_on(born, earlier) <= age_on(born, later)


@given(born=births, days=st.integers(0, 40_000))
def test_age_is_whole_years_of_the_date_difference(born: date, days: int) -> None:
    """The age is never more than the days lived over 365, nor less than over 366, minus one."""
    on = born + timedelta(days=days)
    assume(on <= date(2100, 12, 31))
    age = age_on(born, on)
    assert days // 366 <= age <= days // 365
