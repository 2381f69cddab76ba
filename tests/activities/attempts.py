"""Run an activity as Temporal runs an attempt and then its retries.

A default ActivityEnvironment always runs attempt 1 with no heartbeat details, so calling it twice
only shows what a second *first* attempt does. A real retry runs as attempt 2 (3, ...) and is
handed the last heartbeat details of the attempt before; an activity that behaves differently then
(trusting its heartbeat evidence, keying a write by attempt) is only tested this way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from temporalio.testing import ActivityEnvironment


class Attempts:
    """One activity execution: each `run` is its next attempt (1, 2, ...), given the heartbeat
    details of the attempt before (when that attempt heartbeated), as Temporal gives them."""

    def __init__(self) -> None:
        self.attempt = 0
        self.last_heartbeat: tuple[Any, ...] = ()
        self.heartbeats: list[tuple[Any, ...]] = []

    def environment(self) -> ActivityEnvironment:
        """The environment of the next attempt."""
        self.attempt += 1
        env = ActivityEnvironment()
        env.info = dataclasses.replace(
            env.info, attempt=self.attempt, heartbeat_details=list(self.last_heartbeat)
        )
        env.on_heartbeat = self._heartbeat
        return env

    def _heartbeat(self, *details: Any) -> None:
        self.heartbeats.append(details)
        self.last_heartbeat = details

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run the next attempt of `fn`; an attempt that raises still counts as one."""
        return await self.environment().run(fn, *args)
