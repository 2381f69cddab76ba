"""Build the parts every cspflow process needs, once: the Temporal client and the worker.

The composition root shared by worker.py, `cspflow dev` and the tests, so the worker the tests run
is the worker production runs (cosmicpython's bootstrap).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.bounded_failures import BoundedFailures
from activities.calendar import bank_holidays
from activities.configuration import ConfigurationActivities
from activities.db import SessionFactory
from activities.heartbeat import HEARTBEAT_FLUSH, KeepAlive
from activities.notices import NoticeActivities, SmtpConfig
from activities.records import RecordActivities
from activities.step_keys import StepKeyActivities
from starter.codec import KeyRing, data_converter
from starter.registry import ActivityDeps, registered_activities, registered_workflows
from starter.settings import Settings
from workflows.archive import ArchiveClosedCases
from workflows.partner_task import PartnerTaskWorkflow
from workflows.signed_steps import SignedStepsInterceptor
from workflows.stall_watch import STALL_WATCH_EVERY, StallWatch

SHARED_WORKFLOWS: Sequence[type] = (PartnerTaskWorkflow, ArchiveClosedCases, StallWatch)
"""The workflows every process shares: the partner task and the worker's housekeeping."""


def workflows() -> list[type]:
    """Every workflow the worker runs: each registered process's, then the shared ones."""
    return [*registered_workflows(), *SHARED_WORKFLOWS]


ARCHIVE_SCHEDULE_ID = "cspflow-archive"
"""The Temporal Schedule that runs ArchiveClosedCases daily (`ensure_archive_schedule`)."""

STALL_WATCH_SCHEDULE_ID = "cspflow-stall-watch"
"""The Temporal Schedule that runs StallWatch every STALL_WATCH_EVERY (`ensure_schedules`)."""

# Under docker-compose's stop_grace_period (30 s), so a stop never kills a send half-way.
GRACEFUL_SHUTDOWN = timedelta(seconds=20)

# Schemas and pure rules are deterministic; passing them through the sandbox instead of
# re-importing them per workflow run cut worker CPU per workflow from 12.1 ms to 4.2 ms here.
# cryptography checks step signatures (workflows/rules/signatures.py); its Rust core imports
# cryptography.exceptions when a signature is bad, which fails inside the sandbox's importer.
PASSTHROUGH = (
    "schemas",
    "workflows.rules",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "cryptography",
)


STARTUP_WAIT = timedelta(minutes=5)
"""How long a starting worker waits for the records database and Temporal before giving up."""

STARTUP_BACKOFF = (0.5, 10.0)
"""The first wait between tries at start, in seconds, doubling up to the second."""

T = TypeVar("T")


async def wait_for(
    what: str,
    start: Callable[[], Awaitable[T]],
    *,
    within: timedelta = STARTUP_WAIT,
    backoff: tuple[float, float] = STARTUP_BACKOFF,
) -> T:
    """Run `start` until it succeeds, waiting with backoff between tries, for at most `within`.

    A worker started while PostgreSQL or Temporal is down (a host booting, a restart of the
    other service, docker-compose starting all at once) waits for it instead of crashing, and
    logs what it waits for. A setting that cannot work (ValueError, TypeError) fails at once;
    any other error is retried until `within` has passed, then raised.
    """
    log = structlog.get_logger("worker")
    deadline = time.monotonic() + within.total_seconds()
    wait = backoff[0]
    for attempt in range(1, 10_000):
        try:
            return await start()
        except (ValueError, TypeError):
            raise
        except Exception as error:
            if time.monotonic() + wait > deadline:
                log.error("worker_gave_up_waiting", waiting_for=what, attempts=attempt)
                raise
            log.warning(
                "worker_waiting",
                waiting_for=what,
                attempt=attempt,
                error=type(error).__name__,
                retry_in_seconds=round(wait, 2),
            )
        await asyncio.sleep(wait)
        wait = min(wait * 2, backoff[1])
    raise RuntimeError(f"{what} did not become available")


