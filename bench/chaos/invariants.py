"""What must hold after the chaos, checked from three independent witnesses.

The workflow histories say what the system meant to do (each `send_notice` scheduled, with its
idempotency key, and when it completed); the SMTP server says what reached it (by Message-ID);
the records database says what was recorded. Checks, for every case:

- state: the workflow completed with the outcome its script drives it to, and its `cases` row
  says the same;
- notices: every notice scheduled completed, has its row `sent` with the Message-ID derived from
  its key, and reached the SMTP server exactly once; nothing reached it that was not scheduled;
  the notices the script needs (acknowledgement, decision, requests, closure...) are among them;
- records: the task, decision, recommendation and chair rows the script leaves, no more, none
  twice;
- deadlines: a case whose threshold decision was overdue when it opened chased its coordinator;

and for the run: nothing still running or retrying (no open workflow, no pending or failed
notice row), and no worker that stopped without being killed.

A message received twice is an *inherent repeat* when a worker was killed between its first
arrival (less SMTP_STAMP_LAG) and its activity's completion: SMTP has no idempotent submit, so a
worker killed after the server accepted the message and before its evidence was recorded leaves
the retry no way to know (activities/notices.py). Any other repeat is a duplicate, always a
failure; inherent repeats fail the run unless `--accept-inherent-repeats` is given.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from temporalio.api.enums.v1 import EventType, TimeoutType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus

from activities.db import Case as CaseRow
from activities.db import ChairAllocation, Decision, Notice, Recommendation, Task, make_engine
from activities.notices import message_id
from bench import harness
from bench.chaos.scripts import CaseRun, Expected, expected
from schemas.community_trigger import CaseOutcome
from schemas.notices import NoticeRequest
from starter import health
from starter.runtime import ARCHIVE_SCHEDULE_ID, STALL_WATCH_SCHEDULE_ID

MAIL_DOMAIN = "cspflow.example.org"

STALL_ALERT = ":cannot-move-on:"
"""In the key of the StallWatch's alert about a case (schemas.health.StallAlert.key)."""

HOUSEKEEPING = (ARCHIVE_SCHEDULE_ID, STALL_WATCH_SCHEDULE_ID)
"""Id prefixes of the workflows the worker's schedules start (starter/runtime.py)."""

SMTP_STAMP_LAG = 1.0
"""Seconds a message's arrival stamp may trail the kill of the worker that sent it.

The test SMTP server stamps a message when it has received all of it, so a worker killed in the
middle of the transaction leaves a message stamped a moment after its death: a CI chaos run
judged such a repeat a duplicate (its retry came after the restart that followed the first
kill, and no kill fell between the stamp and the completion). A message stamped within this
lag of a kill counts as sent by the killed worker. It is shorter than any restart (a worker is
down at least 0.2 s and takes seconds to start and poll), so no message from the next worker
falls inside it."""


@dataclass
class Problem:
    """One invariant that does not hold: the case, the check, and what was wrong."""

    case_id: str
    check: str
    what: str

    def line(self) -> str:
        return f"{self.check:10} {self.case_id}: {self.what}"


@dataclass
class ScheduledNotice:
    key: str
    workflow_id: str
    completed_at: float | None = None


@dataclass
class Histories:
    """What the histories of one case and its tasks say."""

    notices: dict[str, ScheduledNotice] = field(default_factory=dict)
    retries: Counter[str] = field(default_factory=Counter)
    workflow_task_failures: int = 0
    workflow_task_timeouts: int = 0
    task_failures: list[str] = field(default_factory=list)
    """The cause and message of each workflow task failure recorded."""
    unfinished: dict[str, str] = field(default_factory=dict)
    """Workflow id -> its last event, for each of the case's workflows that did not complete."""


def _failure_kind(event: HistoryEvent) -> str:
    failure = event.activity_task_started_event_attributes.last_failure
    if failure.HasField("timeout_failure_info"):
        kind = TimeoutType.Name(failure.timeout_failure_info.timeout_type)
        return "timeout:" + kind.removeprefix("TIMEOUT_TYPE_").lower()
    if failure.HasField("application_failure_info"):
        return "error:" + (failure.application_failure_info.type or "unknown")
    # e.g. the server's "Failure exceeds size limit." when a failure was over its 4 KB limit:
    # the worker bounds activity failures (activities/bounded_failures.py), so one counted here
    # is a failure that interceptor let through.
    return f"{failure.WhichOneof('failure_info') or 'failure'}: {failure.message[:40]}"


