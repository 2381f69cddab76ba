"""Keep every running activity heartbeating, so work held by a killed worker is retried in seconds.

Every effect is scheduled with a heartbeat timeout (workflows/effects.py). Without heartbeats,
an activity whose worker died (SIGKILL, a lost machine) is only retried when its start-to-close
timeout ends, a minute later; with them, the server sees the heartbeats stop and retries it
after the heartbeat timeout. Rather than sprinkle `activity.heartbeat()` through every database
write and SMTP send, one worker interceptor heartbeats every `HEARTBEAT_EVERY` while the activity
runs. It repeats the details the activity last gave (`activity.heartbeat(details)`), so an
activity that records its progress in heartbeat details (the notice activity records that the
mail server accepted its message) keeps that evidence for the next attempt.

The worker must flush heartbeats to the server more often than the heartbeat timeout:
`build_worker` sets `max_heartbeat_throttle_interval` to `HEARTBEAT_FLUSH`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

HEARTBEAT_EVERY = 1.0
"""Seconds between the heartbeats this interceptor sends while an activity runs."""

HEARTBEAT_FLUSH = timedelta(seconds=2)
"""The longest the worker holds a heartbeat before sending it to the server (its throttle)."""


class KeepAlive(Interceptor):
    """Heartbeat every running activity, repeating its last heartbeat details."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _KeepAliveInbound(next)


class _LastDetails(ActivityOutboundInterceptor):
    """Remember the details of the activity's own heartbeats."""

    def __init__(self, next: ActivityOutboundInterceptor) -> None:
        super().__init__(next)
        self.details: tuple[Any, ...] = ()

    def heartbeat(self, *details: Any) -> None:
        self.details = details
        self.next.heartbeat(*details)


class _KeepAliveInbound(ActivityInboundInterceptor):
    _outbound: _LastDetails

    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self._outbound = _LastDetails(outbound)
        super().init(self._outbound)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        async def beat() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT_EVERY)
                self._outbound.next.heartbeat(*self._outbound.details)

        beating = asyncio.create_task(beat())
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