def answer_links(settings: Settings) -> Callable[[str], str]:
    """Issue answer links for partner-task mails, signed with the console's key (issue 6)."""
    from starter.answer_links import answer_url, issue_answer_token

    secret = settings.web_secret()
    return lambda task_id: answer_url(settings.web_url, issue_answer_token(secret, task_id))


def keyring(settings: Settings) -> KeyRing | None:
    """The payload key ring: from CSPFLOW_PAYLOAD_KEYS, or the key file when it exists.

    A key file named explicitly must exist; the default one exists once `cspflow dev` made it.
    """
    path = settings.key_file
    return KeyRing.load(path if settings.payload_key_file or path.exists() else None)


def ensure_keyring(settings: Settings) -> KeyRing:
    """Load the key ring, creating the default key file with one new key on first start."""
    found = keyring(settings)
    if found is not None:
        return found
    created = KeyRing.generate("k1")
    settings.key_file.parent.mkdir(parents=True, exist_ok=True)
    created.write(settings.key_file)
    return created


async def connect(settings: Settings, identity: str | None = None) -> Client:
    """Connect to Temporal; every payload is encrypted when a key ring is configured."""
    kwargs: dict[str, Any] = {
        "namespace": settings.temporal_namespace,
        "data_converter": data_converter(keyring(settings)),
    }
    if identity:
        kwargs["identity"] = identity
    return await Client.connect(settings.temporal_address, **kwargs)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox workflows run in; replay (tests, `cspflow audit replay`) uses the same."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def activities_for(
    settings: Settings, session_factory: SessionFactory, client: Client | None = None
) -> list[Any]:
    """Every activity, bound to its dependencies; the archive activity needs the client."""
    # Imported here: the audit modules import this one for workflows() and the sandbox runner.
    from starter.audit.archive import ArchiveActivities
    from starter.health import StallActivities
    from starter.step_signing import verification_keys

    records = RecordActivities(session_factory)
    notices = NoticeActivities(
        session_factory, SmtpConfig.from_settings(settings), answer_links=answer_links(settings)
    )
    configuration = ConfigurationActivities(settings.directory_file)
    archive = [] if client is None else [ArchiveActivities(settings, session_factory, client)]
    step_keys = StepKeyActivities(lambda: verification_keys(settings))
    stalls = [StallActivities(client, session_factory, settings.directory_file)] if client else []
    return [
        bank_holidays,
        notices.send_notice,
        *registered_activities(ActivityDeps(settings, session_factory)),
        configuration.independent_chairs,
        records.record_case,
        records.record_decision,
        records.record_task,
        records.record_recommendation,
        records.chair_loads,
        records.reserve_chair,
        records.release_chair,
        step_keys.step_verification_keys,
        *(activities.archive_closed_cases for activities in archive),
        *(activities.stalled_cases for activities in stalls),
    ]


def build_worker(
    client: Client,
    settings: Settings,
    session_factory: SessionFactory,
    *,
    task_queue: str | None = None,
    **options: Any,
) -> Worker:
    """The cspflow worker: every workflow and activity on one task queue."""
    defaults: dict[str, Any] = {
        "max_cached_workflows": settings.max_cached_workflows,
        # First, so a failure's own stack is short: every activity failure stays within the
        # server's size limit (activities/bounded_failures.py). Every step's signature is
        # checked before its validator (issue 13).
        "interceptors": [BoundedFailures(), KeepAlive(), SignedStepsInterceptor()],
        "max_heartbeat_throttle_interval": HEARTBEAT_FLUSH,
    }
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=workflows(),
        activities=activities_for(settings, session_factory, client),
        activity_executor=ThreadPoolExecutor(4),
        # Let running activities finish on a routine stop: a notice cancelled between the SMTP
        # server accepting it and its row being marked sent would be sent again on retry.
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflow_runner=workflow_runner(),
        # Heartbeats reach the server within HEARTBEAT_FLUSH, inside every heartbeat timeout.
        **(defaults | options),
    )


