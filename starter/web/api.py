"""The console's JSON API under /api/v1: what `cspflow` on a person's own machine talks to.

Issue 13: "for the terminal a `cspflow` that signs in to the same accounts ... and talks to the
console's API instead of to Temporal. Roles and areas are checked there exactly as the console
checks them." So every endpoint takes the account of a personal access token
(`Authorization: Bearer cspflow_...`, activities/access_tokens.py), read afresh with its role and
areas, and asks the same questions the pages ask (`Account.can_read`, `Account.can_act`,
`Console.area_choices`): an auditor reads and changes nothing, a coordinator reads and acts in
their own areas only. A step is sent by the console, `by` the token's account and signed as it,
exactly as a step posted from a page.

Cookies are never read here, so a browser's session cannot be ridden into the API by another
site, and there is no form to forge: no anti-forgery token is needed. Every use of a token, and
every refusal of one, is written to the access log with the token's id and the address.

Nothing here names a process: each endpoint finds the process in the registry. Errors are
`{"error": {"code", "fields", "message"}}` (schemas.errors.InputError.as_json) with 400 (the
input), 401 (no usable token), 403 (not this account's area or role), 404, 409 (not now) or 503
(the records database or Temporal cannot be reached).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from temporalio.service import RPCError, RPCStatusCode

from activities.access_log import record_access
from activities.access_tokens import (
    UnknownTokenError,
    create_token,
    list_tokens,
    revoke_token,
    token_id_of,
    token_owner,
    verify_token,
)
from activities.accounts import get_account
from activities.queries import list_cases
from schemas.accounts import Account
from schemas.errors import InputError
from schemas.validation import describe_validation_error, field_path, utf8_text
from starter import registry, strict_json
from starter.client import TASK_STEPS, CaseAlreadyStarted, CaseStalled, ClientError, is_task_id
from starter.web.auth import client_key, password_sign_in
from starter.web.rendering import Console, console_of, log

PREFIX = "/api/v1"

BODY_LIMIT_BYTES = 1024 * 1024
"""The largest body taken, as the CLI's input files (starter/cli/common.py INPUT_LIMIT_BYTES)."""

TASK_ACTIONS = ("extend", "cancel")
"""What an account may do to a partner task here; partners answer only through their links."""


class ApiError(Exception):
    """A refusal with its HTTP status, stable code, the fields at fault and what to do."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: tuple[str, ...] = (),
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.fields, self.extra = status, code, fields, extra

    def response(self) -> JSONResponse:
        body = InputError(str(self), code=self.code, fields=self.fields).as_json()
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return _json({**body, **self.extra}, self.status, headers)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    response = JSONResponse(data, status, headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _forbidden() -> ApiError:
    return ApiError(
        403,
        "forbidden",
        "your account does not cover this area or this action: nothing was recorded; if you "
        "need it, ask an administrator to change your account",
    )


def api_error_response(request: Request, exc: Exception) -> JSONResponse:
    """The API's answer to an error the handlers did not expect: never a page or a traceback."""
    if isinstance(exc, ApiError):
        return exc.response()
    reference = secrets.token_hex(4)
    unreachable = isinstance(exc, SQLAlchemyError | OSError | RPCError) or str(exc).startswith(
        "Failed client connect"
    )
    log.error("api_request_failed", error=type(exc).__name__, reference=reference,
              path=request.url.path[:200])  # fmt: skip
    if unreachable:
        return ApiError(
            503,
            "unavailable",
            "the records database or Temporal cannot be reached, so nothing was recorded: try "
            f"again in a few minutes; if it keeps happening, give reference {reference} to the "
            "person who runs cspflow",
        ).response()
    return ApiError(
        500,
        "unexpected",
        f"something went wrong on the console: try again; if it keeps happening, give "
        f"reference {reference} to the person who runs cspflow",
    ).response()


# --------------------------------------------------------------------------------------------
# The token's account
# --------------------------------------------------------------------------------------------


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _case_of(request: Request) -> str | None:
    """The case a request is about, for the access log (ids only, never personal data)."""
    params = request.path_params
    ident = params.get("case_id") or params.get("task_id")
    return str(ident).split(".task.", 1)[0] if ident else None


