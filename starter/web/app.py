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

import asyncio
import csv
import hashlib
import hmac
import io
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
import structlog
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from temporalio.client import Client

from activities.access_log import record_access
from activities.accounts import (
    answer_links_revoked_at,
    authenticate,
    get_account,
    revoke_answer_links,
)
from activities.db import SessionFactory
from activities.notices import govuk_date
from activities.queries import financial_year, list_cases
from schemas.accounts import Account
from schemas.community_trigger import Stage
from schemas.directory import Directory
from schemas.partner_task import RESPONSE_MODELS, TaskKind, TaskState
from starter.answer_links import (
    AnswerLinkRefused,
    LinkProblem,
    answer_url,
    issue_answer_token,
    token_task_id,
    verify_answer_token,
)
from starter.audit.timeline import CaseNotFound, build_timeline
from starter.client import ClientError, Cspflow
from starter.settings import PROJECT_ROOT, Settings
from starter.web.forms import Form, attach_problems, build_form, read_form
from starter.web.processes import PROCESSES, ProcessSpec, process_of_case

log = structlog.get_logger("cspflow.web")

_HERE = Path(__file__).resolve().parent
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

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.web_rate_limit, 60.0)

    def flow(self, user: str) -> Cspflow:
        """The client helpers, recording `user` as acting."""
        return Cspflow(client=self.client, task_queue=self.settings.task_queue, user=user)

    def area_choices(self, account: Account, *, acting: bool) -> list[tuple[str, str]]:
        """The areas an account may read (or act in), as (id, name) choices."""
        allowed = account.can_act if acting else account.can_read
        return [(a.id, a.name) for a in self.directory.areas if allowed(a.id)]


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
        if len(self._seen) > 10_000:  # bounded memory: forget idle addresses
            for idle in [k for k, v in self._seen.items() if not v]:
                del self._seen[idle]
        return True


# --------------------------------------------------------------------------------------------
# Rendering and security headers
# --------------------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["govuk_date"] = govuk_date
    return environment


_TEMPLATES = _environment()


