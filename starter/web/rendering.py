"""What every console page shares: the console's parts, rendering, and the security headers.

Every response carries a strict Content Security Policy (scripts and styles only from this
server, GOV.UK Frontend's one inline script by nonce), `Referrer-Policy: no-referrer` (answer
tokens in URLs never leak in a Referer), no framing and no caching of pages that show case data.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from temporalio.client import Client

from activities.db import SessionFactory
from activities.notices import govuk_date
from schemas.accounts import Account
from schemas.directory import Directory
from schemas.partner_task import TaskState
from schemas.plain_words import plain
from starter import registry
from starter.client import Cspflow
from starter.settings import PROJECT_ROOT, Settings
from starter.step_signing import StepSigner

log = structlog.get_logger("cspflow.web")

HERE = Path(__file__).resolve().parent
GOVUK_FRONTEND = PROJECT_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"
"""GOV.UK Frontend as installed by `make install` (npm ci); nothing is fetched at run time."""

SESSION_HOURS = 8
"""A signed-in session lasts a working day."""

OPEN_STATES = (TaskState.OPEN, TaskState.OVERDUE)


@dataclass
class Console:
    """What every page needs: settings, the Temporal client, the records DB and the directory."""

    settings: Settings
    client: Client
    sessions: SessionFactory
    directory: Directory
    secret: bytes
    limiter: RateLimiter = field(init=False)
    signer: StepSigner = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.web_rate_limit, 60.0)
        # The console is the front that signs every step (issue 13); its first start makes
        # the key, as it makes web-secret.
        self.signer = StepSigner.from_settings(self.settings, create=True)

    def flow(self, user: str, role: str = "reader") -> Cspflow:
        """The client helpers, recording `user` as acting in `role`, every step signed."""
        return Cspflow(
            client=self.client,
            task_queue=self.settings.task_queue,
            user=user,
            signer=self.signer,
            role=role,
        )

    def area_choices(self, account: Account, *, acting: bool) -> list[tuple[str, str]]:
        """The areas an account may read (or act in), as (id, name) choices."""
        allowed = account.can_act if acting else account.can_read
        return [(a.id, a.name) for a in self.directory.areas if allowed(a.id)]


MAX_TRACKED = 10_000
"""Addresses the rate limiter remembers before it forgets the idle ones."""


class RateLimiter:
    """At most `limit` requests per `window` seconds per key (a client address)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        """Count one request; False when the key has used its allowance."""
        now = time.monotonic()
        seen = self._seen[key]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        if len(self._seen) > MAX_TRACKED:
            self._forget_idle(now)
        return True

    def _forget_idle(self, now: float) -> None:
        """Bound memory: drop addresses with no request inside the window (their count is 0)."""
        for idle in [k for k, v in self._seen.items() if now - v[-1] > self.window]:
            del self._seen[idle]


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["govuk_date"] = govuk_date
    environment.filters["plain"] = plain
    # Every page's footer names the duties the console serves, from the process registry.
    environment.globals["registered_processes"] = registry.processes
    return environment


TEMPLATES = _environment()


def _csp(nonce: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        "manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def secure(response: Response, nonce: str) -> Response:
    response.headers["Content-Security-Policy"] = _csp(nonce)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    return response


def csrf_token_of(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def page(
    request: Request,
    template: str,
    status_code: int = 200,
    *,
    account: Account | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the security headers every response carries."""
    nonce = secrets.token_urlsafe(16)
    context.setdefault("errors", [])
    context.setdefault("nav", None)
    context.setdefault("title", "cspflow")
    if "csrf_token" not in context:  # a partner's answer page brings its own, and no session
        context["csrf_token"] = csrf_token_of(request) if "session" in request.scope else ""
    body = TEMPLATES.get_template(template).render(
        account=account,
        csp_nonce=nonce,
        trusted_header=bool(console_of(request).settings.web_trusted_header),
        **context,
    )
    return secure(HTMLResponse(body, status_code=status_code), nonce)  # type: ignore[return-value]


def message(
    request: Request,
    title: str,
    *paragraphs: str,
    status_code: int = 200,
    account: Account | None = None,
    link: tuple[str, str] | None = None,
) -> HTMLResponse:
    """A page that says one thing and what to do next."""
    return page(
        request,
        "message.html.j2",
        status_code,
        account=account,
        title=title,
        paragraphs=paragraphs,
        link=link,
    )


def redirect_to(url: str) -> Response:
    return secure(RedirectResponse(url, status_code=303), "")


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console