async def token_account(request: Request) -> Account:
    """The live account of the request's bearer token; every use and refusal access-logged."""
    console = console_of(request)
    token = _bearer(request)
    where = f"from {client_key(request)}: {request.method} {request.url.path[:200]}"
    if token is None:
        raise ApiError(
            401,
            "token_missing",
            "this API takes a personal access token, not a browser session: send "
            "'Authorization: Bearer <token>' (`cspflow login` stores one for the CLI)",
        )
    info = await verify_token(console.sessions, token)
    account = await get_account(console.sessions, info.email) if info else None
    if info is None or account is None or account.disabled:
        if not console.limiter.allow("api-token:" + client_key(request)):
            raise ApiError(429, "too_many_attempts", "too many refused tokens: wait a minute")
        owner = info.email if info else await token_owner(console.sessions, token)
        await record_access(
            console.sessions,
            owner or "(unknown token)",
            None,
            "token-refused",
            detail=f"token {token_id_of(token) or '(malformed)'} {where}",
        )
        log.info("api_token_refused")
        raise ApiError(
            401,
            "token_refused",
            "the access token was refused: it is unknown, revoked, or its account is disabled; "
            "make a new one with `cspflow token create` (or ask an administrator) and store it "
            "with `cspflow login`",
        )
    await record_access(
        console.sessions, account.email, _case_of(request), "token-used",
        detail=f"token {info.id} {where}",
    )  # fmt: skip
    return account


Handler = Callable[[Request, Account], Awaitable[Response]]


