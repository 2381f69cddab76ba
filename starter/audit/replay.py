"""Replay of case histories against this release's workflow code (issue 4, "Replay").

A case's history is the record of every decision its workflow code made. Replaying it with
`temporalio.worker.Replayer` runs this release's code over that record: if the code would now
decide differently at any point, a case still running would fail on its next step after the
release is deployed (README: changing a running workflow). An auditor uses the same replay to
show that the record and the code agree.

Every process is covered with no per-process code: a case is found by its search attributes (or
in the records database), its partner tasks are found in its own history, and every workflow in
every workflow of `starter.runtime.workflows()` is replayed by the sandboxed runner the worker uses.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent, WorkflowExecutionStartedEventAttributes
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from schemas.errors import CspflowError, InputError
from schemas.shared import Model, Process
from starter import strict_json
from starter.codec import KeyRing, data_converter
from starter.runtime import workflow_runner
from starter.runtime import workflows as registered_workflows

if TYPE_CHECKING:
    from temporalio.runtime import Runtime

    from activities.db import SessionFactory


class ReplayError(CspflowError):
    """A history could not be fetched or read for replay; the message says what to do."""


class ReplayReport(Model):
    """How one workflow history replayed against this release's code."""

    workflow_id: str = Field(description="The case id, or the partner task id.")
    run_id: str = Field(description="The run of the workflow this history records.")
    workflow_type: str = Field(
        description="The workflow's registered name (its Temporal workflow type)."
    )
    ok: bool = Field(description="True when this release reproduced the history exactly.")
    divergence: str | None = Field(
        default=None,
        description="Where this release's code first departed from the history, in plain words.",
    )
    event_id: int | None = Field(
        default=None, description="The history event at which the code diverged, when known."
    )
    event_type: str | None = Field(
        default=None, description="That event's type, e.g. ActivityTaskScheduled."
    )
    raw_error: str | None = Field(
        default=None, description="The Temporal SDK's own message, for an engineer."
    )


class ReplayResults(Model):
    """Every history replayed in one run of `cspflow audit replay`."""

    replayed: int = Field(description="How many histories were replayed.")
    clean: int = Field(description="How many replayed exactly.")
    diverged: int = Field(description="How many this release could not reproduce.")
    reports: list[ReplayReport] = Field(description="One report per history, in replay order.")

    @classmethod
    def of(cls, reports: Sequence[ReplayReport]) -> ReplayResults:
        clean = sum(1 for r in reports if r.ok)
        return cls(
            replayed=len(reports), clean=clean, diverged=len(reports) - clean, reports=list(reports)
        )


# --------------------------------------------------------------------------------------------
# Fetching and selecting
# --------------------------------------------------------------------------------------------


async def fetch_case_histories(client: Client, case_id: str) -> list[WorkflowHistory]:
    """Fetch a case's history and the histories of all its child workflows, parents first.

    Every run is included: earlier runs of a case that continued as new (found through each
    run's `continued_execution_run_id`) and later runs of a child that did. Children are found
    in the ChildWorkflowExecutionStarted events of each history, recursively.
    """
    latest = await _fetch(client, case_id, None)
    runs = [latest]
    while previous := _started(runs[0]).continued_execution_run_id:
        runs.insert(0, await _fetch(client, case_id, previous))
    histories: list[WorkflowHistory] = []
    seen: set[str] = set()
    pending = list(runs)
    while pending:
        history = pending.pop(0)
        if history.run_id in seen:
            continue
        seen.add(history.run_id)
        histories.append(history)
        for event in history.events:
            if event.HasField("child_workflow_execution_started_event_attributes"):
                child = event.child_workflow_execution_started_event_attributes.workflow_execution
                pending.extend(await _child_runs(client, child.workflow_id, child.run_id, seen))
    return histories


