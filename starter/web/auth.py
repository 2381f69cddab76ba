"""Sign-in, sessions and cross-site request forgery for coordinators, auditors, administrators.

Sessions are signed cookies (HttpOnly, SameSite=Lax, Secure over TLS) holding the account's email
and an anti-forgery token; the account is read afresh on every request, so a disabled account or
a changed role takes effect at once. Behind a council's single sign-on, a trusted header names
the account instead (CSPFLOW_WEB_TRUSTED_HEADER). Every POST is checked for the session's token
before anything else happens.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from activities.accounts import (
    authenticate,
    get_account,
)
from schemas.accounts import Account
from starter.web.rendering import (
    SESSION_HOURS,
    console_of,
    log,
    message,
    page,
    redirect_to,
)


def csrf_ok(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    given = form.get("csrf_token")
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


async def current_account(request: Request) -> Account | None:
    """The signed-in account, read afresh so a disabled account stops at once."""
    console = console_of(request)
    header = console.settings.web_trusted_header
    if header:
        email = request.headers.get(header, "").strip().lower()
    else:
        email = request.session.get("user", "")
        started = request.session.get("since", 0)
        if not isinstance(started, int | float) or time.time() - started > SESSION_HOURS * 3600:
            return None
    if not email:
        return None
    account = await get_account(console.sessions, email)
    if account is None or account.disabled:
        return None
    return account


Handler = Callable[[Request, Account], Awaitable[Response]]


def signed_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Require a signed-in account, and a valid CSRF token on every POST."""

    async def endpoint(request: Request) -> Response:
        account = await current_account(request)
        if account is None:
            if request.method == "GET":
                return redirect_to("/sign-in?" + urlencode({"next": request.url.path}))
            return message(
                request,
                "Sign in again",
                "Your session has ended, so nothing was recorded. Sign in and try again.",
                status_code=401,
                link=("/sign-in", "Sign in"),
            )
        if request.method == "POST":
            form = await request.form()
            if not csrf_ok(request, form):
                return csrf_refused(request, account)
            request.state.form = form
        return await handler(request, account)

    return endpoint


def csrf_refused(request: Request, account: Account | None) -> HTMLResponse:
    return message(
        request,
        "This form has expired",
        "Nothing was recorded: the form was not one this console gave you, or it is from an "
        "earlier session. Go back, reload the page and try again.",
        status_code=403,
        account=account,
    )


def forbidden(request: Request, account: Account) -> HTMLResponse:
    return message(
        request,
        "You cannot see this page",
        "Your account does not cover this area or this action. If you need it, ask an "
        "administrator to change your account.",
        status_code=403,
        account=account,
        link=("/cases", "Go to your cases"),
    )


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def sign_in(request: Request) -> Response:
    """Sign in with an email and password (argon2 hashes, `cspflow user add`)."""
    console = console_of(request)
    nxt = request.query_params.get("next", "/cases")
    if console.settings.web_trusted_header:
        return message(
            request,
            "Sign in through your council",
            "This console trusts your council's single sign-on. Open it through that address.",
        )
    if request.method == "GET":
        return page(request, "sign_in.html.j2", title="Sign in", next=_local_path(nxt), email="")
    if not console.limiter.allow("sign-in:" + client_key(request)):
        return too_many(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return csrf_refused(request, None)
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    nxt = _local_path(str(form.get("next", "/cases")))
    account = await authenticate(console.sessions, email, password) if email else None
    if account is None:
        log.info("sign_in_refused")
        return page(
            request,
            "sign_in.html.j2",
            400,
            title="Sign in",
            next=nxt,
            email=email,
            errors=[("email", "Enter a correct email address and password")],
        )
    request.session.clear()
    request.session.update(
        {"user": account.email, "since": time.time(), "csrf": secrets.token_urlsafe(32)}
    )
    log.info("signed_in", role=account.role.value)
    return redirect_to(nxt)


def _local_path(path: str) -> str:
    """Only a path on this console (no open redirect to another site)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/cases"
    return path


async def sign_out(request: Request) -> Response:
    """Sign out: forget the session."""
    form = await request.form()
    if not csrf_ok(request, form):
        return csrf_refused(request, None)
    request.session.clear()
    return redirect_to("/sign-in")


def too_many(request: Request) -> HTMLResponse:
    return message(
        request,
        "Too many attempts",
        "Wait a minute and try again. Nothing was recorded.",
        status_code=429,
    )