def with_token(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Require a live token; turn refusals and input errors into the API's JSON errors."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, await token_account(request))
        except ApiError as error:
            return error.response()
        except InputError as error:
            return _json(error.as_json(), 400)

    return endpoint


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object posted; refused (400) when too big, not UTF-8, not JSON or not an object."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > BODY_LIMIT_BYTES:
            raise InputError(
                f"the body is larger than {BODY_LIMIT_BYTES // 1024} KiB", code="too_large"
            )
    try:
        data = strict_json.loads(utf8_text(raw)) if raw.strip() else {}
    except (ValueError, RecursionError) as error:
        raise InputError(f"the body is not usable JSON: {error}", code="not_json") from None
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object (a {...} mapping)", code="not_json")
    return data


def _parse(model: type[BaseModel], data: Any) -> Any:
    """Validate input as `cspflow check` does: every field at fault named (code schema_error)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields = tuple(dict.fromkeys(field_path(e["loc"]) for e in error.errors()))
        raise InputError(
            "the input is not valid: "
            + describe_validation_error(error, then="correct it and send it again"),
            code="schema_error",
            fields=fields,
        ) from None


def _acting(body: dict[str, Any], account: Account) -> dict[str, Any]:
    """The step's input as the token's account: a body naming someone else is refused."""
    given = body.get("by")
    if given is not None and given != account.email:
        raise InputError(
            f"the input says by={given!r}, but the token acts as {account.email}: every step "
            "is recorded as the account that takes it; leave 'by' out",
            code="by_not_you",
            fields=("by",),
        )
    return {k: v for k, v in body.items() if k != "signed"} | {"by": account.email}


def _dumped(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


# --------------------------------------------------------------------------------------------
# Who am I, and my tokens
# --------------------------------------------------------------------------------------------


@with_token
async def whoami(request: Request, account: Account) -> Response:
    """The token's account: email, name, role and areas."""
    return _json(account.model_dump(mode="json"))


async def new_token(request: Request) -> Response:
    """Make a token with the account's password (as signing in), for `cspflow token create`.

    The password is checked exactly as the sign-in page checks it: the same lockout, the same
    limit per address, the same access-log entries. With a bearer token too, the email must be
    that token's account's.
    """
    console = console_of(request)
    try:
        if not console.limiter.allow("sign-in:" + client_key(request)):
            raise ApiError(429, "too_many_attempts", "too many attempts: wait a minute")
        body = await _body(request)
        email = str(body.get("email") or "").strip().lower()[:320]
        if _bearer(request) is not None:
            holder = await token_account(request)
            if email and email != holder.email:
                raise _forbidden()
            email = holder.email
        checked = await password_sign_in(request, email, str(body.get("password") or ""))
        if isinstance(checked, datetime):
            raise ApiError(
                429,
                "account_locked",
                f"the account is locked after too many wrong passwords until {checked:%H:%M} "
                "UTC: try again then, or ask an administrator to reset the password",
            )
        if checked is None:
            raise ApiError(401, "sign_in_refused", "enter a correct email address and password")
        info, token = await create_token(
            console.sessions, checked.email, str(body.get("name") or ""), by=checked.email
        )
    except ApiError as error:
        return error.response()
    except InputError as error:
        return _json(error.as_json(), 400)
    log.info("api_token_created", token_id=info.id)
    return _json({"token": token, **info.model_dump(mode="json")}, 201)


@with_token
async def tokens(request: Request, account: Account) -> Response:
    """The account's own tokens, newest first (never a secret)."""
    listed = await list_tokens(console_of(request).sessions, account.email)
    return _json([token.model_dump(mode="json") for token in listed])


@with_token
async def revoke(request: Request, account: Account) -> Response:
    """Revoke one of the account's own tokens."""
    try:
        info = await revoke_token(
            console_of(request).sessions,
            request.path_params["token_id"],
            by=account.email,
            email=account.email,
        )
    except UnknownTokenError as error:
        raise ApiError(404, error.code, str(error), error.fields) from None
    return _json(info.model_dump(mode="json"))


# --------------------------------------------------------------------------------------------
# Processes and cases
# --------------------------------------------------------------------------------------------


@with_token
async def processes(request: Request, account: Account) -> Response:
    """The registered processes, as `cspflow processes --json` lists them."""
    return _json(
        [
            {
                "name": p.name,
                "title": p.title,
                "statute": p.statute,
                "case_prefix": p.case_prefix,
                "can_start": p.startable,
                "steps": [s.verb for s in p.steps],
                "figures": bool(p.figures),
            }
            for p in registry.processes()
        ]
    )


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
        raise _forbidden()
    overdue = params.get("overdue", "") in ("1", "true")
    rows = await list_cases(
        console.sessions,
        process=process or None,
        area=area or None,
        stage=stage or None,
        overdue_on=datetime.now(UTC).date() if overdue else None,
    )
    return _json([row.model_dump(mode="json") for row in rows if row.area in readable])


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
            raise _forbidden() from None
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
        raise _forbidden()
    return spec, status


@with_token
async def case_status(request: Request, account: Account) -> Response:
    """A case's status (the process's status model) and what of it cannot move on."""
    console = console_of(request)
    case_id = request.path_params["case_id"]
    spec, status = await _readable_case(console, account, case_id)
    stalls = await console.flow(account.email).case_stalls(status)
    await record_access(console.sessions, account.email, case_id, "api:status")
    return _json(
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
    application = _parse(spec.input_model, await _body(request))
    if not account.can_act(spec.area_of(application)):
        raise _forbidden()
    spec.check(application, console.directory, None)
    try:
        case_id = await console.flow(account.email, account.role).start(spec, application)
    except CaseAlreadyStarted as started:
        raise ApiError(409, "already_started", str(started), case_id=started.case_id) from None
    except ClientError as error:
        raise ApiError(409, "refused", str(error)) from None
    log.info("case_started_api", case_id=case_id, process=spec.name)
    return _json({"case_id": case_id, "process": spec.name, "by": account.email}, 201)


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
        raise _forbidden()
    payload = _parse(step.model, _acting(await _body(request), account))
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
    return _json({"case_id": case_id, "step": step.verb, "by": account.email,
                  "result": _dumped(result)})  # fmt: skip


# --------------------------------------------------------------------------------------------
# Partner tasks
# --------------------------------------------------------------------------------------------


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
    return _json(task.model_dump(mode="json"))


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
        raise _forbidden()
    update, model = TASK_STEPS[action]
    payload = _parse(model, _acting(await _body(request), account))
    try:
        result = await console.flow(account.email, account.role).step(task_id, update, payload)
    except ClientError as error:
        raise ApiError(409, "refused", str(error)) from None
    return _json({"task_id": task_id, "step": action, "by": account.email,
                  "result": _dumped(result)})  # fmt: skip


def api_routes() -> list[BaseRoute]:
    """The API's routes, mounted at PREFIX by starter.web.app."""
    return [
        Route("/whoami", whoami),
        Route("/tokens", tokens, methods=["GET"]),
        Route("/tokens", new_token, methods=["POST"]),
        Route("/tokens/{token_id}/revoke", revoke, methods=["POST"]),
        Route("/processes", processes),
        Route("/cases", cases),
        Route("/cases/{case_id}", case_status, methods=["GET"]),
        Route("/cases/{process}", start_case, methods=["POST"]),
        Route("/cases/{case_id}/steps/{verb}", take_step, methods=["POST"]),
        Route("/tasks/{task_id}", task_status, methods=["GET"]),
        Route("/tasks/{task_id}/{action}", task_action, methods=["POST"]),
    ]


__all__ = ["PREFIX", "ApiError", "api_error_response", "api_routes"]