async def _child_runs(
    client: Client, workflow_id: str, run_id: str, seen: set[str]
) -> list[WorkflowHistory]:
    """A child's run and the runs it continued as new into."""
    runs: list[WorkflowHistory] = []
    next_run: str | None = run_id
    while next_run and next_run not in seen:
        history = await _fetch(client, workflow_id, next_run)
        runs.append(history)
        last = history.events[-1] if history.events else None
        continued = last is not None and last.HasField(
            "workflow_execution_continued_as_new_event_attributes"
        )
        next_run = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if continued and last is not None
            else None
        )
    return runs


async def _fetch(client: Client, workflow_id: str, run_id: str | None) -> WorkflowHistory:
    try:
        return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            run = f" (run {run_id})" if run_id else ""
            raise ReplayError(
                f"no history for {workflow_id!r}{run} on the Temporal server: check the id with "
                "`cspflow cases`; a closed case is removed after the namespace's retention "
                "period, so replay its exported bundle with `cspflow audit replay --from DIR`"
            ) from None
        raise


_ID = re.compile(r"[A-Za-z0-9._-]+")


async def select_cases(
    client: Client,
    *,
    process: str | None = None,
    area: str | None = None,
    closed_since: date | None = None,
    session_factory: SessionFactory | None = None,
) -> list[str]:
    """Return the ids of the cases (never their partner tasks) matching every filter given.

    Asks Temporal's visibility store (search attributes CspProcess and CspArea, CloseTime).
    A server that cannot list workflows (the time-skipping test server of rehearsal mode
    answers UNIMPLEMENTED) is answered from the records database instead.
    """
    if process is not None and process not in {p.value for p in Process}:
        known = ", ".join(p.value for p in Process)
        raise InputError(f"no process {process!r}; known processes: {known}")
    if area is not None and not _ID.fullmatch(area):
        raise InputError(f"{area!r} is not an area id: use the id from the CSP directory")
    clauses = []
    if process is not None:
        clauses.append(f"CspProcess = '{process}'")
    if area is not None:
        clauses.append(f"CspArea = '{area}'")
    if closed_since is not None:
        clauses.append(f"CloseTime >= '{closed_since.isoformat()}T00:00:00Z'")
    found: set[str] = set()
    try:
        async for execution in client.list_workflows(" AND ".join(clauses) or None):
            # Cases only: not their partner tasks, nor the scheduled archive runs.
            if ".task." not in execution.id and not execution.id.startswith("cspflow-archive"):
                found.add(execution.id)
    except RPCError as error:
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        if session_factory is None:
            raise ReplayError(
                "this Temporal server cannot list workflows and no records database was "
                "given: name the case (`cspflow audit replay CASE_ID`)"
            ) from None
        return await _cases_on_record(session_factory, process, area, closed_since)
    return sorted(found)


async def _cases_on_record(
    session_factory: SessionFactory,
    process: str | None,
    area: str | None,
    closed_since: date | None,
) -> list[str]:
    from activities.queries import list_cases

    rows = await list_cases(session_factory, process=process, area=area)
    return sorted(
        row.case_id
        for row in rows
        if closed_since is None
        or (row.closed_at is not None and row.closed_at.date() >= closed_since)
    )


# --------------------------------------------------------------------------------------------
# Replaying
# --------------------------------------------------------------------------------------------


async def replay_histories(
    histories: Iterable[WorkflowHistory],
    keyring: KeyRing | None,
    *,
    workflows: Sequence[type] | None = None,
    runtime: Runtime | None = None,
    on_report: Callable[[ReplayReport], None] | None = None,
) -> list[ReplayReport]:
    """Replay each history against this release's workflows and report how each went.

    `workflows` defaults to every workflow the worker registers; `on_report` is called as each
    history finishes (a progress bar).
    """
    replayer = Replayer(
        workflows=list(registered_workflows() if workflows is None else workflows),
        # Old histories may hold plain payloads; a replay records nothing (starter.codec).
        data_converter=data_converter(keyring, accept_unencrypted=True),
        workflow_runner=workflow_runner(),
        runtime=runtime,
    )
    listed = list(histories)
    for history in listed:
        _started(history)  # a part of a history is refused here, naming it, not mid-replay

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in listed:
            yield history

    reports = []
    async with replayer.workflow_replay_iterator(each()) as results:
        async for result in results:
            report = _report(result.history, result.replay_failure)
            reports.append(report)
            if on_report is not None:
                on_report(report)
    return reports


