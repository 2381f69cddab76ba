"""The console's JSON API for processes, cases and partner tasks (see starter/web/api.py).

Each endpoint asks the questions the console's pages ask (`Account.can_read`, `Account.can_act`,
`Console.area_choices`) and finds the process in the registry; nothing here names one. A step is
sent by the console, `by` the token's account and signed as it (issue 13).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from temporalio.service import RPCError, RPCStatusCode

from activities.access_log import record_access
from activities.queries import list_cases
from schemas.accounts import Account
from schemas.errors import InputError
from starter import registry
from starter.client import TASK_STEPS, CaseAlreadyStarted, CaseStalled, ClientError, is_task_id
from starter.web.api_protocol import (
    ApiError,
    acting,
    dumped,
    forbidden,
    json_response,
    parse,
    read_body,
    with_token,
)
from starter.web.rendering import Console, console_of, log

TASK_ACTIONS = ("extend", "cancel")
"""What an account may do to a partner task here; partners answer only through their links."""


@with_token
async def processes(request: Request, account: Account) -> Response:
    """The registered processes, as `cspflow processes --json` lists them."""
    return json_response(registry.summaries())


@with_token
async def cases(request: Request, account: Account) -> Response:
    """The cases the account may read, filtered as `cspflow cases` filters them."""
    console = console_of(request)
    params = request.query_params
    process, area, stage = params.get("process"), params.get("area"), params.get("stage")
    if process:
        process = registry.process(process).name
    stages = registry.process(process).stages if process else registry.all_stages()
    if stage and stage not in stages:
        raise InputError(
            f"stage {stage!r} is not one cspflow knows; use one of: {', '.join(stages)}",
            code="unknown_stage",
            fields=("stage",),
        )
    known = [a.id for a in console.directory.areas]
    if area and area not in known:
        raise InputError(
            f"no area {area!r} in the CSP directory; known areas: {', '.join(known)}",
            code="unknown_area",
            fields=("area",),
        )
    readable = {a for a, _ in console.area_choices(account, acting=False)}
    if area and area not in readable:
        raise forbidden()
    overdue = params.get("overdue", "") in ("1", "true")
    rows = await list_cases(
        console.sessions,
        process=process or None,
        area=area or None,
        stage=stage or None,
        overdue_on=datetime.now(UTC).date() if overdue else None,
    )
    return json_response([row.model_dump(mode="json") for row in rows if row.area in readable])


async def _readable_case(console: Console, account: Account, case_id: str) -> tuple[Any, Any]:
    """The case's process and status if the account may read it; else the refusal."""
    if is_task_id(case_id):
        raise ApiError(
            404,
            "task_id_given",
            f"{case_id} is a partner task, not a case: see it with `cspflow task show {case_id}`",
            ("case_id",),
        )
    spec = registry.process_of_case(case_id)
    if spec is None:
        raise ApiError(
            404, "unknown_case", f"no case {case_id!r}: check the id with `cspflow cases`"
        )
    try:
        status = await console.flow(account.email).case_status(case_id)
    except CaseStalled as stalled:
        if not account.can_read(next((s.area for s in stalled.stalls if s.area), "")):
            raise forbidden() from None
        raise ApiError(
            409,
            "case_stalled",
            str(stalled),
            stalls=[stall.model_dump(mode="json") for stall in stalled.stalls],
        ) from None
    except ClientError as error:
        refused = error.__context__
        if isinstance(refused, RPCError) and refused.status != RPCStatusCode.NOT_FOUND:
            raise refused from None  # Temporal down is not "no such case": a 503
        raise ApiError(
            404, "unknown_case", f"no case {case_id!r}: check the id with `cspflow cases`"
        ) from None
    if not account.can_read(status.area):
        raise forbidden()
    return spec, status


@with_token
async def case_status(request: Request, account: Account) -> Response:
    """A case's status (the process's status model) and what of it cannot move on."""
    console = console_of(request)
    case_id = request.path_params["case_id"]
    spec, status = await _readable_case(console, account, case_id)
    stalls = await console.flow(account.email).case_stalls(status)
    await record_access(console.sessions, account.email, case_id, "api:status")
    return json_response(
        {
            "process": spec.name,
            "status": status.model_dump(mode="json"),
            "stalls": [stall.model_dump(mode="json") for stall in stalls],
        }
    )