def archive_schedule(settings: Settings) -> Schedule:
    """Run ArchiveClosedCases daily at 02:30 UTC; a run missed while down runs within a day."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ArchiveClosedCases.run,
            id=ARCHIVE_SCHEDULE_ID,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=23),
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(2)],
                    minute=[ScheduleRange(30)],
                    comment="daily at 02:30 UTC",
                )
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
        state=ScheduleState(
            note="Bundles closed cases before the namespace retention period removes them."
        ),
    )


def stall_watch_schedule(settings: Settings) -> Schedule:
    """Run StallWatch every STALL_WATCH_EVERY; one run at a time; missed runs are not caught up."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            StallWatch.run,
            id=STALL_WATCH_SCHEDULE_ID,
            task_queue=settings.task_queue,
            execution_timeout=STALL_WATCH_EVERY,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=STALL_WATCH_EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(
            note="Tells an area's coordinators when one of their cases cannot move on."
        ),
    )


async def _ensure_schedule(client: Client, schedule_id: str, desired: Schedule) -> bool:
    """Create a schedule, or bring an existing one up to date; safe to repeat.

    An existing schedule keeps its state, so one an operator paused stays paused. A server
    without schedules (the time-skipping test server), or a client not allowed to manage them,
    is logged and False returned: the worker runs on.
    """
    log = structlog.get_logger(__name__)

    def update(given: ScheduleUpdateInput) -> ScheduleUpdate:
        current = given.description.schedule
        return ScheduleUpdate(
            schedule=dataclasses.replace(
                current, action=desired.action, spec=desired.spec, policy=desired.policy
            )
        )

    try:
        try:
            await client.create_schedule(schedule_id, desired)
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(schedule_id).update(update)
    except RPCError as error:
        if error.status not in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.PERMISSION_DENIED):
            raise
        log.warning("schedule_not_created", schedule_id=schedule_id, error=str(error))
        return False
    log.info("schedule_ready", schedule_id=schedule_id)
    return True


async def ensure_archive_schedule(client: Client, settings: Settings) -> None:
    """Create the daily archive schedule, or bring an existing one up to date; safe to repeat.

    Without schedules on the server, `cspflow audit archive` does the same work by hand.
    """
    if await _ensure_schedule(client, ARCHIVE_SCHEDULE_ID, archive_schedule(settings)):
        await check_retention(client, settings)


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Every schedule a worker keeps: the daily archive and the stall watch."""
    await ensure_archive_schedule(client, settings)
    await _ensure_schedule(client, STALL_WATCH_SCHEDULE_ID, stall_watch_schedule(settings))


async def namespace_retention(client: Client) -> timedelta | None:
    """How long the namespace keeps closed histories, or None when the server cannot say."""
    try:
        response = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace)
        )
    except RPCError as error:
        if error.status not in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.PERMISSION_DENIED):
            raise
        return None
    return response.config.workflow_execution_retention_ttl.ToTimedelta()


async def check_retention(client: Client, settings: Settings) -> bool:
    """Warn when Temporal deletes closed histories sooner than CSPFLOW_RETENTION_DAYS says.

    The archive bundles a case retention - margin days after it closed; a namespace that keeps
    histories for less would delete cases before they are bundled.
    """
    actual = await namespace_retention(client)
    longest = settings.longest_retention()
    if actual is None or actual >= timedelta(days=longest):
        return True
    structlog.get_logger(__name__).error(
        "retention_shorter_than_configured",
        namespace=client.namespace,
        namespace_retention_days=actual / timedelta(days=1),
        configured_days=settings.retention_days,
        fix=f"temporal operator namespace update --retention {longest}d {client.namespace}, "
        "or set CSPFLOW_RETENTION_DAYS to the namespace's retention",
    )
    return False
