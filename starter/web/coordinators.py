"""Pages for coordinators and auditors: cases, a case, starting a case, human steps, figures.

Every page checks the account's role and the case's area, so changing a URL shows nothing of
another area's cases, and auditors read every area but change nothing. Forms come from the
process's schemas (starter.web.forms, starter.registry): no page code per process. Reading a
case is written to the access log (issue 4).
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from temporalio.service import RPCError, RPCStatusCode

from activities.access_log import record_access
from activities.accounts import (
    revoke_answer_links,
)
from activities.db import Task
from activities.queries import CaseRow, list_cases
from schemas.accounts import Account
from schemas.errors import InputError
from starter.answer_links import (
    answer_url,
    issue_answer_token,
)
from starter.audit.timeline import CaseNotFound, build_timeline
from starter.client import CaseStalled, ClientError, Cspflow, is_task_id
from starter.health import Stall, StalledError
from starter.registry import (
    FigureDefinition,
    ProcessDefinition,
    all_stages,
    process_of_case,
    processes,
)
from starter.web.auth import forbidden, signed_in
from starter.web.forms import ChoiceSource, Form, build_form, check_posted
from starter.web.rendering import (
    Console,
    console_of,
    log,
    message,
    page,
    redirect_to,
    secure,
)
from starter.web.words import Words


async def home(request: Request) -> Response:
    """The console starts at the case list."""
    return redirect_to("/cases")


@signed_in
async def cases(request: Request, account: Account) -> Response:
    """Cases the account may see, filtered by process, area, stage, overdue; soonest due first."""
    console = console_of(request)
    params = request.query_params
    areas = console.area_choices(account, acting=False)
    readable = {area for area, _ in areas}
    chosen: dict[str, Any] = {
        "process": params.get("process", ""),
        "area": params.get("area", ""),
        "stage": params.get("stage", ""),
        "overdue": params.get("overdue", "") == "1",
    }
    if chosen["area"] and chosen["area"] not in readable:
        return forbidden(request, account)
    today = await _cases_today(console) if chosen["overdue"] else datetime.now(UTC).date()
    rows = await list_cases(
        console.sessions,
        process=chosen["process"] or None,
        area=chosen["area"] or None,
        stage=chosen["stage"] or None,
        overdue_on=today if chosen["overdue"] else None,
    )
    rows = [row for row in rows if row.area in readable]
    sort = params.get("sort", "deadline")
    if sort not in SORTS:
        sort = "deadline"
    rows = SORTS[sort](rows)
    stalled = await _stalled_cases(console.flow(account.email), frozenset(readable))
    stage_names = _stage_names()
    filters = [
        # Only processes whose cases run here: a check-only process has no case to find.
        ("process", "Process", [(s.name, s.title) for s in processes() if s.startable]),
        ("area", "Area", areas),
        ("stage", "Stage", [(stage, stage_names.get(stage, stage)) for stage in all_stages()]),
    ]
    return page(
        request,
        "cases.html.j2",
        account=account,
        title="Cases",
        nav="/cases",
        cases=rows,
        filters=filters,
        selected=chosen,
        today=today,
        sort=sort,
        sort_links=_sort_links(params, sort),
        stalled=stalled,
        words=Words(console.directory),
        stage_names=stage_names,
        process_titles={spec.name: spec.title for spec in processes()},
    )


async def _cases_today(console: Console) -> date:
    """The day cases are judged overdue on, as `cspflow cases --overdue` judges them.

    In rehearsal the Temporal server is the time-skipping test server and its clock is the
    cases' clock (`cspflow clock advance`); a real server has no test service and the day is
    today's (UTC), as the CLI's.
    """
    from temporalio.service import RPCError

    from starter.dev import current_time

    try:
        return (await current_time(console.client)).date()
    except RPCError:
        return datetime.now(UTC).date()


def _stage_names() -> dict[str, str]:
    """Every process's stages in words, from the titles each status model declares."""
    names: dict[str, str] = {}
    for spec in processes():
        for stage, title in Words(directory=_NO_DIRECTORY, spec=spec).titles("stage").items():
            names.setdefault(str(stage), str(title))
    return names


async def _stalled_cases(flow: Cspflow, areas: frozenset[str]) -> list[str]:
    """The ids of the readable cases that cannot move on (a case or one of its tasks stalled).

    A server without the stall setting cannot list them: the list page then shows none rather
    than failing, and each case page still checks its own case (starter/health.py).
    """
    try:
        return await flow.stalled_case_ids(areas)
    except StalledError:
        return []


