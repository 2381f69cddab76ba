"""Polling helpers: workflow tests wait for a case to reach a state, bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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