@with_token
async def start_case(request: Request, account: Account) -> Response:
    """Start a case from its input, checked as `cspflow check` checks it; 201 with its id."""
    console = console_of(request)
    name = request.path_params["process"]
    try:
        spec = registry.startable(name)
    except InputError as error:
        raise ApiError(404 if error.code == "unknown_process" else 400, error.code, str(error),
                       error.fields) from None  # fmt: skip
    application = parse(spec.input_model, await read_body(request))
    if not account.can_act(spec.area_of(application)):
        raise forbidden()
    spec.check(application, console.directory, None)
    try:
        case_id = await console.flow(account.email, account.role).start(spec, application)
    except CaseAlreadyStarted as started:
        raise ApiError(409, "already_started", str(started), case_id=started.case_id) from None
    except ClientError as error:
        raise ApiError(409, "refused", str(error)) from None
    log.info("case_started_api", case_id=case_id, process=spec.name)
    return json_response({"case_id": case_id, "process": spec.name, "by": account.email}, 201)


@with_token
async def take_step(request: Request, account: Account) -> Response:
    """Take a human step: `by` is the token's account, and the console signs it as that account."""
    console = console_of(request)
    case_id, verb = request.path_params["case_id"], request.path_params["verb"]
    spec, status = await _readable_case(console, account, case_id)
    step = spec.step(verb)
    if step is None:
        raise ApiError(
            404,
            "unknown_step",
            f"{spec.title} has no step {verb!r}; its steps are: "
            + ", ".join(s.verb for s in spec.steps),
            ("step",),
        )
    if not account.can_act(status.area):
        raise forbidden()
    payload = parse(step.model, acting(await read_body(request), account))
    if step.update not in status.allowed_steps:
        open_now = ", ".join(spec.verb_of(u) for u in status.allowed_steps) or "none"
        raise ApiError(
            409,
            "step_not_open",
            f"refused: {step.verb} is not open at the stage {status.stage}; steps open now: "
            f"{open_now}",
        )
    try:
        result = await console.flow(account.email, account.role).step(
            case_id, step.update, payload, step.result_type
        )
    except ClientError as error:
        raise ApiError(409, "refused", str(error)) from None
    log.info("step_taken_api", case_id=case_id, update=step.update)
    return json_response({"case_id": case_id, "step": step.verb, "by": account.email,
                  "result": dumped(result)})  # fmt: skip


async def _readable_task(console: Console, account: Account, task_id: str) -> Any:
    """The case status of a task the account may read (the task must be the case's)."""
    if not is_task_id(task_id):
        raise ApiError(
            404,
            "not_a_task",
            f"{task_id} is not a partner task's id: a case is shown by `cspflow status`",
            ("task_id",),
        )
    _, status = await _readable_case(console, account, task_id.split(".task.", 1)[0])
    if task_id not in {task.task_id for task in status.tasks}:
        raise ApiError(404, "unknown_task", f"no task {task_id!r}: `cspflow status` lists them")
    return status


@with_token
async def task_status(request: Request, account: Account) -> Response:
    """What a partner task asks, by when, and what has happened to it."""
    console = console_of(request)
    task_id = request.path_params["task_id"]
    await _readable_task(console, account, task_id)
    try:
        task = await console.flow(account.email).task_status(task_id)
    except ClientError as error:
        raise ApiError(404, "unknown_task", str(error)) from None
    return json_response(task.model_dump(mode="json"))


@with_token
async def task_action(request: Request, account: Account) -> Response:
    """Extend or cancel a partner task, as the token's account, signed by the console."""
    console = console_of(request)
    task_id, action = request.path_params["task_id"], request.path_params["action"]
    if action not in TASK_ACTIONS:
        raise ApiError(
            404,
            "unknown_step",
            f"a task can be {' or '.join(TASK_ACTIONS)}ed here; partners answer through the "
            "link in their email",
            ("action",),
        )
    status = await _readable_task(console, account, task_id)
    if not account.can_act(status.area):
        raise forbidden()
    update, model = TASK_STEPS[action]
    payload = parse(model, acting(await read_body(request), account))
    try:
        result = await console.flow(account.email, account.role).step(task_id, update, payload)
    except ClientError as error:
        raise ApiError(409, "refused", str(error)) from None
    return json_response({"task_id": task_id, "step": action, "by": account.email,
                  "result": dumped(result)})  # fmt: skip