def _by_deadline(rows: list[CaseRow], *, latest_first: bool = False) -> list[CaseRow]:
    """Cases with a deadline by its date (soonest or latest first), then those with none."""
    dated = sorted((r for r in rows if r.next_deadline), key=lambda r: (r.next_deadline, r.case_id))
    if latest_first:
        dated.reverse()
    return dated + [r for r in rows if not r.next_deadline]


SORTS: dict[str, Callable[[list[CaseRow]], list[CaseRow]]] = {
    "deadline": _by_deadline,
    "-deadline": lambda rows: _by_deadline(rows, latest_first=True),
    "received": lambda rows: sorted(rows, key=lambda r: (r.received_on, r.case_id)),
    "-received": lambda rows: sorted(rows, key=lambda r: (r.received_on, r.case_id), reverse=True),
}
"""How the case list can be ordered; the default, soonest deadline first, is what needs doing."""


def _sort_links(params: Any, sort: str) -> dict[str, str]:
    """For each sortable column, the list's address ordered by it (reversed if it already is)."""
    links = {}
    for column in ("deadline", "received"):
        order = f"-{column}" if sort == column else column
        query = {k: v for k, v in params.items() if k != "sort"} | {"sort": order}
        links[column] = "/cases?" + urlencode(query)
    return links


@signed_in
async def choose_process(request: Request, account: Account) -> Response:
    """Start a case: with one process that can start, go straight to its form."""
    startable = [spec for spec in processes() if spec.startable]
    if len(startable) == 1:
        return redirect_to(f"/cases/new/{startable[0].name}")
    return page(
        request,
        "processes.html.j2",
        account=account,
        title="Start a case",
        nav="/cases/new",
        processes=startable,
    )


_NO_DIRECTORY: Any = None
"""Stage titles need the process only, not the directory."""


def directory_choices(console: Console, account: Account) -> ChoiceSource:
    """Choices for fields named after directory entries: areas, agencies, chairs."""

    def choices(name: str) -> list[tuple[str, str]] | None:
        if name == "area":
            return console.area_choices(account, acting=True)
        if name in ("reported_to", "to_body"):
            return [(a.id, a.name) for a in console.directory.agencies]
        if name == "chair_id":
            return [(c.id, c.name) for c in console.directory.chairs]
        return None

    return choices


@signed_in
async def start_case(request: Request, account: Account) -> Response:
    """Start a case through a form generated from the process's input schema."""
    console = console_of(request)
    spec = next((p for p in processes() if p.name == request.path_params["process"]), None)
    if spec is None or not spec.startable:
        return message(request, "Page not found", status_code=404, account=account)
    if not any(account.can_act(area.id) for area in console.directory.areas):
        return forbidden(request, account)
    schema = spec.input_model.model_json_schema()
    choices = directory_choices(console, account)
    action = f"/cases/new/{spec.name}"
    context: dict[str, Any] = {
        "title": f"Start a {spec.title} case",
        "caption": spec.statute,
        "intro": [spec.start_hint] if spec.start_hint else [],
        "action": action,
        "submit": "Start the case",
        "back": "/cases",
        "nav": "/cases/new",
    }
    if request.method == "GET":
        form = build_form(schema, skip=frozenset(), choices_for=choices)
        return page(request, "form.html.j2", account=account, fields=form.fields, **context)
    posted_form = request.state.form
    raw = form_values(posted_form)
    rebuilt = rebuilt_form(schema, raw, posted_form, frozenset(), choices)
    if rebuilt is not None:
        return page(request, "form.html.j2", account=account, fields=rebuilt.fields, **context)
    form, application = check_posted(
        schema,
        raw,
        spec.input_model.model_validate,
        skip=frozenset(),
        choices_for=choices,
        model=spec.input_model,
    )
    if application is None:
        return form_with_errors(request, account, form, context)
    area = spec.area_of(application)
    if not account.can_act(area):
        return forbidden(request, account)
    try:
        # What `cspflow check` refuses (an unknown agency, say) is refused here too.
        spec.check(application, console.directory, None)
        case_id = await console.flow(account.email, account.role).start(spec, application)
    except (ClientError, InputError) as error:
        form.errors.append(("main-content", str(error)))
        return form_with_errors(request, account, form, context)
    log.info("case_started_web", case_id=case_id, process=spec.name)
    return redirect_to(f"/cases/{case_id}")


def form_values(form: FormData) -> dict[str, list[str]]:
    raw: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            raw.setdefault(key, []).append(value)
    return raw


