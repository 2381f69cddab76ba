"""A case's timeline: one chronological account from its histories and the records database.

Issue 4 ("Timeline"): each step, each decision with who made it and the reasons given, each
notice (to whom, template, Message-ID, content hash), each deadline with its due date and whether
it was met or by how much it was missed, each extension and pause with who agreed it.

No per-process code: it reads what every cspflow workflow leaves in history by convention (house
style §3-§5): human steps are Updates whose argument names the person in `by`; stages are the
`CspStage` search attribute; notices are `send_notice` activities and decisions `record_decision`
activities, both keyed by an idempotency key that the records database shares; partner tasks are
child workflows; a `status` Query returns the deadlines. A new process that keeps the conventions
is covered with no change here.

Personal data: the application itself (the case's input) is never shown. Recipients are named by
role ("applicant", an agency id, "coordinator"), found by walking the histories' inputs and
results for addresses under role-naming keys (`applicant.email`, `agency.email`,
`coordinator_emails`...), so no address of the applicant reaches the timeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal

import jinja2
import sqlalchemy as sa
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.converter import PayloadConverter
from temporalio.service import RPCError, RPCStatusCode

from activities.db import Decision, Notice, SessionFactory, Task
from schemas.audit import DeadlineView, EntryKind, HistoryRef, Timeline, TimelineEntry
from schemas.errors import CspflowError
from starter.audit.deadlines import deadline_view, read_case_view, task_deadline
from starter.codec import reading
from workflows import search_attributes

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

_CLOSING_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued as new",
}

# Facts of a workflow's input or result safe to show: ids, dates, states, counts, never a name.
_SAFE_FIELDS = frozenset(
    {
        "case_id", "area", "application_reference", "received_on", "channel", "opened_by",
        "kind", "due", "requested_on", "policy", "process", "state", "answered_on",
        "answered_by", "days_late", "threshold_met", "review_carried_out", "recommendations",
        "closed_reason", "cancel_reason", "reminders_sent", "overdue_notices_sent",
    }
)  # fmt: skip


class CaseNotFound(CspflowError):
    """No workflow has the case id."""

    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id!r}: check the id with `cspflow cases`")
        self.case_id = case_id


# --------------------------------------------------------------------------------------------
# Reading the histories
# --------------------------------------------------------------------------------------------


@dataclass
class RunHistory:
    """The events of one run of a case or of one of its partner tasks, as Temporal holds them."""

    workflow_id: str
    run_id: str
    events: Sequence[HistoryEvent]

    @property
    def started(self) -> Any:
        return self.events[0].workflow_execution_started_event_attributes

    @property
    def status(self) -> str:
        return _CLOSING_EVENTS.get(self.events[-1].event_type, "running") if self.events else "-"


async def _fetch(client: Client, workflow_id: str, run_id: str | None) -> RunHistory:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        history = await handle.fetch_history()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(workflow_id) from None
        raise
    return RunHistory(workflow_id, history.run_id, list(history.events))


async def fetch_histories(client: Client, case_id: str) -> list[RunHistory]:
    """Every run of the case (continue-as-new included) and of its children, oldest run first."""
    latest = await _fetch(client, case_id, None)
    runs = [latest]
    while previous := runs[0].started.continued_execution_run_id:
        runs.insert(0, await _fetch(client, case_id, previous))
    found, index = list(runs), 0
    while index < len(found):
        for event in found[index].events:
            if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
                child = event.child_workflow_execution_started_event_attributes.workflow_execution
                run: RunHistory | None = await _fetch(client, child.workflow_id, child.run_id)
                while run is not None:
                    found.append(run)
                    last = run.events[-1] if run.events else None
                    run = None
                    if last is not None and last.HasField(
                        "workflow_execution_continued_as_new_event_attributes"
                    ):
                        new = last.workflow_execution_continued_as_new_event_attributes
                        run = await _fetch(client, child.workflow_id, new.new_execution_run_id)
        index += 1
    return found


# --------------------------------------------------------------------------------------------
# Roles of recipients
# --------------------------------------------------------------------------------------------


def _roles_in(value: Any, roles: dict[str, str], key: str = "") -> None:
    """Learn the role of every address under a role-naming key, the applicant's above all."""
    if isinstance(value, list):
        for item in value:
            _roles_in(item, roles, key)
        return
    if not isinstance(value, dict):
        if isinstance(value, str) and (key.endswith("_email") or key.endswith("_emails")):
            roles.setdefault(value.lower(), key.rsplit("_", 1)[0].replace("_", " "))
        return
    owner = value.get("id") if isinstance(value.get("id"), str) else None
    if owner and "@" in owner:
        # A coordinator's id is their sign-in address: an address is never shown as a role.
        owner = key.removesuffix("s").replace("_", " ") or None
    for name, item in value.items():
        if name == "email" and isinstance(item, str):
            role = "applicant" if key == "applicant" else owner or key.replace("_", " ")
            if role == "applicant" or item.lower() not in roles:
                roles[item.lower()] = role or "recipient"
        elif owner and name.endswith("_email") and isinstance(item, str):
            roles.setdefault(item.lower(), f"{owner} ({name.removesuffix('_email')})")
        else:
            _roles_in(item, roles, name)