async def read_histories(client: Client, case_id: str) -> Histories:
    """Walk the case's history and its children's: notices scheduled and completed, retries."""
    found = Histories()
    pending = [case_id]
    for _ in range(100):
        if not pending:
            break
        workflow_id = pending.pop()
        handle = client.get_workflow_handle(workflow_id)
        scheduled: dict[int, str] = {}
        last = EventType.EVENT_TYPE_UNSPECIFIED
        async for event in handle.fetch_history_events():
            kind = last = event.event_type
            if kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                pending.append(
                    event.start_child_workflow_execution_initiated_event_attributes.workflow_id
                )
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attributes = event.activity_task_scheduled_event_attributes
                if attributes.activity_type.name == "send_notice":
                    (request,) = await client.data_converter.decode(
                        attributes.input.payloads, [NoticeRequest]
                    )
                    key = request.idempotency_key
                    scheduled[event.event_id] = key
                    found.notices[key] = ScheduledNotice(key, workflow_id)
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attempt = event.activity_task_started_event_attributes.attempt
                if attempt > 1:
                    found.retries[_failure_kind(event)] += attempt - 1
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                key_ = scheduled.get(
                    event.activity_task_completed_event_attributes.scheduled_event_id
                )
                if key_ is not None:
                    found.notices[key_].completed_at = event.event_time.ToDatetime().timestamp()
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                found.workflow_task_failures += 1
                failed = event.workflow_task_failed_event_attributes
                found.task_failures.append(
                    f"{workflow_id} event {event.event_id}: "
                    f"{WorkflowTaskFailedCause.Name(failed.cause)}: {failed.failure.message[:400]}"
                )
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                found.workflow_task_timeouts += 1
        if last != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            found.unfinished[workflow_id] = EventType.Name(last).removeprefix("EVENT_TYPE_")
    return found


@dataclass
class Records:
    """Every row of the records database, by case."""

    cases: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    tasks: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    decisions: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    notices: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    recommendations: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    chairs: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))


async def read_records(url: str) -> Records:
    records = Records()
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            for table, into in (
                (CaseRow, records.cases),
                (Task, records.tasks),
                (Decision, records.decisions),
                (Notice, records.notices),
                (Recommendation, records.recommendations),
                (ChairAllocation, records.chairs),
            ):
                for row in (await conn.execute(sa.select(table.__table__))).mappings():
                    into[row["case_id"]].append(row)
    finally:
        await engine.dispose()
    return records


@dataclass
class Verdict:
    """Every problem found and the figures of the checks."""

    problems: list[Problem] = field(default_factory=list)
    inherent_repeats: list[Problem] = field(default_factory=list)
    figures: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    task_failure_causes: Counter[str] = field(default_factory=Counter)
    """Workflow task failures by cause, of every case (a finished case's are not problems, but
    an auditor of the run should see what they were)."""

    def fail(self, case_id: str, check: str, what: str) -> None:
        self.problems.append(Problem(case_id, check, what))


def check_case(
    run: CaseRun,
    outcome: CaseOutcome | None,
    histories: Histories,
    records: Records,
    arrivals: Sequence[harness.Arrival],
    kills: Sequence[float],
    verdict: Verdict,
) -> None:
    """Check one case against its script, its histories, the SMTP server and the records."""
    case_id, end = run.case_id, expected(run.script)
    _check_state(run, outcome, records, end, verdict)
    for workflow_id, last in sorted(histories.unfinished.items()):
        verdict.fail(case_id, "state", f"{workflow_id} did not complete; its last event: {last}")
        for failure in histories.task_failures:
            verdict.fail(case_id, "state", f"workflow task failed: {failure}")
    _check_notices(case_id, histories, records, arrivals, kills, end, verdict)
    _check_records(case_id, records, end, verdict)
    verdict.retries.update(histories.retries)
    verdict.task_failure_causes.update(
        failure.split(": ", 2)[1] for failure in histories.task_failures
    )
    verdict.figures["workflow_task_failures"] += histories.workflow_task_failures
    verdict.figures["workflow_task_timeouts"] += histories.workflow_task_timeouts