def rebuilt_form(
    schema: dict[str, Any],
    raw: dict[str, list[str]],
    form: FormData,
    skip: frozenset[str],
    choices: ChoiceSource,
) -> Form | None:
    """An "add another" or "remove" press: the same form with one item more or less."""
    add, remove = form.get("_add"), form.get("_remove")
    if not isinstance(add, str) and not isinstance(remove, str):
        return None
    return build_form(
        schema,
        raw=raw,
        skip=skip,
        choices_for=choices,
        add_item=add if isinstance(add, str) else None,
        remove_item=remove if isinstance(remove, str) else None,
    )


def form_with_errors(
    request: Request, account: Account | None, form: Form, context: dict[str, Any]
) -> HTMLResponse:
    return page(
        request,
        context.get("template", "form.html.j2"),
        400,
        account=account,
        fields=form.fields,
        errors=form.errors,
        **{k: v for k, v in context.items() if k != "template"},
    )


async def _case_or_refusal(
    request: Request, account: Account, case_id: str, *, stalled_raises: bool = False
) -> tuple[ProcessDefinition, Any] | Response:
    """The case's status if the account may read it; else the page to show instead.

    A case that cannot move on has no status to read (its Query fails as its workflow task
    does): a step's page says no step can be taken, and the case page (`stalled_raises`) gets
    `CaseStalled` to show what it can."""
    console = console_of(request)
    if is_task_id(case_id):
        # A partner task's id in a case address (pasted from a mail or a log): point to its case.
        parent = case_id.split(".task.", 1)[0]
        return message(
            request,
            "This is a partner task, not a case",
            "The address names a request to a partner agency. Its progress is shown on the "
            "page of the case it belongs to.",
            status_code=404,
            account=account,
            link=(f"/cases/{parent}", "Go to the case"),
        )
    spec = process_of_case(case_id)
    if spec is None:
        return message(request, "Page not found", status_code=404, account=account)
    try:
        status = await console.flow(account.email).case_status(case_id)
    except CaseStalled as stalled:
        if stalled_raises:
            raise
        if not account.can_read(next((s.area for s in stalled.stalls if s.area), "")):
            return forbidden(request, account)
        return message(
            request,
            "This case cannot move on",
            "No step can be taken until an engineer fixes it. The case's page says more.",
            status_code=409,
            account=account,
            link=(f"/cases/{case_id}", "Go to the case"),
        )
    except ClientError as error:
        refused = error.__context__
        if isinstance(refused, RPCError) and refused.status != RPCStatusCode.NOT_FOUND:
            # Temporal down or refusing is not "no such case": the console's error page says so.
            raise refused from None
        return message(
            request,
            "No such case",
            "Check the case in the list of cases.",
            status_code=404,
            account=account,
            link=("/cases", "Go to your cases"),
        )
    if not account.can_read(status.area):
        return forbidden(request, account)
    return spec, status


async def _stalled_case_page(
    request: Request, account: Account, case_id: str, stalls: list[Stall]
) -> Response:
    """A case that cannot move on: the banner and its timeline, read from history, no steps.

    Its area comes from its search attribute; a case whose area is unknown is shown only to
    those who read every area (auditors, administrators)."""
    console = console_of(request)
    area = next((stall.area for stall in stalls if stall.area), None)
    if area is not None and not account.can_read(area):
        return forbidden(request, account)
    try:
        timeline = await build_timeline(console.client, case_id, console.sessions)
    except CaseNotFound:
        return message(request, "No such case", status_code=404, account=account)
    if not account.can_read(area or timeline.area or ""):
        return forbidden(request, account)
    await record_access(console.sessions, account.email, case_id, "web:case")
    return page(
        request,
        "case.html.j2",
        account=account,
        title=f"Case {case_id}",
        nav="/cases",
        case_id=case_id,
        reference=case_id,
        words=Words(console.directory, process_of_case(case_id)),
        today=datetime.now(UTC).date(),
        next_up=[],
        stage=timeline.stage or "unknown",
        status=None,
        sections=[],
        timeline=timeline,
        spec=process_of_case(case_id),
        steps=[],
        can_act=False,
        notices=[e for e in timeline.entries if e.kind.value == "notice"],
        requested={},
        flash=None,
        stalls=stalls,
    )


def _next_up(deadlines: Any) -> list[Any]:
    """The open deadlines, soonest first: what needs doing next and by when."""
    return sorted((d for d in deadlines if d.state == "open"), key=lambda d: (d.due, d.name))


def _reference(status: Any) -> str:
    """The case's own reference (an application or review reference), else its id."""
    return str(
        getattr(status, "application_reference", None)
        or getattr(status, "reference", None)
        or status.case_id
    )