def _role(address: str, roles: dict[str, str]) -> str:
    return roles.get(address.lower(), "a recipient outside the directory (address withheld)")


# --------------------------------------------------------------------------------------------
# From events to entries
# --------------------------------------------------------------------------------------------


def _at(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


def _safe(value: Any) -> dict[str, Any]:
    """The ids, dates and states of an input or result, one level deep; never a name."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _SAFE_FIELDS and not isinstance(item, dict | list):
            out[key] = item
        elif key == "agency" and isinstance(item, dict) and "id" in item:
            out["agency"] = item["id"]
        elif isinstance(item, dict):
            out.update({k: v for k, v in _safe(item).items() if k not in out})
    return out


def _pruned(detail: dict[str, Any]) -> dict[str, Any]:
    """Drop what says nothing (None, empty text, no extensions), so each line tells a fact."""
    return {k: v for k, v in detail.items() if v not in (None, "") and (k, v) != ("extensions", 0)}


def _day_end(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), UTC)


@dataclass
class _Run:
    """What reading one history remembers from event to event."""

    history: RunHistory
    root: bool
    due: str | None = None
    scheduled: dict[int, tuple[str, Any]] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)

    @property
    def wid(self) -> str:
        return self.history.workflow_id


@dataclass
class _Reader:
    """Turns histories into entries, collecting notices and decisions to merge with records."""

    client: Client
    entries: list[TimelineEntry] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    notices: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    extensions: dict[str, int] = field(default_factory=dict)
    last_view: dict[str, Any] | None = None
    search: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)
    """The last stage each workflow set, across its runs."""
    notes: list[str] = field(default_factory=list)

    async def decode(self, payloads: Sequence[Payload]) -> list[Any]:
        if not payloads:
            return []
        return await reading(self.client.data_converter).decode(list(payloads))

    async def first(self, payloads: Sequence[Payload]) -> Any:
        values = await self.decode(payloads)
        return values[0] if values else None

    def add(
        self,
        event: HistoryEvent,
        kind: EntryKind,
        summary: str,
        run: _Run,
        *,
        by: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.entries.append(
            TimelineEntry(
                at=_at(event),
                kind=kind,
                summary=summary,
                workflow_id=run.wid,
                by=by,
                detail=_pruned(detail or {}),
            )
        )

    async def read(self, history: RunHistory, root: bool) -> None:
        run = _Run(history, root)
        handlers = {
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: self._started,
            EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: self._upserted,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: self._update_accepted,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: self._update_completed,
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: self._activity_scheduled,
            EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: self._activity_completed,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: self._signaled,
            **{closing: self._closing for closing in _CLOSING_EVENTS},
        }
        for event in history.events:
            handler = handlers.get(event.event_type)
            if handler is not None:
                await handler(event, run)

    async def _started(self, event: HistoryEvent, run: _Run) -> None:
        attrs = event.workflow_execution_started_event_attributes
        arg = await self.first(attrs.input.payloads)
        _roles_in(arg, self.roles)
        facts = _safe(arg)
        run.due = facts.get("due")
        if attrs.continued_execution_run_id:
            return
        if run.root:
            said = f"Case {run.wid} opened ({attrs.workflow_type.name})"
        else:
            what = " to ".join(str(facts[k]) for k in ("kind", "agency") if k in facts)
            said = f"{attrs.workflow_type.name} {run.wid} started" + (f": {what}" if what else "")
            said += f", due {run.due}" if run.due else ""
        self.add(
            event,
            EntryKind.OPENED if run.root else EntryKind.TASK,
            said,
            run,
            by=facts.get("opened_by") if run.root else None,
            detail={**facts, "identity": attrs.identity},
        )

    async def _upserted(self, event: HistoryEvent, run: _Run) -> None:
        """A stage entry when this upsert sets the workflow's stage to a new one.

        Only the event's own fields count: a partner task's upserts (its `workflow.patched`
        change versions) carry no stage, and reading the case's last stage there gave each
        task a copy of it. The stage is remembered per workflow, not per run, so a case that
        continues as new and sets its stage again in the new run is not shown moving.
        """
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        upserted = {
            name: PayloadConverter.default.from_payload(payload)
            for name, payload in fields.indexed_fields.items()
        }
        self.search.update(upserted)
        new, old = upserted.get(search_attributes.STAGE.name), self.stages.get(run.wid)
        if new and new != old:
            said = f"Stage changed from {old} to {new}" if old else f"Stage: {new}"
            self.add(event, EntryKind.STAGE, said, run, detail={"stage": new})
            self.stages[run.wid] = new

    async def _update_accepted(self, event: HistoryEvent, run: _Run) -> None:
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        name, arg = request.input.name, await self.first(request.input.args.payloads)
        arg = arg if isinstance(arg, dict) else {"argument": arg}
        by = arg.get("by")
        detail = {k: v for k, v in arg.items() if k != "by"}
        detail |= {"update": name, "identity": request.meta.identity}
        run.updates[request.meta.update_id] = len(self.entries)
        if "extend" in name:
            self.extensions[run.wid] = self.extensions.get(run.wid, 0) + 1
            new_due = arg.get("new_due")
            detail["previous_due"] = run.due
            said = f"Due date of {run.wid} extended from {run.due} to {new_due}, agreed by {by}"
            said += f": {arg['reason']}" if arg.get("reason") else ""
            run.due = new_due or run.due
            self.add(event, EntryKind.EXTENSION, said, run, by=by, detail=detail)
        elif any(word in name for word in ("pause", "resume", "suspend")):
            said = f"{name.replace('_', ' ').capitalize()} on {run.wid}, agreed by {by}"
            self.add(event, EntryKind.PAUSE, said, run, by=by, detail=detail)
        else:
            where = "" if run.root else f" on {run.wid}"
            said = f"Step {name.replace('_', ' ')}{where} taken by {by}"
            self.add(event, EntryKind.STEP, said, run, by=by, detail=detail)

    async def _update_completed(self, event: HistoryEvent, run: _Run) -> None:
        done = event.workflow_execution_update_completed_event_attributes
        index = run.updates.get(done.meta.update_id)
        if done.outcome.HasField("failure") and index is not None:
            error = await self.client.data_converter.decode_failure(done.outcome.failure)
            entry = self.entries[index]
            self.entries[index] = entry.model_copy(
                update={
                    "summary": f"{entry.summary} (then failed: {error})",
                    "detail": {**entry.detail, "failed": str(error)},
                }
            )
        elif done.outcome.HasField("success") and run.root:
            view = await self.first(done.outcome.success.payloads)
            if isinstance(view, dict) and "deadlines" in view:
                self.last_view = view

    async def _activity_scheduled(self, event: HistoryEvent, run: _Run) -> None:
        attrs = event.activity_task_scheduled_event_attributes
        name = attrs.activity_type.name
        if name not in ("send_notice", "record_decision"):
            return
        arg = await self.first(attrs.input.payloads)
        run.scheduled[event.event_id] = (name, arg)
        if isinstance(arg, dict) and "idempotency_key" in arg:
            store = self.notices if name == "send_notice" else self.decisions
            store.setdefault(arg["idempotency_key"], {"workflow_id": run.wid, **arg})

    async def _activity_completed(self, event: HistoryEvent, run: _Run) -> None:
        attrs = event.activity_task_completed_event_attributes
        result = await self.first(attrs.result.payloads)
        _roles_in(result, self.roles)
        name, arg = run.scheduled.get(attrs.scheduled_event_id, ("", None))
        if name == "send_notice" and isinstance(result, dict) and isinstance(arg, dict):
            self.notices[arg["idempotency_key"]]["result"] = result

    async def _signaled(self, event: HistoryEvent, run: _Run) -> None:
        attrs = event.workflow_execution_signaled_event_attributes
        values = await self.decode(attrs.input.payloads)
        said = f"Signal {attrs.signal_name} received by {run.wid}"
        said += f": {values[0]}" if values and isinstance(values[0], str) else ""
        self.add(event, EntryKind.SIGNAL, said, run, detail={"identity": attrs.identity})

    async def _closing(self, event: HistoryEvent, run: _Run) -> None:
        state = _CLOSING_EVENTS[event.event_type]
        label = (
            f"Case {run.wid}" if run.root else f"{run.history.started.workflow_type.name} {run.wid}"
        )
        if event.HasField("workflow_execution_completed_event_attributes"):
            result = event.workflow_execution_completed_event_attributes.result
            facts = _safe(await self.first(result.payloads))
            said = f"{label} finished" + (f": {facts['state']}" if "state" in facts else "")
            if facts.get("answered_by"):
                late = facts.get("days_late") or 0
                said += f" by {facts['answered_by']}, {f'{late} days late' if late else 'on time'}"
            said += f": {facts['closed_reason']}" if facts.get("closed_reason") else ""
            kind = EntryKind.CLOSED if run.root else EntryKind.TASK
            self.add(event, kind, said, run, by=facts.get("answered_by"), detail=facts)
        elif event.HasField("workflow_execution_terminated_event_attributes"):
            ended = event.workflow_execution_terminated_event_attributes
            said = f"{label} terminated by {ended.identity}: {ended.reason}"
            self.add(event, EntryKind.CLOSED, said, run, by=ended.identity or None)
        elif event.HasField("workflow_execution_failed_event_attributes"):
            failure = event.workflow_execution_failed_event_attributes.failure
            error = await self.client.data_converter.decode_failure(failure)
            self.add(event, EntryKind.CLOSED, f"{label} failed: {error}", run)
        elif state != "continued as new":
            self.add(event, EntryKind.CLOSED, f"{label} {state}", run)


# --------------------------------------------------------------------------------------------
# Deadlines and records
# --------------------------------------------------------------------------------------------


def _deadline_entry(view: DeadlineView, as_of: date | None, case_id: str) -> TimelineEntry:
    """Place a deadline at the end of the day it was met, missed or dropped (its due date if
    still open), after whatever happened that day."""
    day = view.completed_on or view.due
    if view.state == "cancelled" and as_of is not None:
        day = min(day, as_of)
    what = f"partner task {view.name}" if view.kind == "partner-task" else f"'{view.name}'"
    return TimelineEntry(
        at=_day_end(day),
        all_day=True,
        kind=EntryKind.DEADLINE,
        summary=f"Deadline {what}, due {view.due}: {view.outcome}",
        workflow_id=view.name if view.kind == "partner-task" else case_id,
        detail=_pruned(view.model_dump(mode="json", exclude={"name", "kind", "outcome"})),
    )


def _notice_entries(reader: _Reader, rows: Sequence[Notice]) -> Iterator[TimelineEntry]:
    by_key = {row.idempotency_key: row for row in rows}
    for key in sorted(set(reader.notices) | set(by_key)):
        request, row = reader.notices.get(key, {}), by_key.get(key)
        result = request.get("result") or {}
        addresses = list(request.get("to", ())) + list(request.get("cc", ()))
        addresses = addresses or (list(row.recipients) if row else [])
        to = [_role(address, reader.roles) for address in addresses]
        template = row.template if row else request.get("template")
        version = row.template_version if row else request.get("template_version", 1)
        status = row.status if row else ("sent" if result else "not recorded")
        detail: dict[str, Any] = {
            "template": template,
            "template_version": version,
            "to": to,
            "message_id": row.message_id if row else result.get("message_id"),
            "content_sha256": row.content_sha256 if row else result.get("content_sha256"),
            "status": status,
            "idempotency_key": key,
        }
        if row and result and result.get("content_sha256") != row.content_sha256:
            detail["history_content_sha256"] = result.get("content_sha256")
            reader.notes.append(f"notice {key}: the history and the records hold different hashes")
        if row is None:
            reader.notes.append(f"notice {key} is in the history but not in the notices table")
        when = (row.sent_at or row.created_at) if row else None
        sent = request.get("sent_at")
        at = when or (datetime.fromisoformat(sent) if sent else None)
        yield TimelineEntry(
            at=at or datetime.now(UTC),
            kind=EntryKind.NOTICE,
            summary=f"Notice {template} v{version} to {', '.join(to)}: {status}",
            workflow_id=request.get("workflow_id", key.split(":", 1)[0]),
            detail=detail,
        )


def _decision_entries(reader: _Reader, rows: Sequence[Decision]) -> Iterator[TimelineEntry]:
    by_key: dict[str, dict[str, Any]] = {
        row.idempotency_key: {
            "step": row.step,
            "outcome": row.outcome,
            "decided_by": row.decided_by,
            "decided_at": row.decided_at.isoformat(),
            "reasons": list(row.reasons),
        }
        for row in rows
    }
    for key in sorted(set(reader.decisions) | set(by_key)):
        decision = by_key.get(key) or reader.decisions[key]
        yield TimelineEntry(
            at=datetime.fromisoformat(str(decision["decided_at"])),
            kind=EntryKind.DECISION,
            summary=f"Decision on {decision['step']}: {decision['outcome']}, "
            f"by {decision['decided_by']}",
            by=decision["decided_by"],
            workflow_id=reader.decisions.get(key, {}).get("workflow_id", key.split(":", 1)[0]),
            detail={"reasons": list(decision.get("reasons", ())), "idempotency_key": key},
        )


async def build_timeline(client: Client, case_id: str, session_factory: SessionFactory) -> Timeline:
    """Build one chronological account of a case from its histories and its records.

    Raises CaseNotFound when no workflow has the id.
    """
    histories = await fetch_histories(client, case_id)
    reader = _Reader(client)
    for history in histories:
        await reader.read(history, root=history.workflow_id == case_id)
    async with session_factory() as session:
        notices = (await session.execute(sa.select(Notice).where(Notice.case_id == case_id))).all()
        decisions = (
            await session.execute(sa.select(Decision).where(Decision.case_id == case_id))
        ).all()
        tasks = (await session.execute(sa.select(Task).where(Task.case_id == case_id))).all()
    entries = list(reader.entries)
    entries += _notice_entries(reader, [row for (row,) in notices])
    entries += _decision_entries(reader, [row for (row,) in decisions])

    view, note = await read_case_view(client, case_id, fallback=reader.last_view)
    notes = [note] if note else []
    as_of = datetime.fromisoformat(view["as_of"]) if view and view.get("as_of") else None
    day = as_of.date() if as_of else None
    deadlines = [deadline_view(raw, day) for raw in (view or {}).get("deadlines", ())]
    deadlines += [
        task_deadline(task, day, reader.extensions.get(task.task_id, 0)) for (task,) in tasks
    ]
    entries += [_deadline_entry(d, day, case_id) for d in deadlines]
    order = {id(entry): n for n, entry in enumerate(entries)}
    entries.sort(key=lambda entry: (entry.at, order[id(entry)]))
    latest = [h for h in histories if h.workflow_id == case_id][-1]
    return Timeline(
        case_id=case_id,
        process=reader.search.get(search_attributes.PROCESS.name),
        area=reader.search.get(search_attributes.AREA.name),
        stage=(view or {}).get("stage") or reader.search.get(search_attributes.STAGE.name),
        status=latest.status,
        generated_at=datetime.now(UTC),
        as_of=as_of,
        entries=tuple(entries),
        deadlines=tuple(deadlines),
        histories=tuple(
            HistoryRef(
                workflow_id=h.workflow_id,
                run_id=h.run_id,
                workflow_type=h.started.workflow_type.name,
                events=len(h.events),
                status=h.status,
            )
            for h in histories
        ),
        notes=tuple(notes + reader.notes),
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _when(entry: TimelineEntry | datetime | date | None) -> str:
    if entry is None:
        return "-"
    if isinstance(entry, TimelineEntry):
        return entry.at.date().isoformat() if entry.all_day else _when(entry.at)
    if isinstance(entry, datetime):
        return entry.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return entry.isoformat()


def _show(value: Any) -> str:
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "; ".join(value) or "-"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "-" if value is None else str(value)


def _environment(fmt: str) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=fmt == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["when"] = _when
    environment.filters["show"] = _show
    environment.filters["md"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    return environment


def render_timeline(timeline: Timeline, fmt: Literal["text", "md", "json", "html"]) -> str:
    """Render a timeline for a terminal, as Markdown, as JSON or as a printable HTML page."""
    if fmt == "json":
        return timeline.model_dump_json(indent=2) + "\n"
    if fmt not in ("text", "md", "html"):
        raise ValueError(f"format {fmt!r} is not one of text, md, json, html")
    extension = {"text": "txt", "md": "md", "html": "html"}[fmt]
    template = _environment(fmt).get_template(f"timeline.{extension}.j2")
    return template.render(timeline=timeline)