def _check_state(
    run: CaseRun, outcome: CaseOutcome | None, records: Records, end: Expected, verdict: Verdict
) -> None:
    case_id = run.case_id
    if run.error:
        verdict.fail(case_id, "script", run.error)
    if outcome is None:
        verdict.fail(case_id, "state", "the case workflow did not complete")
    else:
        got = (outcome.threshold_met, outcome.review_carried_out, outcome.recommendations)
        want = (end.threshold_met, end.review_carried_out, end.recommendations)
        if got != want:
            verdict.fail(
                case_id, "state", f"outcome (met, reviewed, recommendations) {got}, want {want}"
            )
    rows = records.cases.get(case_id, [])
    if len(rows) != 1:
        verdict.fail(case_id, "records", f"{len(rows)} rows in cases, want 1")
        return
    row = rows[0]
    got_row = (row["stage"], row["threshold_met"], bool(row["review_carried_out"]))
    want_row = ("closed", end.threshold_met, end.review_carried_out)
    if got_row != want_row or row["closed_at"] is None:
        verdict.fail(
            case_id,
            "records",
            f"cases row (stage, met, reviewed) {got_row}, closed_at {row['closed_at']}; "
            f"want {want_row} and a closed_at",
        )


def _check_notices(
    case_id: str,
    histories: Histories,
    records: Records,
    arrivals: Sequence[harness.Arrival],
    kills: Sequence[float],
    end: Expected,
    verdict: Verdict,
) -> None:
    by_id: dict[str, list[harness.Arrival]] = defaultdict(list)
    for arrival in arrivals:
        by_id[arrival.message_id].append(arrival)
    rows = {row["idempotency_key"]: row for row in records.notices.get(case_id, [])}
    scheduled = histories.notices
    for key, notice in sorted(scheduled.items()):
        mid = message_id(key, MAIL_DOMAIN)
        received = sorted(by_id.get(mid, []), key=lambda a: a.at)
        verdict.figures["notices_expected"] += 1
        if notice.completed_at is None:
            verdict.fail(case_id, "notices", f"{key}: send_notice never completed")
        row = rows.get(key)
        if row is None or row["status"] != "sent" or row["message_id"] != mid:
            state = "no row" if row is None else f"row {row['status']} {row['message_id']}"
            verdict.fail(case_id, "records", f"{key}: {state}, want sent {mid}")
        if not received:
            verdict.fail(case_id, "notices", f"{key}: never reached the SMTP server ({mid})")
            continue
        verdict.figures["notices_received_once"] += len(received) == 1
        if len(received) == 1:
            continue
        first, finished = received[0].at, notice.completed_at or float("inf")
        killed = [k for k in kills if first - SMTP_STAMP_LAG <= k <= finished]
        what = (
            f"{key}: received {len(received)} times ({mid}); first at {first:.1f}, "
            f"activity completed at {finished:.1f}"
        )
        if killed:
            verdict.inherent_repeats.append(
                Problem(case_id, "repeat", f"{what}; worker killed at {killed[0]:.1f} in between")
            )
        else:
            # Where the nearest kill fell, so a misjudged repeat can be told from a real one.
            near = min(kills, key=lambda k: abs(k - first), default=None)
            when = (
                "no kill in the run"
                if near is None
                else f"the nearest kill {abs(first - near):.1f} s "
                f"{'before' if near <= first else 'after'} the first arrival"
            )
            verdict.fail(case_id, "duplicate", f"{what}; no worker was killed in between ({when})")
    expected_ids = {message_id(key, MAIL_DOMAIN) for key in scheduled}
    for mid, received in by_id.items():
        keys = {a.key for a in received}
        if mid not in expected_ids and not all(STALL_ALERT in k for k in keys):
            verdict.fail(case_id, "notices", f"received {sorted(keys)} ({mid}), never scheduled")
        elif mid not in expected_ids:
            # The StallWatch's alert to the coordinators (workflows/stall_watch.py): right for
            # a case that stopped, a false alarm for one that finished.
            verdict.figures["stall_alerts"] += 1
            if not histories.unfinished:
                verdict.fail(case_id, "notices", f"stall alert {sorted(keys)} for a live case")
    for key in set(rows) - set(scheduled):
        if STALL_ALERT not in key:
            verdict.fail(case_id, "records", f"notice row {key} was never scheduled")
    steps = Counter(key.split(":")[1] for key in scheduled)
    for step in end.notice_steps:
        if not steps[step]:
            verdict.fail(case_id, "notices", f"no {step} notice was sent")
    if end.overdue_chase:
        prefix = f"{end.overdue_chase}-overdue-"
        chased = [k for k in scheduled if k.split(":")[1].startswith(prefix)]
        if not chased:
            verdict.fail(case_id, "deadlines", f"the overdue {end.overdue_chase} was not chased")
        verdict.figures["overdue_chases"] += len(chased)


