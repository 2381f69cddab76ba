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

Here: the account's own endpoints (whoami, tokens) and the routes. The endpoints for processes,
cases and partner tasks are in starter/web/api_cases.py; what every request goes through (the
token, the body, the errors) in starter/web/api_protocol.py.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from activities.access_tokens import UnknownTokenError, create_token, list_tokens, revoke_token
from schemas.accounts import Account
from schemas.errors import InputError
from starter.web.api_cases import (
    case_status,
    cases,
    processes,
    start_case,
    take_step,
    task_action,
    task_status,
)
from starter.web.api_protocol import (
    ApiError,
    api_error_response,
    bearer,
    forbidden,
    json_response,
    read_body,
    token_account,
    with_token,
)
from starter.web.auth import client_key, password_sign_in
from starter.web.rendering import console_of, log

PREFIX = "/api/v1"


@with_token
async def whoami(request: Request, account: Account) -> Response:
    """The token's account: email, name, role and areas."""
    return json_response(account.model_dump(mode="json"))


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
        body = await read_body(request)
        email = str(body.get("email") or "").strip().lower()[:320]
        if bearer(request) is not None:
            holder = await token_account(request)
            if email and email != holder.email:
                raise forbidden()
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
        return json_response(error.as_json(), 400)
    log.info("api_token_created", token_id=info.id)
    return json_response({"token": token, **info.model_dump(mode="json")}, 201)


@with_token
async def tokens(request: Request, account: Account) -> Response:
    """The account's own tokens, newest first (never a secret)."""
    listed = await list_tokens(console_of(request).sessions, account.email)
    return json_response([token.model_dump(mode="json") for token in listed])


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
    return json_response(info.model_dump(mode="json"))


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