def _report(history: WorkflowHistory, failure: Exception | None) -> ReplayReport:
    base = {
        "workflow_id": history.workflow_id,
        "run_id": history.run_id,
        "workflow_type": _started(history).workflow_type.name,
    }
    if failure is None:
        return ReplayReport(ok=True, **base)
    raw = str(failure)
    event_id, words = describe_divergence(raw, history)
    event = _event(history, event_id)
    return ReplayReport(
        ok=False,
        divergence=words,
        event_id=event_id,
        event_type=_type_name(event) if event is not None else None,
        raw_error=raw,
        **base,
    )


# What this release's code did, by the state machine in sdk-core that met the history event.
_DID = {
    "activity": "scheduled an activity",
    "local activity": "ran a local activity",
    "timer": "started a timer (a workflow.sleep or a wait with a timeout)",
    "child workflow": "started a child workflow",
    "complete workflow": "completed the workflow",
    "fail workflow": "failed the workflow",
    "cancel workflow": "cancelled the workflow",
    "continue as new workflow": "continued as new",
    "signal external wf": "signalled another workflow",
    "cancel external wf": "asked another workflow to cancel",
    "change": "checked a patch (workflow.patched)",
    "update": "answered an update",
    "nexus operation": "started a Nexus operation",
    "upsertworkflowsearchattributesmachine": "upserted search attributes",
    "modifyworkflowpropertiesmachine": "modified the workflow's properties (memo)",
}
_INNER = re.compile(r'Nondeterminism error: (?P<inner>(?:[^"\\]|\\.)*)')
_UNHANDLED = re.compile(
    r"^(?P<machine>.+?)(?: machine)? (?:does not|cannot) handle (?:this event: )?"
    r"HistoryEvent\(id: (?P<id>\d+), (?P<type>\w+)\)"
)
_NO_COMMAND = re.compile(r"^No command scheduled for event HistoryEvent\(id: (?P<id>\d+), \w+\)")
_MISMATCH = re.compile(
    r"^(?P<what>Activity|Child workflow) (?P<field>type|id) of scheduled event '(?P<had>[^']*)' "
    r"does not match [^']*'(?P<did>[^']*)'"
)
_PATCH = re.compile(r"patch marker encountered for change (?P<patch>\S+), but there is no")
_FAILURE_TYPE = re.compile(r'r#type: "(\w+)"')
_FAILURE_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
_UNREGISTERED = re.compile(r"[Ww]orkflow (?:class|type) (?P<name>\S+) is not registered")


def describe_divergence(raw: str, history: WorkflowHistory) -> tuple[int | None, str]:
    """Say in plain words where the code departed from the history: (event id, sentence).

    Reads the nondeterminism message of sdk-core ("Workflow activation completion failed: ...
    Nondeterminism error: Timer machine does not handle this event: HistoryEvent(id: 5,
    ActivityTaskScheduled)") and names the event with what the history says happened there.
    """
    match = _INNER.search(raw)
    if match is None:
        return None, _failed_before_divergence(raw, history)
    inner = match.group("inner").replace('\\"', '"').replace("\\\\", "\\")

    if found := _UNHANDLED.match(inner):
        event_id = int(found.group("id"))
        did = _DID.get(found.group("machine").strip().lower(), f"{found.group('machine')} ran")
        return event_id, (
            f"at event {event_id} the history records {_what(history, event_id)}, but this "
            f"release's code {did} instead"
        )
    if found := _NO_COMMAND.match(inner):
        event_id = int(found.group("id"))
        return event_id, (
            f"at event {event_id} the history records {_what(history, event_id)}, but this "
            "release's code did nothing there (it finished or waited for something else)"
        )
    if found := _MISMATCH.match(inner):
        kind, field = found.group("what").lower(), found.group("field")
        scheduled = _first_scheduled(history, kind, field, found.group("had"))
        where = f"at event {scheduled}" if scheduled is not None else "at one step"
        return scheduled, (
            f"{where} the history records {kind} {field} {found.group('had')!r} scheduled, but "
            f"this release's code scheduled {kind} {field} {found.group('did')!r} instead"
        )
    if found := _PATCH.search(inner):
        return None, (
            f"the history records patch {found.group('patch')!r}, but this release's code no "
            "longer checks it there: keep workflow.patched or workflow.deprecate_patch until "
            "no case that ran before the patch is still open"
        )
    return None, f"this release's code departed from the history: {inner}"