def _check_records(case_id: str, records: Records, end: Expected, verdict: Verdict) -> None:
    tasks = Counter(row["task_id"] for row in records.tasks.get(case_id, []))
    states = {row["task_id"]: row["state"] for row in records.tasks.get(case_id, [])}
    want_tasks = {f"{case_id}.task.{suffix}": state for suffix, state in end.tasks.items()}
    for task_id, count in tasks.items():
        if count > 1:
            verdict.fail(case_id, "records", f"{count} rows for task {task_id}")
    if states != want_tasks:
        verdict.fail(case_id, "records", f"task rows {states}, want {want_tasks}")
    decisions = Counter(row["step"] for row in records.decisions.get(case_id, []))
    if dict(decisions) != end.decisions:
        verdict.fail(case_id, "records", f"decision rows {dict(decisions)}, want {end.decisions}")
    recommendations = len(records.recommendations.get(case_id, []))
    if recommendations != end.recommendations:
        verdict.fail(
            case_id, "records", f"{recommendations} recommendation rows, want {end.recommendations}"
        )
    chairs = records.chairs.get(case_id, [])
    want_chairs = 1 if end.chair else 0
    if len(chairs) != want_chairs or any(row["released_at"] is None for row in chairs):
        verdict.fail(
            case_id,
            "records",
            f"{len(chairs)} chair allocations "
            f"({sum(r['released_at'] is None for r in chairs)} unreleased), "
            f"want {want_chairs} released",
        )


async def check_quiet(client: Client, records: Records, verdict: Verdict) -> None:
    """Nothing left in a retry loop: no open workflow, no pending or failed notice row.

    A workflow whose workflow task keeps failing must also be what production sees: listed by
    `cspflow stalled` (starter/health.py, from the server's TemporalReportedProblems) and by
    the one-case check `cspflow status` makes. One that is stuck but not listed fails "flagged".
    """
    listed = {stall.workflow_id: stall for stall in await health.stalled(client)}
    verdict.figures["stalled_listed"] = len(listed)
    running = 0
    async for described in client.list_workflows('ExecutionStatus="Running"'):
        if described.id.startswith(HOUSEKEEPING):
            continue  # a scheduled archive or stall watch run, not a case
        running += 1
        what = f"{described.workflow_type} is still running"
        own = await health.workflow_stall(client, described.id)
        if own is not None:
            what += f"; its workflow task failed {own.attempts} times: {own.reason or own.problem}"
            if described.id not in listed:
                verdict.fail(described.id, "flagged", "stuck but not listed by cspflow stalled")
        verdict.fail(described.id, "retrying", what)
        if running >= 20:
            break
    for case_id, rows in records.notices.items():
        for row in rows:
            if row["status"] != "sent":
                verdict.fail(
                    case_id, "retrying", f"notice {row['idempotency_key']} is {row['status']}"
                )


async def outcome_of(client: Client, case_id: str) -> CaseOutcome | None:
    """The case's result, or None when it did not complete."""
    handle = client.get_workflow_handle(case_id, result_type=CaseOutcome)
    described = await handle.describe()
    if described.status != WorkflowExecutionStatus.COMPLETED:
        return None
    result: CaseOutcome = await handle.result()
    return result
