"""Hypothesis strategies for working-day rules: bank holidays dense enough to matter.

Forty dates spread over a century almost never fall in the few weeks a working-day count spans,
so a rule that ignored bank holidays would pass. Each strategy here draws a day and a set of bank
holidays around it: England's real ones for the years about it (the `holidays` package), or a
generated set packed into the weeks either side of it.
"""

from __future__ import annotations

from datetime import date, timedelta

import holidays
from hypothesis import strategies as st

FIRST_DAY = date(1990, 1, 1)
LAST_DAY = date(2100, 12, 31)


def england_bank_holidays(*years: int) -> frozenset[date]:
    """England and Wales bank holidays of `years`, as the `holidays` package knows them."""
    return frozenset(holidays.UK(subdiv="ENG", years=years))


@st.composite
def holidays_around(draw: st.DrawFn, day: date, *, reach: int) -> frozenset[date]:
    """Bank holidays for counting from `day`: England's of its year and the years either side,
    or `reach` // 6 to `reach` // 2 generated dates within `reach` days either side of it (one day
    in twelve to one in four, so weekday holidays land in any working-day window)."""
    if draw(st.booleans()):
        return england_bank_holidays(day.year - 1, day.year, day.year + 1)
    offsets = draw(
        st.sets(
            st.integers(min_value=-reach, max_value=reach), min_size=reach // 6, max_size=reach // 2
        )
    )
    return frozenset(day + timedelta(days=offset) for offset in offsets)


@st.composite
def days_with_holidays(
    draw: st.DrawFn,
    *,
    reach: int = 120,
    min_value: date = FIRST_DAY,
    max_value: date = LAST_DAY,
) -> tuple[date, frozenset[date]]:
    """A day and bank holidays dense around it (`holidays_around`)."""
    day = draw(st.dates(min_value=min_value, max_value=max_value))
    return day, draw(holidays_around(day, reach=reach))