def _failed_before_divergence(raw: str, history: WorkflowHistory) -> str:
    """Plain words for a replay that failed for a reason other than nondeterminism."""
    kind = _FAILURE_TYPE.search(raw)
    kind_name = kind.group(1) if kind else ""
    if kind_name == "NotFoundError" or _UNREGISTERED.search(raw):
        return (
            f"this release has no workflow named {_started(history).workflow_type.name}: a "
            "running case of this kind would stop; register its process in starter.processes"
        )
    if kind_name in ("PayloadDecryptionError", "UnknownKeyError"):
        return (
            "the history's payloads cannot be decrypted with this key ring: give the keys they "
            "were written with in CSPFLOW_PAYLOAD_KEYS or the key file (`encryption-key-id` in "
            "each payload's metadata names the key)"
        )
    if "Unknown payload encoding binary/encrypted" in raw:
        return (
            "the history's payloads are encrypted and no key ring is configured: set "
            "CSPFLOW_PAYLOAD_KEYS or the key file"
        )
    message = _FAILURE_MESSAGE.search(raw)
    said = message.group(1) if message else raw
    named = f" ({kind_name})" if kind_name else ""
    return f"the replay failed before any divergence could be located{named}: {said}"


def _what(history: WorkflowHistory, event_id: int) -> str:
    """What the history says happened at one event, in plain words."""
    event = _event(history, event_id)
    if event is None:
        return f"event {event_id}"
    kind = _type_name(event)
    if event.HasField("activity_task_scheduled_event_attributes"):
        name = event.activity_task_scheduled_event_attributes.activity_type.name
        return f"activity {name!r} scheduled ({kind})"
    if event.HasField("timer_started_event_attributes"):
        timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        return f"a timer of {_duration(timeout)} started ({kind})"
    if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
        child = event.start_child_workflow_execution_initiated_event_attributes
        return f"child workflow {child.workflow_type.name} {child.workflow_id!r} started ({kind})"
    if event.HasField("marker_recorded_event_attributes"):
        return f"marker {event.marker_recorded_event_attributes.marker_name!r} ({kind})"
    return kind


