"""A person's age on a date, counted the one way every process counts it.

DHR eligibility (DVCVA 2004 s.9(1): "aged 16 or over"), Modern Slavery age treatment (MSA 2015
s.51-52) and Channel consent (CTSA 2015 s.36(4)) all turn on an age on a date, so there is one
rule here (domain/decision-rules.md §0). An age is completed years, reached at the start of the
birthday (Family Law Reform Act 1969 s.9). **(reading)** Someone born on 29 February reaches a
new age on 1 March in a common year. Pure: the date is always a parameter, never a clock.
"""

from __future__ import annotations

import calendar
from datetime import date

LEAP_DAY_READING = (
    "a person born on 29 February reaches a new age on 1 March in a common year "
    "(reading: decision-rules §0)"
)
"""The project's reading for 29 February birthdays, as named in the reasons of a decision."""


def birthday_in(date_of_birth: date, year: int) -> date:
    """Return the day in `year` on which someone born on `date_of_birth` reaches a new age.

    That is the same day and month, except that a 29 February birthday falls on 1 March in a
    common year (**reading**, decision-rules §0).
    """
    if date_of_birth.month == 2 and date_of_birth.day == 29 and not calendar.isleap(year):
        return date(year, 3, 1)
    return date_of_birth.replace(year=year)


def age_on(date_of_birth: date, on: date) -> int:
    """Return the age in completed years of someone born on `date_of_birth`, on the date `on`.

    An age is reached at the start of the birthday (Family Law Reform Act 1969 s.9), so on the
    birthday itself the new age has been reached; a 29 February birthday is reached on 1 March in
    a common year (**reading**; decision-rules §0). A date before the birth is bad input.
    """
    if on < date_of_birth:
        raise ValueError(
            f"the date {on.isoformat()} is before the date of birth: an age is counted only "
            "from the day of birth on"
        )
    years = on.year - date_of_birth.year
    if on < birthday_in(date_of_birth, on.year):
        years -= 1
    return years


def leap_day_reading_applies(date_of_birth: date, on: date) -> bool:
    """Return True when the 29 February reading changes the age on `on`.

    Only 28 February of a common year is affected: on it a person born on 29 February has not
    yet reached the new age under the reading, where reaching it on 28 February would say they
    had. A decision names the reading in its reasons only then.
    """
    return (
        date_of_birth.month == 2
        and date_of_birth.day == 29
        and on.month == 2
        and on.day == 28
        and not calendar.isleap(on.year)
        and on.year > date_of_birth.year
    )
