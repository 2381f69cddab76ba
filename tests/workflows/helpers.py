"""Polling helpers: workflow tests wait for a case to reach a state, bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
