"""Refused steps reach the access log, and `cspflow stalled` counts them (issue 13).

A step sent straight to the Temporal frontend without the console's signature is refused in the
Update validator (workflows/signed_steps.py) before anything is recorded, so Temporal's history
keeps no trace of it: the worker that refused it is the only one who knows. The issue's
acceptance asks that such an attempt be "visible to `cspflow stalled` or the access log, not
silent". So the worker's composition root (worker.py, `cspflow dev`) installs a
`RefusedStepForwarder`: a structlog processor that picks out each `unsigned_step_refused`
event and hands it, thread-safely, to a task that writes one append-only access-log row for it
(view `refused-step`). The validator itself only logs, as before, so workflow code stays
deterministic; validators do not run on replay, so a replay writes nothing.

What a row says: user "unverified" (the `by` and the signer a refused step names are the
sender's claim, never proved: they may name an innocent colleague, and nothing the sender typed is
written), the case, and in `detail` why, which step and which workflow (the case's or one of its
partner tasks'). Never the step's input.

The worker never waits for the records database here: the validator's thread only queues the
event; a write that fails is tried again briefly, then dropped, counted and logged
(`refused_step_not_logged`), and a queue full of refusals (a flood) drops the excess the same way.
The structlog line stays in the worker's log either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from activities.access_log import REFUSED_STEP, list_access, record_access
from activities.db import SessionFactory
from schemas.audit import AccessRecord, RefusedSteps
from workflows import search_attributes
from workflows.signed_steps import OPENING

EVENT = "unsigned_step_refused"
"""The structlog event workflows/signed_steps.py logs for each refused step."""

REFUSED_BY = "unverified"
"""The access log's user for a refused step: nobody's identity was proved."""

WINDOW = timedelta(hours=24)
"""How far back `cspflow stalled` counts refused steps: a day, so a daily check sees each."""

QUEUE_LIMIT = 1000
"""Refusals waiting to be written; beyond this a flood's excess is dropped and counted."""

RETRIES = (0.2, 1.0)
"""Seconds to wait before each retry of a failed write; then the row is dropped."""

WRITE_TIMEOUT = 5.0
"""Seconds one write may take before it counts as failed."""

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RefusedStep:
    """One refusal as the validator logged it: ids and a kind, never the step's input."""

    workflow_id: str
    update: str
    kind: str
    at: datetime

    @property
    def case_id(self) -> str:
        return self.workflow_id.partition(".task.")[0]

    @property
    def detail(self) -> str:
        return f"{self.kind}: {self.update} on {self.workflow_id}"


def _parse_detail(detail: str | None) -> tuple[str, str]:
    """The kind and the step of a row written by `RefusedStep.detail`."""
    kind, _, rest = (detail or "").partition(": ")
    return kind, rest.partition(" on ")[0]


