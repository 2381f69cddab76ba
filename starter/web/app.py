"""The web console: coordinators and auditors in a browser, partners answering by a link.

Issue 6. The console is a thin layer over the same helpers as the CLI (`starter.client`,
`activities.queries`, `starter.audit.timeline`), so both say the same things the same way, and
every form is generated from a schema (`starter.web.forms`), so a process added later appears
with no page code. It looks like the GOV.UK Design System (GOV.UK Frontend from npm) because
that is what UK public-sector staff already know, and it works without JavaScript.

Security, page by page:
- Every page but sign-in and the answer pages needs a signed-in account; every case page
  checks the account's role and the case's area, so changing a URL shows nothing of another
  area's cases. Auditors read every area and change nothing.
- Sessions are signed cookies (HttpOnly, SameSite=Lax, Secure when served over TLS). Every form
  carries a per-session token against cross-site request forgery, checked before anything else.
- Every response carries a strict Content Security Policy (scripts and styles only from this
  server, the one inline script by nonce), no-referrer (answer tokens never leak in a Referer),
  and no caching of pages that show case data.
- URLs and page titles carry ids and references only, never personal data.
- Every read of a case (case page, answer page) is written to the access log (issue 4).
"""

from __future__ import annotations

import secrets

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from temporalio.service import RPCError
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from starter.web.account import account_page, revoke_account_token
from starter.web.api import PREFIX, ApiError, api_error_response, api_routes
from starter.web.auth import sign_in, sign_out
from starter.web.coordinators import (
    case_page,
    cases,
    choose_process,
    home,
    new_answer_link,
    reports,
    start_case,
    step_page,
)
from starter.web.partners import answer
from starter.web.rendering import GOVUK_FRONTEND, HERE, SESSION_HOURS, Console, log, message

__all__ = ["Console", "create_app"]


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown pages say so, in the console's own look (in JSON under the API)."""
    if request.url.path.startswith(PREFIX + "/"):
        return api_error_response(
            request, ApiError(404, "not_found", "no such API address: see README 'Security model'")
        )
    return message(request, "Page not found", "Check the address.", status_code=404)


async def server_error(request: Request, exc: Exception) -> Response:
    """Any unexpected error: a page that says what happened and what to do, never a traceback.

    The records database and Temporal being unreachable are named, because the person can do
    something about them (wait, or tell whoever runs the system); anything else gets a reference
    that is also in the log, with the error's type only (its text may hold personal data).
    """
    if request.url.path.startswith(PREFIX + "/"):
        return api_error_response(request, exc)
    reference = secrets.token_hex(4)
    if isinstance(exc, SQLAlchemyError | OSError) and not isinstance(exc, RPCError):
        cause, what = "records_database", "The records database cannot be reached"
    elif isinstance(exc, RPCError) or str(exc).startswith("Failed client connect"):
        cause, what = "temporal", "The workflow service (Temporal) cannot be reached"
    else:
        cause, what = "unexpected", "Something went wrong on our side"
    log.error("web_page_failed", cause=cause, error=type(exc).__name__, reference=reference,
              path=request.url.path[:200])  # fmt: skip
    account = None
    return message(
        request,
        "Sorry, there is a problem with the service",
        f"{what}, so this page could not be shown. Nothing you sent was recorded unless "
        "the case's page shows it.",
        "Try again in a few minutes. If it keeps happening, tell the person who runs cspflow "
        f"for your partnership and give them this reference: {reference}.",
        status_code=503 if cause != "unexpected" else 500,
        account=account,
        link=("/cases", "Go to your cases"),
    )


def create_app(console: Console) -> Starlette:
    """The console's ASGI application."""
    if not (GOVUK_FRONTEND / "govuk-frontend.min.css").exists():
        raise RuntimeError(
            f"GOV.UK Frontend is not installed at {GOVUK_FRONTEND}: run `make install` "
            "(it runs npm ci)"
        )
    routes = [
        Route("/", home),
        Route("/sign-in", sign_in, methods=["GET", "POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
        Route("/cases", cases),
        Route("/cases/new", choose_process),
        Route("/cases/new/{process}", start_case, methods=["GET", "POST"]),
        Route("/cases/{case_id}", case_page),
        Route("/cases/{case_id}/steps/{update}", step_page, methods=["GET", "POST"]),
        Route("/tasks/{task_id}/new-link", new_answer_link, methods=["POST"]),
        Route("/reports", reports),
        Route("/account", account_page),
        Route("/account/tokens/{token_id}/revoke", revoke_account_token, methods=["POST"]),
        Route("/reports.csv", reports),
        Route("/answer/{token}", answer, methods=["GET", "POST"]),
        Mount(PREFIX, routes=api_routes()),
        Mount("/assets", StaticFiles(directory=GOVUK_FRONTEND / "assets"), name="assets"),
        Mount("/govuk", StaticFiles(directory=GOVUK_FRONTEND), name="govuk"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    over_tls = console.settings.web_url.startswith("https://")
    app = Starlette(
        routes=routes,
        middleware=[
            # The client's address is the peer's; X-Forwarded-For counts only from the proxies
            # listed, or anyone could rotate it past the sign-in limit (issue 13).
            Middleware(ProxyHeadersMiddleware, trusted_hosts=console.settings.web_trusted_proxies),
            Middleware(
                SessionMiddleware,
                secret_key=console.secret.decode(),
                session_cookie="cspflow_session",
                max_age=SESSION_HOURS * 3600,
                same_site="lax",
                https_only=over_tls,
            ),
        ],
        exception_handlers={404: not_found, Exception: server_error},
    )
    app.state.console = console
    return app
