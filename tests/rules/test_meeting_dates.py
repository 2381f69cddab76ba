"""Dates that make no sense: warnings for a merely unusual date, refusals for an impossible one.

Issue 12, defect 8: a meeting on Boxing Day, a meeting before the partners' information is due and
an extension to a Saturday were accepted without a word.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from activities.calendar import england_and_wales_bank_holidays
from workflows.rules.community_trigger import meeting_date_warnings
from workflows.rules.deadlines import is_working_day, non_working_day, working_days_around

HOLIDAYS = tuple(england_and_wales_bank_holidays([2026, 2027]))


def test_a_meeting_on_boxing_day_is_warned_about() -> None:
    """26 December 2026 is a Saturday and the Boxing Day bank holiday is the 28th."""
    assert non_working_day(date(2026, 12, 26), HOLIDAYS) == "a Saturday"
    assert non_working_day(date(2026, 12, 28), HOLIDAYS) == "a bank holiday"
    assert non_working_day(date(2026, 12, 29), HOLIDAYS) is None
    [warning] = meeting_date_warnings(date(2026, 12, 28), HOLIDAYS, None)
    assert "28 December 2026" in warning and "bank holiday" in warning


def test_a_meeting_before_the_information_is_due_is_warned_about() -> None:
    """A meeting on or before the relevant bodies' due date would meet without their answers."""
    [warning] = meeting_date_warnings(date(2027, 1, 12), HOLIDAYS, date(2027, 1, 14))
    assert "14 January 2027" in warning and "information" in warning
    assert meeting_date_warnings(date(2027, 1, 15), HOLIDAYS, date(2027, 1, 14)) == ()


def test_an_ordinary_working_day_after_the_information_draws_no_warning() -> None:
    """Nothing to say about a Tuesday after every answer is due."""
    assert meeting_date_warnings(date(2027, 2, 2), HOLIDAYS, date(2027, 1, 14)) == ()


@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 20)))
def test_the_working_days_around_a_day_are_the_nearest_on_each_side(day: date) -> None:
    """The working days offered instead of a non-working one are the closest either side."""
    before, after = working_days_around(day, HOLIDAYS)
    assert before < day < after
    assert is_working_day(before, HOLIDAYS) and is_working_day(after, HOLIDAYS)
    between = [before + timedelta(days=n) for n in range(1, (after - before).days)]
    assert not any(is_working_day(d, HOLIDAYS) and d != day for d in between)