def _duration(span: timedelta) -> str:
    """'9 d 2 h 18 min', to the second only when under a minute."""
    seconds = round(span.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{rest // 60} min"]
    return " ".join(p for p in parts if p and p != "0 min")


def _first_scheduled(history: WorkflowHistory, kind: str, field: str, value: str) -> int | None:
    """The first event scheduling that activity or child workflow (the message has no id)."""
    for event in history.events:
        if kind == "activity" and event.HasField("activity_task_scheduled_event_attributes"):
            attrs = event.activity_task_scheduled_event_attributes
            if (attrs.activity_type.name if field == "type" else attrs.activity_id) == value:
                return int(event.event_id)
        if kind == "child workflow" and event.HasField(
            "start_child_workflow_execution_initiated_event_attributes"
        ):
            child = event.start_child_workflow_execution_initiated_event_attributes
            if (child.workflow_type.name if field == "type" else child.workflow_id) == value:
                return int(event.event_id)
    return None


def _event(history: WorkflowHistory, event_id: int | None) -> HistoryEvent | None:
    return next((e for e in history.events if e.event_id == event_id), None)


def _type_name(event: HistoryEvent) -> str:
    """'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED' -> 'ActivityTaskScheduled', as sdk-core prints it."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


def _started(history: WorkflowHistory) -> WorkflowExecutionStartedEventAttributes:
    if not history.events or not history.events[0].HasField(
        "workflow_execution_started_event_attributes"
    ):
        raise ReplayError(
            f"the history of {history.workflow_id!r} does not begin with the workflow's start: "
            "it is not a whole history; export it again"
        )
    return history.events[0].workflow_execution_started_event_attributes


# --------------------------------------------------------------------------------------------
# Files and pipeline output
# --------------------------------------------------------------------------------------------

_RUN_SUFFIX = re.compile(r"\.run-\d+$")


def export_histories(histories: Sequence[WorkflowHistory], directory: Path) -> list[Path]:
    """Write each history as `<workflow_id>.json` (the JSON `temporal workflow show` reads).

    A workflow with several runs (continued as new) gets `<workflow_id>.run-<n>.json`, oldest
    first. Files of the same name are replaced.
    """
    directory.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for history in histories:
        counts[history.workflow_id] = counts.get(history.workflow_id, 0) + 1
    numbers: dict[str, int] = {}
    written = []
    for history in histories:
        stem = history.workflow_id.replace("/", "_")
        if counts[history.workflow_id] > 1:
            numbers[history.workflow_id] = numbers.get(history.workflow_id, 0) + 1
            stem = f"{stem}.run-{numbers[history.workflow_id]}"
        path = directory / f"{stem}.json"
        path.write_text(history.to_json(), encoding="utf-8")
        written.append(path)
    return written


def load_histories(directory: Path) -> list[WorkflowHistory]:
    """Read every history file in a folder, sorted by name; other JSON files are skipped.

    The workflow id is the one the start event records, else the file name.
    """
    if not directory.is_dir():
        raise InputError(
            f"{directory} is not a folder: give the folder `cspflow audit export --out` wrote"
        )
    histories = []
    for path in sorted(directory.glob("*.json")):
        try:
            document = strict_json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"cannot read {path} as JSON ({error}): export it again") from None
        if not isinstance(document, dict) or not isinstance(document.get("events"), list):
            continue  # not a history: a key ring, a manifest
        started = (document["events"] or [{}])[0].get("workflowExecutionStartedEventAttributes")
        workflow_id = (started or {}).get("workflowId") or _RUN_SUFFIX.sub("", path.stem)
        try:
            histories.append(WorkflowHistory.from_json(workflow_id, document))
        except Exception as error:
            raise InputError(
                f"{path} is not a workflow history ({error}): export it again"
            ) from None
    if not histories:
        raise InputError(
            f"no workflow histories in {directory}: write some with `cspflow audit export`"
        )
    return histories


def junit_xml(reports: Sequence[ReplayReport], suite: str = "cspflow audit replay") -> str:
    """JUnit XML for a CI pipeline: one testcase per history, a failure for each divergence."""
    failures = sum(1 for r in reports if not r.ok)
    root = ET.Element("testsuites", name=suite, tests=str(len(reports)), failures=str(failures))
    testsuite = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(reports)), failures=str(failures), errors="0"
    )
    for report in reports:
        case = ET.SubElement(
            testsuite,
            "testcase",
            classname=f"replay.{report.workflow_type}",
            name=f"{report.workflow_id} (run {report.run_id})",
        )
        if not report.ok:
            failure = ET.SubElement(
                case,
                "failure",
                message=report.divergence or "diverged",
                type="NondeterminismError"
                if "Nondeterminism" in (report.raw_error or "")
                else "ReplayFailure",
            )
            failure.text = report.raw_error
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
