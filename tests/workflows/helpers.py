"""Polling helpers (workflow tests wait for a case to reach a state, bounded in time) and clock
helpers for tests that run on a time-skipping server of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from temporalio.testing import WorkflowEnvironment

from activities.calendar import england_and_wales_bank_holidays

T = TypeVar("T")


async def eventually(
    read: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    within: float = 20.0,
    what: str = "condition",
) -> T:
    """Read repeatedly until `until(value)` holds; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await read()
        if until(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.1)


async def case_result(
    client: Any, workflow_id: str, result_type: type[T], *, attempts: int = 3
) -> T:
    """The workflow's result; asks again when the time-skipping server's long poll comes back
    empty under load ("No completion event found"), a quirk of the test server."""
    handle = client.get_workflow_handle(workflow_id, result_type=result_type)
    for attempt in range(attempts):
        try:
            result: T = await handle.result()
            return result
        except RuntimeError as error:
            if "No completion event found" not in str(error) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


async def move_clock_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Move a time-skipping server's clock forward to `moment`.

    Only for a server of the test's own (tests.conftest.start_time_skipping_server): choose a
    moment after its clock with `quiet_monday` or a year like a fixed one, never a fixed date
    that real time will pass. A moment already past fails, never skips.
    """
    now = await env.get_current_time()
    assert moment > now, f"the server's clock ({now}) is already past {moment}"
    await env.sleep(moment - now)


def quiet_monday(after: date, *, quiet_days: int = 70) -> date:
    """Return the first Monday after `after` starting `quiet_days` days with no England and Wales
    bank holiday and no new financial year (1 April): from it, N working days are always the
    same number of calendar days, and a case's deadlines fall in one financial year."""
    day = after + timedelta(days=7 - after.weekday())
    while True:
        window = [day + timedelta(days=n) for n in range(quiet_days + 1)]
        holidays = set(england_and_wales_bank_holidays(sorted({d.year for d in window})))
        if not any(d in holidays or (d.month, d.day) == (4, 1) for d in window):
            return day
        day += timedelta(days=7)


async def move_clock_to_quiet_monday(env: WorkflowEnvironment, *, quiet_days: int = 70) -> date:
    """Move the server's clock to 09:00 UTC on the next `quiet_monday`; return that Monday."""
    now = await env.get_current_time()
    monday = quiet_monday(now.date(), quiet_days=quiet_days)
    await move_clock_to(env, datetime.combine(monday, time(9, 0), tzinfo=UTC))
    return monday
