"""The console's JSON API, per request: the token's account, JSON in and out, the errors.

See starter/web/api.py for the API as a whole (issue 13). A request carries a personal access
token (`Authorization: Bearer cspflow_...`); `with_token` reads its account afresh, writes every
use and refusal to the access log, and turns refusals into `{"error": {"code", "fields",
"message"}}` with their status. Bodies are size-limited, strict JSON objects validated as the CLI
validates its files, and a step's `by` is always the token's account.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from temporalio.service import RPCError

from activities.access_log import record_access
from activities.access_tokens import token_id_of, token_owner, verify_token
from activities.accounts import get_account
from schemas.accounts import Account
from schemas.errors import InputError
from schemas.validation import describe_validation_error, field_path, utf8_text
from starter import strict_json
from starter.web.auth import client_key
from starter.web.rendering import console_of, log

BODY_LIMIT_BYTES = 1024 * 1024
"""The largest body taken, as the CLI's input files (starter/cli/common.py INPUT_LIMIT_BYTES)."""


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
        return json_response({**body, **self.extra}, self.status, headers)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    response = JSONResponse(data, status, headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def forbidden() -> ApiError:
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


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def case_of(request: Request) -> str | None:
    """The case a request is about, for the access log (ids only, never personal data)."""
    params = request.path_params
    ident = params.get("case_id") or params.get("task_id")
    return str(ident).split(".task.", 1)[0] if ident else None


async def token_account(request: Request) -> Account:
    """The live account of the request's bearer token; every use and refusal access-logged."""
    console = console_of(request)
    token = bearer(request)
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
        console.sessions, account.email, case_of(request), "token-used",
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
            return json_response(error.as_json(), 400)

    return endpoint


async def read_body(request: Request) -> dict[str, Any]:
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


def parse(model: type[BaseModel], data: Any) -> Any:
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


def acting(body: dict[str, Any], account: Account) -> dict[str, Any]:
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


def dumped(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value
