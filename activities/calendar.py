"""The calendar: England and Wales bank holidays, supplied to workflows as recorded data.

Working-day deadlines in the Community Trigger are local practice (domain/statutory-reference.md
§0.2: "Working days ... skip weekends and bank holidays"). The `holidays` package knows the
substitute days and one-off holidays (19 Sep 2022, 8 May 2023). Running it in an activity puts the
dates in the workflow history, so a later release of the holiday tables cannot change a running
case when it is replayed.
"""

from __future__ import annotations

from datetime import date

import holidays
from temporalio import activity

# England and Wales share one list of bank holidays; the ENG subdivision is that list.
_SUBDIVISION = "ENG"


def england_and_wales_bank_holidays(years: list[int]) -> list[date]:
    """Return the bank holidays in England and Wales in the given years, sorted."""
    if not years:
        return []
    if min(years) < 1990 or max(years) > 2100:
        raise ValueError(f"years {min(years)}-{max(years)} are outside 1990-2100")
    calendar = holidays.country_holidays("GB", subdiv=_SUBDIVISION, years=years)
    return sorted(calendar.keys())


@activity.defn(name="bank_holidays")
async def bank_holidays(years: list[int]) -> list[date]:
    """Supply the bank holidays of `years` so the workflow records them in its history."""
    return england_and_wales_bank_holidays(years)