@signed_in
async def case_page(request: Request, account: Account) -> Response:
    """One case: stage, deadlines met or missed, tasks, decisions, notices and the timeline."""
    console = console_of(request)
    case_id = request.path_params["case_id"]
    try:
        found = await _case_or_refusal(request, account, case_id, stalled_raises=True)
    except CaseStalled as stalled:
        return await _stalled_case_page(request, account, case_id, stalled.stalls)
    if isinstance(found, Response):
        return found
    spec, status = found
    try:
        # The stall check (a describe per workflow) runs beside the history's timeline.
        timeline, stalls = await asyncio.gather(
            build_timeline(console.client, case_id, console.sessions),
            console.flow(account.email).case_stalls(status),
        )
    except CaseNotFound:
        return message(request, "No such case", status_code=404, account=account)
    await record_access(console.sessions, account.email, case_id, "web:case")
    can_act = account.can_act(status.area)
    steps = [(u, step) for u in status.allowed_steps if (step := spec.step(u)) is not None]
    notices = [entry for entry in timeline.entries if entry.kind.value == "notice"]
    async with console.sessions() as session:
        rows = await session.execute(
            sa.select(Task.task_id, Task.requested_on).where(Task.case_id == case_id)
        )
        requested = {task_id: requested_on for task_id, requested_on in rows}
    flash = request.session.pop("flash", None)
    words = Words(console.directory, spec, {t.task_id: t for t in status.tasks})
    # Judged today (the rehearsal clock's day in a rehearsal), not as of the case's last
    # change: an open deadline or task grows late without the case recording anything.
    today = await _cases_today(console)
    return page(
        request,
        "case.html.j2",
        account=account,
        title=f"Case {_reference(status)}",
        nav="/cases",
        case_id=case_id,
        reference=_reference(status),
        words=words,
        today=today,
        next_up=_next_up(timeline.deadlines),
        stage=str(status.stage),
        status=status,
        sections=spec.status_sections(status, today) if spec.status_sections else [],
        timeline=timeline,
        spec=spec,
        steps=steps,
        can_act=can_act,
        notices=notices,
        requested=requested,
        flash=flash if isinstance(flash, dict) else None,
        stalls=stalls,
    )


@signed_in
async def step_page(request: Request, account: Account) -> Response:
    """A human step as a form generated from its Update's input model, when allowed now."""
    console = console_of(request)
    case_id, update = request.path_params["case_id"], request.path_params["update"]
    found = await _case_or_refusal(request, account, case_id)
    if isinstance(found, Response):
        return found
    spec, status = found
    step = spec.step(update)
    if step is None:
        return message(request, "Page not found", status_code=404, account=account)
    if not account.can_act(status.area):
        return forbidden(request, account)
    if update not in status.allowed_steps:
        words = Words(console.directory, spec)
        open_now = [words.step(u) for u in status.allowed_steps]
        return message(
            request,
            "This step is not open now",
            f"The case is at the stage: {words.stage(status.stage)}. "
            + (
                f"Steps you can take now: {', '.join(open_now)}."
                if open_now
                else "No step is open now."
            ),
            status_code=409,
            account=account,
            link=(f"/cases/{case_id}", "Back to the case"),
        )
    schema = step.model.model_json_schema()
    choices = directory_choices(console, account)
    context: dict[str, Any] = {
        "title": step.title,
        "caption": f"Case {_reference(status)}",
        "intro": [step.model.__doc__.strip().splitlines()[0]] if step.model.__doc__ else [],
        "action": f"/cases/{case_id}/steps/{update}",
        "submit": "Record this step",
        "back": f"/cases/{case_id}",
    }
    if request.method == "GET":
        form = build_form(schema, choices_for=choices)
        return page(request, "form.html.j2", account=account, fields=form.fields, **context)
    posted_form = request.state.form
    raw = form_values(posted_form)
    rebuilt = rebuilt_form(schema, raw, posted_form, frozenset({"by"}), choices)
    if rebuilt is not None:
        return page(request, "form.html.j2", account=account, fields=rebuilt.fields, **context)
    form, payload = check_posted(
        schema,
        raw,
        lambda document: step.model.model_validate({**document, "by": account.email}),
        choices_for=choices,
        model=step.model,
    )
    if payload is None:
        return form_with_errors(request, account, form, context)
    try:
        await console.flow(account.email, account.role).step(case_id, update, payload)
    except ClientError as error:
        form.errors.append(("main-content", str(error)))
        return form_with_errors(request, account, form, context)
    request.session["flash"] = {"text": f"{step.title}: recorded."}
    return redirect_to(f"/cases/{case_id}")