class RefusedStepForwarder:
    """A structlog processor that writes each refused step to the access log, off-thread.

    Update validators run in the worker's workflow threads, not on its event loop: the processor
    only schedules the row on the loop (`call_soon_threadsafe`), and one task writes them in turn.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        loop: asyncio.AbstractEventLoop,
        *,
        retries: tuple[float, ...] = RETRIES,
        limit: int = QUEUE_LIMIT,
    ) -> None:
        self._sessions = sessions
        self._loop = loop
        self._retries = retries
        self._queue: asyncio.Queue[RefusedStep] = asyncio.Queue(limit)
        self.written = 0
        self.dropped = 0

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Queue a row for an `unsigned_step_refused` event; pass every event on unchanged."""
        if event.get("event") == EVENT:
            step = RefusedStep(
                workflow_id=str(event.get("workflow_id", ""))[:200],
                update=str(event.get("update", ""))[:100],
                kind=str(event.get("kind", ""))[:40],
                at=datetime.now(UTC),
            )
            with contextlib.suppress(RuntimeError):  # the loop has closed: the worker stopped
                self._loop.call_soon_threadsafe(self._offer, step)
        return event

    def _offer(self, step: RefusedStep) -> None:
        try:
            self._queue.put_nowait(step)
        except asyncio.QueueFull:
            self._drop(step, "queue full")

    def _drop(self, step: RefusedStep, why: str) -> None:
        self.dropped += 1
        log.error(
            "refused_step_not_logged",
            workflow_id=step.workflow_id,
            reason=why,
            dropped=self.dropped,
        )

    async def run(self) -> None:
        """Write queued refusals until cancelled."""
        while True:
            step = await self._queue.get()
            try:
                await self._write(step)
            finally:
                self._queue.task_done()

    async def _write(self, step: RefusedStep) -> None:
        for wait in (*self._retries, None):
            try:
                await asyncio.wait_for(
                    record_access(
                        self._sessions,
                        REFUSED_BY,
                        step.case_id,
                        REFUSED_STEP,
                        step.at,
                        detail=step.detail,
                    ),
                    WRITE_TIMEOUT,
                )
            except Exception as error:
                if wait is None:
                    self._drop(step, type(error).__name__)
                    return
                await asyncio.sleep(wait)
            else:
                self.written += 1
                return

    async def drain(self, within: float) -> None:
        """Wait up to `within` seconds for the queued rows to be written."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), within)


@contextlib.asynccontextmanager
async def refused_steps_forwarded(
    sessions: SessionFactory, *, drain_within: float = 5.0
) -> AsyncIterator[RefusedStepForwarder]:
    """Forward refused steps to the access log while the block runs (a worker's lifetime).

    The processor goes first in structlog's chain, in place, so loggers already cached see it
    and it reads the event before any processor masks or renders it.
    """
    forwarder = RefusedStepForwarder(sessions, asyncio.get_running_loop())
    processors = structlog.get_config()["processors"]
    if not isinstance(processors, list):
        processors = [*processors]
        structlog.configure(processors=processors)
    processors.insert(0, forwarder)
    writer = asyncio.create_task(forwarder.run())
    try:
        yield forwarder
    finally:
        with contextlib.suppress(ValueError):
            processors.remove(forwarder)
        await forwarder.drain(drain_within)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer


async def refused_steps(
    sessions: SessionFactory,
    *,
    now: datetime | None = None,
    client: Client | None = None,
    areas: frozenset[str] | None = None,
) -> list[RefusedSteps]:
    """The steps refused per case in the last WINDOW, most refused first.

    A step refused only because its new case was still fetching its keys (CaseOpening) is the
    front's own retry, not an attempt: it stays in the access log but is not counted. With
    `areas`, only cases whose area (the case's search attribute, asked of `client`) is in them.
    """
    since = (now or datetime.now(UTC)) - WINDOW
    rows = await list_access(sessions, view=REFUSED_STEP, since=since)
    by_case: dict[str, list[AccessRecord]] = defaultdict(list)
    for row in rows:
        if row.case_id and _parse_detail(row.detail)[0] != OPENING:
            by_case[row.case_id].append(row)
    if areas is not None:
        assert client is not None, "filtering by area needs the Temporal client"
        by_case = {
            case_id: found
            for case_id, found in by_case.items()
            if await _area(client, case_id) in areas
        }
    summaries = [
        RefusedSteps(
            case_id=case_id,
            count=len(found),
            first_at=found[0].at,
            last_at=found[-1].at,
            steps=tuple(dict.fromkeys(_parse_detail(r.detail)[1] for r in found)),
            kinds=tuple(dict.fromkeys(_parse_detail(r.detail)[0] for r in found)),
        )
        for case_id, found in by_case.items()
    ]
    return sorted(summaries, key=lambda s: (-s.count, s.case_id))


async def _area(client: Client, case_id: str) -> str | None:
    """The case's area from its search attribute; None when the case cannot be described."""
    try:
        described = await client.get_workflow_handle(case_id).describe()
    except RPCError:
        return None
    return described.typed_search_attributes.get(search_attributes.AREA)
