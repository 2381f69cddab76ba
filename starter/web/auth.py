"""Sign-in, sessions and cross-site request forgery for coordinators, auditors, administrators.

Sessions are signed cookies (HttpOnly, SameSite=Lax, Secure over TLS) holding the account's email,
its session generation, when it began and when it was last used, and an anti-forgery token. The
account is read afresh on every request, so a disabled account or a changed role takes effect at
once; a session whose generation is not the account's current one is over, and signing out, a
password reset and disabling the account each advance it, so every session of that account ends
at once, a copied cookie included (OWASP Session Management Cheat Sheet, "Session expiration";
issue 13). A session also ends after CSPFLOW_WEB_IDLE_MINUTES without a request and
SESSION_HOURS after sign-in.

Too many failed sign-ins to one account lock it for a while (CSPFLOW_WEB_LOCKOUT_*), whichever
addresses they came from; each address is also rate limited, and X-Forwarded-For names the
address only when it comes from a proxy in CSPFLOW_WEB_TRUSTED_PROXIES (starter.web.app). Every
sign-in, failure, lockout and sign-out is written to the access log with the account, the
address and the time.

Behind a council's single sign-on, a trusted header names the account instead
(CSPFLOW_WEB_TRUSTED_HEADER). Every POST is checked for the session's token before anything
else happens.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from activities.access_log import record_access
from activities.accounts import (
    authenticate,
    clear_sign_in_failures,
    end_sessions,
    get_account,
    locked_until,
    record_sign_in_failure,
    session_account,
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

SIGN_IN_VIEWS = ("sign-in", "sign-in-failed", "sign-in-locked", "sign-out")
"""The access log's views for sign-in events (activities.access_log)."""


def csrf_ok(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    given = form.get("csrf_token")
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


async def current_account(request: Request) -> Account | None:
    """The signed-in account, read afresh so a disabled account stops at once.

    A session is over when its generation is not the account's (signed out, password reset or
    account disabled since), when it has not been used for the idle timeout, or when it began
    more than SESSION_HOURS ago. A live session's last use is moved on.
    """
    console = console_of(request)
    header = console.settings.web_trusted_header
    if header:
        email = request.headers.get(header, "").strip().lower()
        account = await get_account(console.sessions, email) if email else None
        return None if account is None or account.disabled else account
    session = request.session
    email = session.get("user", "")
    if not email or not isinstance(email, str):
        return None
    now = time.time()
    started, seen = session.get("since", 0), session.get("seen", 0)
    idle = console.settings.web_idle_minutes * 60
    if (
        not isinstance(started, int | float)
        or not isinstance(seen, int | float)
        or now - started > SESSION_HOURS * 3600
        or now - seen > idle
    ):
        return None
    found = await session_account(console.sessions, email)
    if found is None:
        return None
    account, generation = found
    if account.disabled or session.get("gen") != generation:
        return None
    if now - seen > 60:  # a minute's precision is enough, and spares a new cookie per request
        session["seen"] = now
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
    """The client's address: the peer's, or a trusted proxy's X-Forwarded-For (starter.web.app)."""
    return request.client.host if request.client else "unknown"


async def _log_sign_in(request: Request, email: str, view: str, detail: str = "") -> None:
    """Write a sign-in event to the access log: the account, the address, the time."""
    address = f"from {client_key(request)}"
    await record_access(
        console_of(request).sessions,
        email or "(no email given)",
        None,
        view,
        detail=f"{address}; {detail}" if detail else address,
    )


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
    email = str(form.get("email", "")).strip().lower()[:320]
    password = str(form.get("password", ""))
    nxt = _local_path(str(form.get("next", "/cases")))
    checked = await password_sign_in(request, email, password)
    if isinstance(checked, datetime):
        return locked(request, checked)
    if checked is None:
        return page(
            request,
            "sign_in.html.j2",
            400,
            title="Sign in",
            next=nxt,
            email=email,
            errors=[("email", "Enter a correct email address and password")],
        )
    account = checked
    found = await session_account(console.sessions, account.email)
    generation = found[1] if found else 0
    await _log_sign_in(request, account.email, "sign-in")
    request.session.clear()
    started = time.time()
    request.session.update(
        {
            "user": account.email,
            "gen": generation,
            "since": started,
            "seen": started,
            "csrf": secrets.token_urlsafe(32),
        }
    )
    log.info("signed_in", role=account.role.value)
    return redirect_to(nxt)


async def password_sign_in(
    request: Request, email: str, password: str
) -> Account | datetime | None:
    """Check an account's password as signing in does; the account, the lockout's end, or None.

    A locked name is refused without a look at the password; each failure counts towards the
    lockout; every failure and lockout is written to the access log with the address. The
    sign-in page and the API's token creation share it, so neither is a way round the other.
    """
    console = console_of(request)
    settings = console.settings
    now = datetime.now(UTC)
    if email:
        until = await locked_until(console.sessions, email, now)
        if until is not None:
            await _log_sign_in(request, email, "sign-in-locked", "refused while locked")
            log.info("sign_in_locked")
            return until
    account = await authenticate(console.sessions, email, password) if email else None
    if account is None:
        if email:
            until = await record_sign_in_failure(
                console.sessions,
                email,
                now,
                attempts=settings.web_lockout_attempts,
                window=timedelta(minutes=settings.web_lockout_window_minutes),
                lockout=timedelta(minutes=settings.web_lockout_minutes),
            )
            await _log_sign_in(request, email, "sign-in-failed")
            if until is not None:
                await _log_sign_in(request, email, "sign-in-locked", f"locked until {until:%H:%M}")
                log.info("sign_in_locked")
                return until
        log.info("sign_in_refused")
        return None
    await clear_sign_in_failures(console.sessions, account.email)
    return account


def locked(request: Request, until: datetime) -> HTMLResponse:
    """The lockout page: what happened, when to try again, and who can help sooner."""
    at = until.astimezone().strftime("%-I:%M%p").lower()
    return message(
        request,
        "Your account is locked",
        "You entered the wrong password too many times, so for your security this account is "
        f"locked until {at}. Nothing was recorded.",
        f"Try again after {at}. If you have forgotten your password, ask an administrator to "
        "reset it; that also unlocks the account.",
        status_code=429,
    )


def _local_path(path: str) -> str:
    """Only a path on this console (no open redirect to another site)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/cases"
    return path


async def sign_out(request: Request) -> Response:
    """Sign out: end every session of the account, on every browser, and forget this one."""
    form = await request.form()
    if not csrf_ok(request, form):
        return csrf_refused(request, None)
    account = await current_account(request)
    if account is not None and not console_of(request).settings.web_trusted_header:
        await end_sessions(console_of(request).sessions, account.email)
        await _log_sign_in(request, account.email, "sign-out", "every session ended")
    request.session.clear()
    return redirect_to("/sign-in")


def too_many(request: Request) -> HTMLResponse:
    return message(
        request,
        "Too many attempts",
        "Wait a minute and try again. Nothing was recorded.",
        status_code=429,
    )