def _csp(nonce: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        "manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def _secure(response: Response, nonce: str) -> Response:
    response.headers["Content-Security-Policy"] = _csp(nonce)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    return response


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
    body = _TEMPLATES.get_template(template).render(
        account=account,
        csrf_token=_csrf_token(request) if "session" in request.scope else "",
        csp_nonce=nonce,
        trusted_header=bool(_console(request).settings.web_trusted_header),
        **context,
    )
    return _secure(HTMLResponse(body, status_code=status_code), nonce)  # type: ignore[return-value]


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


def _redirect(url: str) -> Response:
    return _secure(RedirectResponse(url, status_code=303), "")


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


# --------------------------------------------------------------------------------------------
# Sessions, sign-in and cross-site request forgery
# --------------------------------------------------------------------------------------------


def _csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _csrf_ok(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    given = form.get("csrf_token")
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


async def current_account(request: Request) -> Account | None:
    """The signed-in account, read afresh so a disabled account stops at once."""
    console = _console(request)
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
                return _redirect("/sign-in?" + urlencode({"next": request.url.path}))
            return message(
                request,
                "Sign in again",
                "Your session has ended, so nothing was recorded. Sign in and try again.",
                status_code=401,
                link=("/sign-in", "Sign in"),
            )
        if request.method == "POST":
            form = await request.form()
            if not _csrf_ok(request, form):
                return _csrf_refused(request, account)
            request.state.form = form
        return await handler(request, account)

    return endpoint


def _csrf_refused(request: Request, account: Account | None) -> HTMLResponse:
    return message(
        request,
        "This form has expired",
        "Nothing was recorded: the form was not one this console gave you, or it is from an "
        "earlier session. Go back, reload the page and try again.",
        status_code=403,
        account=account,
    )


def _forbidden(request: Request, account: Account) -> HTMLResponse:
    return message(
        request,
        "You cannot see this page",
        "Your account does not cover this area or this action. If you need it, ask an "
        "administrator to change your account.",
        status_code=403,
        account=account,
        link=("/cases", "Go to your cases"),
    )


def _client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def sign_in(request: Request) -> Response:
    """Sign in with an email and password (argon2 hashes, `cspflow user add`)."""
    console = _console(request)
    nxt = request.query_params.get("next", "/cases")
    if console.settings.web_trusted_header:
        return message(
            request,
            "Sign in through your council",
            "This console trusts your council's single sign-on. Open it through that address.",
        )
    if request.method == "GET":
        return page(request, "sign_in.html.j2", title="Sign in", next=_local_path(nxt), email="")
    if not console.limiter.allow("sign-in:" + _client_key(request)):
        return _too_many(request)
    form = await request.form()
    if not _csrf_ok(request, form):
        return _csrf_refused(request, None)
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
    return _redirect(nxt)


def _local_path(path: str) -> str:
    """Only a path on this console (no open redirect to another site)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/cases"
    return path


async def sign_out(request: Request) -> Response:
    """Sign out: forget the session."""
    form = await request.form()
    if not _csrf_ok(request, form):
        return _csrf_refused(request, None)
    request.session.clear()
    return _redirect("/sign-in")


def _too_many(request: Request) -> HTMLResponse:
    return message(
        request,
        "Too many attempts",
        "Wait a minute and try again. Nothing was recorded.",
        status_code=429,
    )


# --------------------------------------------------------------------------------------------
# Coordinators and auditors
# --------------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    """The console starts at the case list."""
    return _redirect("/cases")


@signed_in
async def cases(request: Request, account: Account) -> Response:
    """Cases the account may see, filtered by process, area, stage, overdue; soonest due first."""
    console = _console(request)
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
        return _forbidden(request, account)
    today = datetime.now(UTC).date()
    rows = await list_cases(
        console.sessions,
        process=chosen["process"] or None,
        area=chosen["area"] or None,
        stage=chosen["stage"] or None,
        overdue_on=today if chosen["overdue"] else None,
    )
    rows = [row for row in rows if row.area in readable]
    filters = [
        ("process", "Process", [(name, spec.title) for name, spec in PROCESSES.items()]),
        ("area", "Area", areas),
        ("stage", "Stage", [(stage.value, stage.value) for stage in Stage]),
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
    )


@signed_in
async def choose_process(request: Request, account: Account) -> Response:
    """Start a case: with one process, go straight to its form."""
    if len(PROCESSES) == 1:
        return _redirect(f"/cases/new/{next(iter(PROCESSES))}")
    return message(
        request,
        "Start a case",
        *[f"{spec.title}: /cases/new/{name}" for name, spec in PROCESSES.items()],
        account=account,
    )


def _choices(console: Console, account: Account) -> Callable[[str], list[tuple[str, str]] | None]:
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
    console = _console(request)
    spec = PROCESSES.get(request.path_params["process"])
    if spec is None:
        return message(request, "Page not found", status_code=404, account=account)
    if not any(account.can_act(area.id) for area in console.directory.areas):
        return _forbidden(request, account)
    schema = spec.input_model.model_json_schema()
    choices = _choices(console, account)
    action = f"/cases/new/{spec.process.value}"
    context: dict[str, Any] = {
        "title": f"Start a {spec.title} case",
        "caption": spec.statute,
        "intro": [
            "Enter the application as received. Nothing is recorded until every answer is "
            "valid; then the case starts and the acknowledgement and information requests go."
        ],
        "action": action,
        "submit": "Start the case",
        "back": "/cases",
        "nav": "/cases/new",
    }
    if request.method == "GET":
        form = build_form(schema, skip=frozenset(), choices_for=choices)
        return page(request, "form.html.j2", account=account, fields=form.fields, **context)
    posted_form = request.state.form
    raw = _multi(posted_form)
    rebuilt = _rebuild(schema, raw, posted_form, frozenset(), choices)
    if rebuilt is not None:
        return page(request, "form.html.j2", account=account, fields=rebuilt.fields, **context)
    posted = read_form(schema, raw, skip=frozenset())
    form = build_form(schema, raw=raw, skip=frozenset(), choices_for=choices)
    try:
        if posted.problems:
            raise _Invalid(None)
        application = spec.input_model.model_validate(posted.document)
    except (ValidationError, _Invalid) as error:
        attach_problems(form, posted, error if isinstance(error, ValidationError) else None)
        return _form_errors(request, account, form, context)
    area = getattr(application, "area", None)
    if area is None or not account.can_act(area):
        return _forbidden(request, account)
    try:
        case_id = await spec.start(console.flow(account.email), application)
    except ClientError as error:
        form.errors.append(("main-content", str(error)))
        return _form_errors(request, account, form, context)
    log.info("case_started_web", case_id=case_id, process=spec.process.value)
    return _redirect(f"/cases/{case_id}")


class _Invalid(Exception):
    """A posted form with problems only the form can have (e.g. 31 February)."""

    def __init__(self, error: ValidationError | None) -> None:
        self.error = error


def _multi(form: FormData) -> dict[str, list[str]]:
    raw: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            raw.setdefault(key, []).append(value)
    return raw


def _rebuild(
    schema: dict[str, Any],
    raw: dict[str, list[str]],
    form: FormData,
    skip: frozenset[str],
    choices: Callable[[str], list[tuple[str, str]] | None],
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


def _form_errors(
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
    request: Request, account: Account, case_id: str
) -> tuple[ProcessSpec, Any] | Response:
    """The case's status if the account may read it; else the page to show instead."""
    console = _console(request)
    spec = process_of_case(case_id)
    if spec is None:
        return message(request, "Page not found", status_code=404, account=account)
    try:
        status = await console.flow(account.email).case_status(case_id)
    except ClientError:
        return message(
            request,
            "No such case",
            "Check the case in the list of cases.",
            status_code=404,
            account=account,
            link=("/cases", "Go to your cases"),
        )
    if not account.can_read(status.area):
        return _forbidden(request, account)
    return spec, status


@signed_in
async def case_page(request: Request, account: Account) -> Response:
    """One case: stage, deadlines met or missed, tasks, decisions, notices and the timeline."""
    console = _console(request)
    case_id = request.path_params["case_id"]
    found = await _case_or_refusal(request, account, case_id)
    if isinstance(found, Response):
        return found
    spec, status = found
    try:
        timeline = await build_timeline(console.client, case_id, console.sessions)
    except CaseNotFound:
        return message(request, "No such case", status_code=404, account=account)
    await record_access(console.sessions, account.email, case_id, "web:case")
    can_act = account.can_act(status.area)
    steps = [(u, spec.steps[u]) for u in status.allowed_steps if u in spec.steps]
    notices = [entry for entry in timeline.entries if entry.kind.value == "notice"]
    flash = request.session.pop("flash", None)
    return page(
        request,
        "case.html.j2",
        account=account,
        title=f"Case {status.application_reference}",
        nav="/cases",
        case_id=case_id,
        reference=status.application_reference,
        stage=status.stage.value,
        status=status,
        timeline=timeline,
        spec=spec,
        steps=steps,
        can_act=can_act,
        notices=notices,
        flash=flash if isinstance(flash, dict) else None,
    )


@signed_in
async def step_page(request: Request, account: Account) -> Response:
    """A human step as a form generated from its Update's input model, when allowed now."""
    console = _console(request)
    case_id, update = request.path_params["case_id"], request.path_params["update"]
    found = await _case_or_refusal(request, account, case_id)
    if isinstance(found, Response):
        return found
    spec, status = found
    step = spec.step(update)
    if step is None:
        return message(request, "Page not found", status_code=404, account=account)
    if not account.can_act(status.area):
        return _forbidden(request, account)
    if update not in status.allowed_steps:
        return message(
            request,
            "This step is not open now",
            f"The case is at stage {status.stage.value}. Steps open now: "
            f"{', '.join(status.allowed_steps) or 'none'}.",
            status_code=409,
            account=account,
            link=(f"/cases/{case_id}", "Back to the case"),
        )
    schema = step.model.model_json_schema()
    choices = _choices(console, account)
    context: dict[str, Any] = {
        "title": step.title,
        "caption": f"Case {status.application_reference}",
        "intro": [step.model.__doc__.strip().splitlines()[0]] if step.model.__doc__ else [],
        "action": f"/cases/{case_id}/steps/{update}",
        "submit": "Record this step",
        "back": f"/cases/{case_id}",
    }
    if request.method == "GET":
        form = build_form(schema, choices_for=choices)
        return page(request, "form.html.j2", account=account, fields=form.fields, **context)
    posted_form = request.state.form
    raw = _multi(posted_form)
    rebuilt = _rebuild(schema, raw, posted_form, frozenset({"by"}), choices)
    if rebuilt is not None:
        return page(request, "form.html.j2", account=account, fields=rebuilt.fields, **context)
    posted = read_form(schema, raw)
    form = build_form(schema, raw=raw, choices_for=choices)
    try:
        if posted.problems:
            raise _Invalid(None)
        payload = step.model.model_validate({**posted.document, "by": account.email})
    except (ValidationError, _Invalid) as error:
        attach_problems(form, posted, error if isinstance(error, ValidationError) else None)
        return _form_errors(request, account, form, context)
    try:
        await console.flow(account.email).step(case_id, update, payload)
    except ClientError as error:
        form.errors.append(("main-content", str(error)))
        return _form_errors(request, account, form, context)
    request.session["flash"] = {"text": f"{step.title}: recorded."}
    return _redirect(f"/cases/{case_id}")


@signed_in
async def new_answer_link(request: Request, account: Account) -> Response:
    """Revoke every answer link of a task and issue a new one, shown once to the coordinator."""
    console = _console(request)
    task_id = request.path_params["task_id"]
    case_id = task_id.split(".task.", 1)[0]
    found = await _case_or_refusal(request, account, case_id)
    if isinstance(found, Response):
        return found
    _, status = found
    if not account.can_act(status.area) or task_id not in {t.task_id for t in status.tasks}:
        return _forbidden(request, account)
    await revoke_answer_links(console.sessions, task_id, account.email, datetime.now(UTC))
    token = await _token_after_revocation(console.secret, task_id)
    log.info("answer_link_reissued", task_id=task_id)
    request.session["flash"] = {
        "text": "Earlier answer links for this task no longer work.",
        "link": answer_url(console.settings.web_url, token),
    }
    return _redirect(f"/cases/{case_id}")


async def _token_after_revocation(secret: bytes, task_id: str) -> str:
    """A link issued in a later second than the revocation (links carry whole seconds)."""
    now = time.time()
    await asyncio.sleep(int(now) + 1 - now + 0.01)
    return issue_answer_token(secret, task_id)


@signed_in
async def reports(request: Request, account: Account) -> Response:
    """The yearly figures of a process for an area, with a CSV download."""
    console = _console(request)
    params = request.query_params
    spec = PROCESSES.get(params.get("process", next(iter(PROCESSES))))
    if spec is None:
        return message(request, "Page not found", status_code=404, account=account)
    areas = console.area_choices(account, acting=False)
    if not areas:
        return _forbidden(request, account)
    area = params.get("area", areas[0][0])
    if area not in {a for a, _ in areas}:
        return _forbidden(request, account)
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
            f"Give a financial year from 2014 (the Act came into force) to {today.year}.",
            status_code=400,
            account=account,
            link=("/reports", "Published figures"),
        )
    figures = await spec.figures(console.sessions, area, year)
    first, last = financial_year(year)
    query = {"process": spec.process.value, "area": area, "year": str(year)}
    if request.url.path.endswith(".csv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["process", "area", "period_start", "period_end", "figure", "number"])
        for key, label in spec.figure_labels.items():
            writer.writerow(
                [spec.process.value, area, first.isoformat(), last.isoformat(), label, figures[key]]
            )
        name = f"{spec.process.value}-{area}-{year}-{str(year + 1)[-2:]}.csv"
        response = Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
        return _secure(response, "")
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
    )


# --------------------------------------------------------------------------------------------
# Partners: one task, one signed link, no account
# --------------------------------------------------------------------------------------------

_LINK_PAGES: dict[LinkProblem, tuple[str, str]] = {
    LinkProblem.TAMPERED: (
        "This link does not work",
        "The link is incomplete or has been changed. Copy the whole link from the email, or "
        "ask the coordinator named in the email for a new one.",
    ),
    LinkProblem.EXPIRED: (
        "This link has expired",
        "Answer links stop working after a while to keep the case safe. Ask the coordinator "
        "named in the email for a new link.",
    ),
    LinkProblem.REVOKED: (
        "This link has been withdrawn",
        "The coordinator has withdrawn this link, usually because a new one was sent. Use the "
        "newest email, or ask the coordinator.",
    ),
    LinkProblem.CLOSED: (
        "This request is closed",
        "This request has already been answered or closed, so nothing more can be recorded "
        "through this link. If you need to add something, contact the coordinator.",
    ),
}


def _link_refused(request: Request, problem: LinkProblem) -> HTMLResponse:
    title, text = _LINK_PAGES[problem]
    log.info("answer_link_refused", problem=problem.value)
    return message(request, title, text, "Nothing was recorded.", status_code=403)


def _answer_csrf(secret: bytes, token: str) -> str:
    """The answer form's anti-forgery value: bound to the link, so only its page can post it."""
    return hmac.new(secret, b"answer-form:" + token.encode(), hashlib.sha256).hexdigest()


async def answer(request: Request) -> Response:
    """A partner answers one task through its signed link, in a form from the response schema."""
    console = _console(request)
    if not console.limiter.allow("answer:" + _client_key(request)):
        return _too_many(request)
    token = request.path_params["token"]
    task_id = token_task_id(console.secret, token)
    revoked_at = (
        await answer_links_revoked_at(console.sessions, task_id) if task_id is not None else None
    )
    try:
        link = verify_answer_token(
            console.secret,
            token,
            timedelta(days=console.settings.answer_link_days),
            revoked_at,
        )
    except AnswerLinkRefused as refused:
        return _link_refused(request, refused.problem)
    agency_user = f"{link.task_id.rsplit('.', 1)[-1]} (answer link)"
    flow = console.flow(agency_user)
    try:
        task = await flow.task_status(link.task_id)
    except ClientError:
        return _link_refused(request, LinkProblem.CLOSED)
    if task.state not in OPEN_STATES:
        return _link_refused(request, LinkProblem.CLOSED)
    schema, model = task.response_schema, RESPONSE_MODELS[TaskKind(task.kind)]
    csrf = _answer_csrf(console.secret, token)
    context: dict[str, Any] = {
        "title": f"Answer request {task.case_reference}",
        "task": task,
        "action": f"/answer/{token}",
    }
    if request.method == "GET":
        await record_access(console.sessions, agency_user, task.case_id, "web:answer")
        form = build_form(schema, skip=frozenset())
        return _answer_page(request, form, context, csrf)
    posted_form = await request.form()
    given = posted_form.get("csrf_token")
    if not isinstance(given, str) or not hmac.compare_digest(given, csrf):
        return message(
            request,
            "This form has expired",
            "Nothing was recorded. Open the link from the email again and answer there.",
            status_code=403,
        )
    raw = _multi(posted_form)
    posted = read_form(schema, raw, skip=frozenset())
    form = build_form(schema, raw=raw, skip=frozenset())
    try:
        if posted.problems:
            raise _Invalid(None)
        response = model.model_validate(posted.document)
    except (ValidationError, _Invalid) as error:
        attach_problems(form, posted, error if isinstance(error, ValidationError) else None)
        return _answer_page(request, form, context, csrf, status_code=400)
    try:
        await flow.submit(link.task_id, _plain(response))
    except ClientError as error:
        form.errors.append(("main-content", str(error)))
        return _answer_page(request, form, context, csrf, status_code=400)
    log.info("answer_received_web", task_id=link.task_id)
    return message(
        request,
        "Answer received",
        f"Thank you. Your answer to request {task.case_reference} has been recorded in the "
        "case and the coordinator can see it.",
        "This link now shows that the request is closed.",
    )


def _plain(model: BaseModel) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return data


def _answer_page(
    request: Request,
    form: Form,
    context: dict[str, Any],
    csrf: str,
    status_code: int = 200,
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = _TEMPLATES.get_template("answer.html.j2").render(
        account=None,
        csrf_token=csrf,
        csp_nonce=nonce,
        trusted_header=False,
        nav=None,
        errors=form.errors,
        fields=form.fields,
        **context,
    )
    return _secure(HTMLResponse(body, status_code=status_code), nonce)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# The application
# --------------------------------------------------------------------------------------------


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown pages say so, in the console's own look."""
    return message(request, "Page not found", "Check the address.", status_code=404)


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
        Route("/reports.csv", reports),
        Route("/answer/{token}", answer, methods=["GET", "POST"]),
        Mount("/assets", StaticFiles(directory=GOVUK_FRONTEND / "assets"), name="assets"),
        Mount("/govuk", StaticFiles(directory=GOVUK_FRONTEND), name="govuk"),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    over_tls = console.settings.web_url.startswith("https://")
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=console.secret.decode(),
                session_cookie="cspflow_session",
                max_age=SESSION_HOURS * 3600,
                same_site="lax",
                https_only=over_tls,
            )
        ],
        exception_handlers={404: not_found},
    )
    app.state.console = console
    return app
