"""The next open deadline and "overdue": one definition for every face (issue 12, defect 4)."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from workflows.rules.deadlines import is_overdue, next_open_deadline


def test_no_open_deadline_means_no_next_deadline() -> None:
    """A case whose deadlines are all met, missed or cancelled (or closed) has none."""
    assert next_open_deadline([]) is None


@given(st.lists(st.dates(), min_size=1), st.dates())
def test_a_case_is_overdue_exactly_when_its_next_open_deadline_is(
    dues: list[date], today: date
) -> None:
    """Overdue on a day when some open deadline was due before it, which the earliest shows."""
    nxt = next_open_deadline(dues)
    assert nxt == min(dues)
    assert is_overdue(nxt, today) == any(is_overdue(d, today) for d in dues)


def test_the_due_date_itself_is_on_time() -> None:
    """The due date is the last day on which the step is on time."""
    assert not is_overdue(date(2026, 12, 21), date(2026, 12, 21))
    assert is_overdue(date(2026, 12, 21), date(2026, 12, 22))