@signed_in
async def new_answer_link(request: Request, account: Account) -> Response:
    """Revoke every answer link of a task and issue a new one, shown once to the coordinator."""
    console = console_of(request)
    task_id = request.path_params["task_id"]
    case_id = task_id.split(".task.", 1)[0]
    found = await _case_or_refusal(request, account, case_id)
    if isinstance(found, Response):
        return found
    spec, status = found
    if not account.can_act(status.area) or task_id not in {t.task_id for t in status.tasks}:
        return forbidden(request, account)
    if request.state.form.get("confirm") != "yes":
        # Revoking cannot be undone: ask first, on a page of its own (no JavaScript needed).
        task = next(t for t in status.tasks if t.task_id == task_id)
        words = Words(console.directory, spec)
        return page(
            request,
            "confirm.html.j2",
            account=account,
            title="Withdraw the answer links and issue a new one?",
            caption=f"Case {_reference(status)}",
            action=f"/tasks/{task_id}/new-link",
            back=f"/cases/{case_id}",
            paragraphs=[
                f"{words.name(task.agency)} will no longer be able to answer the "
                f"{words.kind(task.kind).lower()} through any link sent so far.",
                "You will see one new link, once. Send it to the agency yourself.",
            ],
            submit="Withdraw the links and issue a new one",
        )
    await revoke_answer_links(console.sessions, task_id, account.email, datetime.now(UTC))
    token = await _token_after_revocation(console.secret, task_id)
    log.info("answer_link_reissued", task_id=task_id)
    request.session["flash"] = {
        "text": "Earlier answer links for this task no longer work.",
        "link": answer_url(console.settings.web_url, token),
    }
    return redirect_to(f"/cases/{case_id}")


async def _token_after_revocation(secret: bytes, task_id: str) -> str:
    """A link issued in a later second than the revocation (links carry whole seconds)."""
    now = time.time()
    await asyncio.sleep(int(now) + 1 - now + 0.01)
    return issue_answer_token(secret, task_id)


@signed_in
async def reports(request: Request, account: Account) -> Response:
    """The yearly figures of a process for an area, with a CSV download."""
    console = console_of(request)
    params = request.query_params
    with_figures = [p for p in processes() if p.figures is not None]
    spec = next((p for p in with_figures if p.name == params.get("process")), None)
    if spec is None and "process" not in params and with_figures:
        spec = with_figures[0]
    if spec is None or spec.figures is None:
        return message(request, "Page not found", status_code=404, account=account)
    areas = console.area_choices(account, acting=False)
    if not areas:
        return forbidden(request, account)
    area = params.get("area", areas[0][0])
    if area not in {a for a, _ in areas}:
        return forbidden(request, account)
    today = datetime.now(UTC).date()
    default_year = today.year if today.month >= 4 else today.year - 1
    try:
        year = int(params.get("year", default_year))
        if not 2014 <= year <= today.year + 1:
            raise ValueError(year)
    except ValueError:
        return message(
            request,
            "Choose another year",
            f"Give a year from 2014 to {today.year}.",
            status_code=400,
            account=account,
            link=("/reports", "Published figures"),
        )
    figures = await spec.figures.count(console.sessions, area, year)
    open_cases = await _open_cases(console, spec.figures, area, today)
    first, last = spec.figures.period_of(year)
    query = {"process": spec.name, "area": area, "year": str(year)}
    if request.url.path.endswith(".csv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["process", "area", "period_start", "period_end", "figure", "number"])
        for key, label in spec.figures.labels.items():
            writer.writerow(
                [spec.name, area, first.isoformat(), last.isoformat(), label, figures[key]]
            )
        name = f"{spec.name}-{area}-{year}-{str(year + 1)[-2:]}.csv"
        response = Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
        return secure(response, "")
    return page(
        request,
        "reports.html.j2",
        account=account,
        title="Published figures",
        nav="/reports",
        spec=spec,
        areas=areas,
        area=area,
        year=year,
        first=first,
        last=last,
        figures=figures,
        csv_url="/reports.csv?" + urlencode(query),
        open_cases=open_cases,
        today=today,
    )


async def _open_cases(
    console: Console, figures: FigureDefinition, area: str, today: date
) -> list[dict[str, str]] | None:
    """The area's open cases, when the process's figures list them (a table under the counts)."""
    if figures.open_cases is None:
        return None
    return await figures.open_cases(console.sessions, console.directory, area, today)
