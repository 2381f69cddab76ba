"""Notices: render a pinned template version and send it by SMTP, once per idempotency key.

Every statutory letter of a process goes through here: the Community Trigger acknowledgement,
threshold decision (ASBCPA 2014 s.104(6)), outcome letter and appeal notices, and the partner
task requests and chasers. The rules follow GOV.UK Notify (house style §5):

- a template is addressed by name and version (`community-trigger/acknowledgement` v1), so a
  running case keeps the wording it started with;
- a send with a missing or empty placeholder is refused, naming each one ("Missing
  personalisation: case_reference, due"), rather than posting a letter with a hole in it;
- the notice row is written `pending` before the send and moved to `sent` after it, so a retry
  that finds `sent` sends nothing; the Message-ID derives from the idempotency key, so even a
  retry after a crash between send and mark repeats the same Message-ID, which mail clients
  treat as one message;
- once the mail server has accepted the message, the activity records that in its heartbeat
  details and retries the `sent` mark with backoff while heartbeating, so a records database
  that is briefly down does not make Temporal retry the whole activity and send again; and if
  the mark still fails, the next attempt finds the heartbeat evidence and only marks
  (`NoticeActivities.send_notice` says what remains at-least-once);
- a permanently refused address is a non-retryable `BadRecipient` that the workflow escalates to
  the coordinator; every other SMTP failure raises and Temporal retries with backoff.

Logs carry ids only (house style §11): never an address, a body or a placeholder value.

Template files live in `activities/templates/<process>/<name>.v<version>.<part>.j2`, one file
per part: `subject`, `txt` and `html`. The HTML part is autoescaped; the others are plain text.
"""

from __future__ import annotations

import asyncio
import email.policy
import functools
import hashlib
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import aiosmtplib
import structlog
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    UndefinedError,
    meta,
    select_autoescape,
)
from structlog.contextvars import bound_contextvars
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.records import claim_notice, mark_notice_failed, mark_notice_sent
from schemas.notices import NoticeRequest, NoticeResult
from schemas.plain_words import plain, plain_all

if TYPE_CHECKING:
    from pydantic import SecretStr

    from activities.db import SessionFactory

log = structlog.get_logger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
"""Where the notice templates live; shipped as package data (`*.j2`)."""

PARTS = ("subject", "txt", "html")
"""The three files of one template version."""

SMTP_TIMEOUT_SECONDS = 30.0
"""Below the activity's start-to-close timeout, so a hung server fails the attempt, not the task."""

MARK_SENT_WITHIN = timedelta(seconds=25)
"""How long a send keeps retrying the `sent` mark after the mail server accepted the message.

With an SMTP send of at most SMTP_TIMEOUT_SECONDS it stays inside the effects' 60 s
start-to-close timeout; an outage longer than this is covered by the heartbeat evidence."""

MARK_SENT_BACKOFF = (0.25, 4.0)
"""The first wait between attempts at the mark, doubling up to the second."""

ACCEPTED = "smtp_accepted"
"""The heartbeat detail key recording the Message-ID the mail server accepted."""

_LONDON = ZoneInfo("Europe/London")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$")
_TEMPLATE_FILE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)\.v(?P<version>[0-9]+)\.subject\.j2$")
_MISSING_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'|'([^']+)' is undefined")


# --------------------------------------------------------------------------------------------
# Errors raised while rendering (the activity turns them into non-retryable ApplicationErrors)
# --------------------------------------------------------------------------------------------


class NoticeTemplateError(Exception):
    """A notice cannot be rendered; retrying with the same request cannot help.

    NoticeTemplateError
    ├── UnknownTemplate         no such template name and version on disk
    └── MissingPersonalisation  a placeholder is missing, None or empty
    """

    type_name = "NoticeTemplateError"


class UnknownTemplate(NoticeTemplateError):
    """No template of that name and version exists."""

    type_name = "UnknownTemplate"


class MissingPersonalisation(NoticeTemplateError):
    """Placeholders the template needs are missing or empty; `missing` names each one."""

    type_name = "MissingPersonalisation"

    def __init__(self, template: str, version: int, missing: Sequence[str]) -> None:
        self.template = template
        self.version = version
        self.missing = tuple(missing)
        super().__init__(
            f"Missing personalisation: {', '.join(self.missing)} "
            f"(template {template} v{version}): give a value for each in the notice context "
            "and send again"
        )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedNotice:
    """One notice as it will be sent: a one-line subject, a plain-text body and an HTML body."""

    subject: str
    text: str
    html: str

    @property
    def content_sha256(self) -> str:
        """Fingerprint of what was sent: SHA-256 over subject, text and HTML, NUL-separated."""
        content = "\x00".join((self.subject, self.text, self.html))
        return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _parse_when(value: Any) -> date | datetime | None:
    """Read a date or datetime given as an object or, after JSON, as an ISO 8601 string."""
    if isinstance(value, date):  # datetime is a date too
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            return None
    return None


def _local(moment: datetime) -> datetime:
    """UK local time of an aware datetime (workflow time is UTC); a naive one is left alone."""
    return moment.astimezone(_LONDON) if moment.tzinfo is not None else moment


def govuk_date(value: Any) -> str:
    """Format a date as GOV.UK writes it: '20 March 2025', or '20 March 2025 at 2:30pm'.

    GOV.UK style guide, "Dates" and "Times": no leading zero, full month, 'midday'.
    A value that is not a date is shown as given.
    """
    when = _parse_when(value)
    if when is None:
        return str(value)
    if not isinstance(when, datetime):
        return f"{when.day} {when:%B %Y}"
    when = _local(when)
    day = f"{when.day} {when:%B %Y}"
    if when.hour == 12 and when.minute == 0:
        return f"{day} at midday"
    hour = when.hour % 12 or 12
    suffix = "am" if when.hour < 12 else "pm"
    minutes = f":{when.minute:02d}" if when.minute else ""
    return f"{day} at {hour}{minutes}{suffix}"


def iso_date(value: Any) -> str:
    """Format a date as YYYY-MM-DD, used in subjects so they sort and search well."""
    when = _parse_when(value)
    if when is None:
        return str(value)
    if isinstance(when, datetime):
        return _local(when).date().isoformat()
    return when.isoformat()


def days(value: Any) -> str:
    """'1 day', '3 days'."""
    return f"{value} day" if str(value) in ("1", "-1") else f"{value} days"


def step_label(value: Any) -> str:
    """A step id as words: 'threshold-decision' -> 'threshold decision'."""
    return str(value).replace("-", " ").replace("_", " ")


@functools.cache
def template_titles() -> dict[str, str]:
    """Every notice's name for people, by template name: 'community-trigger/acknowledgement' ->
    'Acknowledgement letter'.

    Each template folder's `titles.yaml` holds its own (a process's words stay with its
    templates); a template with no title is named by its file name in words.
    """
    from activities.strict_yaml import strict_load

    titles: dict[str, str] = {}
    for path in sorted(TEMPLATES_DIR.glob("*/titles.yaml")):
        loaded = strict_load(path.read_text(encoding="utf-8")) or {}
        titles.update({f"{path.parent.name}/{name}": str(title) for name, title in loaded.items()})
    return titles


def template_title(template: str) -> str:
    """A notice's name for people (see `template_titles`)."""
    known = template_titles().get(template)
    if known:
        return known
    words = template.rsplit("/", 1)[-1].replace("-", " ")
    return words[:1].upper() + words[1:]


def paragraphs(value: Any) -> list[str]:
    """Split free text into paragraphs at blank lines, for HTML <p> elements."""
    return [part.strip() for part in re.split(r"\n\s*\n", str(value)) if part.strip()]


@functools.cache
def template_environment() -> Environment:
    """The one Jinja environment: strict about undefined names, HTML autoescaped only."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        govuk_date=govuk_date,
        iso_date=iso_date,
        days=days,
        step_label=step_label,
        paragraphs=paragraphs,
        plain=plain,
        plain_all=plain_all,
        template_title=template_title,
    )
    return environment


def _file(template: str, version: int, part: str) -> str:
    return f"{template}.v{version}.{part}.j2"


def available_templates() -> list[tuple[str, int]]:
    """List every (template name, version) on disk, sorted; for tests and `notice preview`."""
    found: list[tuple[str, int]] = []
    for subject in TEMPLATES_DIR.glob("*/*.subject.j2"):
        match = _TEMPLATE_FILE.match(subject.name)
        if match:
            found.append((f"{subject.parent.name}/{match['name']}", int(match["version"])))
    return sorted(found)


def _check_known(template: str, version: int) -> None:
    if not _TEMPLATE_NAME.match(template) or not all(
        (TEMPLATES_DIR / _file(template, version, part)).is_file() for part in PARTS
    ):
        known = ", ".join(f"{name} v{v}" for name, v in available_templates())
        raise UnknownTemplate(
            f"there is no notice template {template!r} version {version} (each version needs "
            f"{', '.join(_file(template, version, part) for part in PARTS)} under "
            f"{TEMPLATES_DIR}); known templates: {known}"
        )


def _undeclared(environment: Environment, name: str, seen: set[str]) -> set[str]:
    """The placeholders of one template file and of every file it extends or includes."""
    if name in seen:
        return set()
    seen.add(name)
    assert environment.loader is not None
    source, _, _ = environment.loader.get_source(environment, name)
    tree = environment.parse(source)
    names = set(meta.find_undeclared_variables(tree))
    for referenced in meta.find_referenced_templates(tree):
        if referenced is not None:
            names |= _undeclared(environment, referenced, seen)
    return names


@functools.cache
def placeholders(template: str, version: int) -> frozenset[str]:
    """Return every placeholder a template version uses, in any of its three parts."""
    _check_known(template, version)
    environment = template_environment()
    seen: set[str] = set()
    names: set[str] = set()
    for part in PARTS:
        names |= _undeclared(environment, _file(template, version, part), seen)
    return frozenset(names)


def _empty_paths(name: str, value: Any) -> Iterator[str]:
    """Yield the path of every None or blank value in a placeholder, nested ones included."""
    if value is None or (isinstance(value, str) and not value.strip()):
        yield name
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _empty_paths(f"{name}.{key}", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _empty_paths(f"{name}[{index}]", item)


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def render_notice(template: str, version: int, context: Mapping[str, Any]) -> RenderedNotice:
    """Render the subject, text and HTML of a template version, refusing empty placeholders.

    Raises UnknownTemplate when the name or version does not exist, and MissingPersonalisation
    naming every placeholder that is absent, None or blank (nested list and dict values too),
    as GOV.UK Notify refuses a send with missing personalisation.
    """
    required = placeholders(template, version)
    missing = sorted(name for name in required if name not in context)
    for name in sorted(required & context.keys()):
        missing.extend(_empty_paths(name, context[name]))
    if missing:
        raise MissingPersonalisation(template, version, sorted(missing))

    environment = template_environment()
    parts: dict[str, str] = {}
    try:
        for part in PARTS:
            parts[part] = environment.get_template(_file(template, version, part)).render(context)
    except UndefinedError as error:
        # A key missing inside a nested value, e.g. recommendations[0] without 'due'.
        found = _MISSING_ATTRIBUTE.search(str(error))
        names = [group for group in found.groups() if group] if found else []
        raise MissingPersonalisation(template, version, names[:1] or [str(error)]) from None
    except TemplateNotFound as error:
        raise UnknownTemplate(f"template file {error.name!r} is missing: {error}") from None

    subject = " ".join(parts["subject"].split())
    if not subject:
        raise MissingPersonalisation(template, version, ["subject (rendered empty)"])
    return RenderedNotice(subject=subject, text=_tidy_text(parts["txt"]), html=parts["html"])


def message_id(idempotency_key: str, mail_domain: str) -> str:
    """Derive the Message-ID from the idempotency key, so every attempt uses the same one."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{mail_domain}>"


# --------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------


class MailSettings(Protocol):
    """The mail settings SmtpConfig takes (starter.settings.Settings has them): a protocol, so
    activities depend on no face (house style §1: faces -> activities, never back)."""

    smtp_host: str
    smtp_port: int
    smtp_username: str | None
    smtp_password: SecretStr | None
    smtp_use_tls: bool
    mail_from: str
    mail_domain: str


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the mail server; built once in the composition root from Settings.

    `use_tls` on port 465 means implicit TLS; on any other port it means STARTTLS is required.
    Off, the connection stays plain (the local catcher of the embedded system).
    """

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    mail_from: str = "cspflow@example.org"
    mail_domain: str = "cspflow.example.org"

    @classmethod
    def from_settings(cls, settings: MailSettings) -> SmtpConfig:
        """Take the CSPFLOW_SMTP_* and mail settings."""
        password = settings.smtp_password
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            use_tls=settings.smtp_use_tls,
            mail_from=settings.mail_from,
            mail_domain=settings.mail_domain,
        )


def build_message(
    request: NoticeRequest, rendered: RenderedNotice, smtp: SmtpConfig, message_id_: str
) -> EmailMessage:
    """Build the multipart/alternative message, dated with workflow time (rehearsals simulate it).

    The Date header is the workflow's time, not the clock's, so a rehearsal that skips weeks
    shows each notice on the day the procedure sent it.
    """
    sent_at = request.sent_at
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = smtp.mail_from
    message["To"] = ", ".join(request.to)
    if request.cc:
        message["Cc"] = ", ".join(request.cc)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id_
    message["X-Cspflow-Case"] = request.case_id
    message["X-Cspflow-Key"] = request.idempotency_key
    # RFC 3834: tells auto-responders not to answer an automated notice.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def _accepted_earlier(mid: str) -> bool:
    """True when an earlier attempt of this activity recorded that the mail server accepted
    this Message-ID (its heartbeat details, handed on by Temporal to the retry)."""
    if not activity.in_activity():
        return False
    return any(
        isinstance(detail, Mapping) and detail.get(ACCEPTED) == mid
        for detail in activity.info().heartbeat_details
    )


def _roles(request: NoticeRequest) -> dict[str, str]:
    """Map each address to its role ('to[0]', 'cc[1]'), the name used in errors and logs."""
    roles: dict[str, str] = {}
    for header, addresses in (("to", request.to), ("cc", request.cc)):
        for index, address in enumerate(addresses):
            roles.setdefault(address.lower(), f"{header}[{index}]")
    return roles


@contextmanager
def _logging_ids(request: NoticeRequest) -> Iterator[None]:
    """Bind the notice's ids (never personal data) to every log line of this send (style §11)."""
    ids = {
        "case_id": request.case_id,
        "idempotency_key": request.idempotency_key,
        "template": request.template,
        "template_version": request.template_version,
    }
    if activity.in_activity():
        info = activity.info()
        ids |= {"workflow_id": info.workflow_id or "", "attempt": info.attempt}
    with bound_contextvars(**ids):
        yield


ANSWER_URL_MASK = "[answer link]"
"""What the recorded rendering shows in place of a partner's answer link.

The link is a credential (starter/answer_links.py), signed when the mail is sent and so
different on every attempt: the records and the history keep the notice's hash and subject
with the link masked, so a retry records the same hash and no credential lands in an audit
trail; only the mail itself carries the link."""

ANSWER_URL_MISSING = "(no answer page is configured: answer with the commands below)"


def _answers_by_link(request: NoticeRequest) -> bool:
    """Partner-task mails carry an answer link; no other notice does."""
    return request.template.startswith("partner-task/") and "task_id" in request.context


def _with_answer_url(request: NoticeRequest, url: str) -> NoticeRequest:
    if not _answers_by_link(request):
        return request
    return request.model_copy(update={"context": {**request.context, "answer_url": url}})


class NoticeActivities:
    """The notice activity, sharing one session factory and one SMTP configuration."""

    def __init__(
        self,
        session_factory: SessionFactory,
        smtp: SmtpConfig,
        *,
        mark_sent_within: timedelta = MARK_SENT_WITHIN,
        answer_links: Callable[[str], str] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._smtp = smtp
        self._mark_sent_within = mark_sent_within
        self._answer_links = answer_links

    @activity.defn(name="send_notice")
    async def send_notice(self, request: NoticeRequest) -> NoticeResult:
        """Render and send one notice, once for its idempotency key.

        Raises non-retryable ApplicationErrors `UnknownTemplate`, `MissingPersonalisation` and
        `BadRecipient`; any other failure raises for Temporal to retry with backoff.

        Between the mail server accepting the message and the row becoming `sent` lies the one
        window where a retry could send twice, so it is kept small and covered twice over:

        1. Right after the accept, the activity heartbeats `{"smtp_accepted": message_id}`. The
           worker flushes heartbeats within 2 s (activities/heartbeat.py) and Temporal hands
           the last attempt's details to the next attempt.
        2. The `sent` mark is retried with backoff for `mark_sent_within` (25 s) while the
           activity keeps heartbeating, so a records database that is down for a moment (a
           PostgreSQL restart, a failover) costs a wait, not a second send.
        3. If the mark still fails, the activity fails and Temporal retries it. The row is
           still `pending`, but the retry finds its own Message-ID in the heartbeat details,
           sends nothing and only marks the row.

        What stays at-least-once (SMTP has no idempotent submit): a worker killed after the
        accept and before the evidence heartbeat reached Temporal, or a Temporal server that
        lost the heartbeat, leaves no evidence, and the retry sends again. It sends the same
        Message-ID, which mail clients show as one message.
        """
        with _logging_ids(request):
            rendered = self._render(_with_answer_url(request, ANSWER_URL_MASK))
            delivered = rendered
            if _answers_by_link(request):
                delivered = self._render(_with_answer_url(request, self._answer_url(request)))
            mid = message_id(request.idempotency_key, self._smtp.mail_domain)
            recipients = (*request.to, *request.cc)
            row = await claim_notice(
                self._session_factory,
                request.idempotency_key,
                request.case_id,
                request.template,
                request.template_version,
                recipients,
                rendered.subject,
                mid,
                rendered.content_sha256,
                request.sent_at,
            )
            if row.sent:
                log.info("notice_already_sent", message_id=row.message_id)
                return NoticeResult(
                    idempotency_key=request.idempotency_key,
                    message_id=row.message_id,
                    subject=row.subject,
                    content_sha256=row.content_sha256,
                    already_sent=True,
                )
            if row.content_sha256 != rendered.content_sha256:
                # Same key, different words: a template file was edited without a new version.
                log.warning("notice_content_changed", message_id=mid)

            if _accepted_earlier(mid):
                log.info("notice_accepted_earlier", message_id=mid)
            else:
                await self._deliver(request, build_message(request, delivered, self._smtp, mid))
                if activity.in_activity():
                    activity.heartbeat({ACCEPTED: mid})
            await self._mark_sent(request)
            log.info("notice_sent", message_id=mid, recipients=len(recipients))
            return NoticeResult(
                idempotency_key=request.idempotency_key,
                message_id=mid,
                subject=rendered.subject,
                content_sha256=rendered.content_sha256,
                already_sent=False,
            )

    async def _mark_sent(self, request: NoticeRequest) -> None:
        """Mark the row `sent`, retrying with backoff for `mark_sent_within`; then raise.

        Every attempt is bounded: at most one per backoff interval within the time limit.
        """
        deadline = time.monotonic() + self._mark_sent_within.total_seconds()
        wait = MARK_SENT_BACKOFF[0]
        for attempt in range(1, 1000):
            try:
                await mark_notice_sent(
                    self._session_factory, request.idempotency_key, request.sent_at
                )
                if attempt > 1:
                    log.info("notice_marked_sent_after_retry", attempts=attempt)
                return
            except Exception as error:
                if time.monotonic() + wait > deadline:
                    log.warning(
                        "notice_mark_sent_failed", attempts=attempt, error=type(error).__name__
                    )
                    raise
                log.warning(
                    "notice_mark_sent_retrying", attempt=attempt, error=type(error).__name__
                )
            await asyncio.sleep(wait)
            wait = min(wait * 2, MARK_SENT_BACKOFF[1])
        raise RuntimeError(f"notice {request.idempotency_key} was not marked sent")

    def _answer_url(self, request: NoticeRequest) -> str:
        """A fresh signed answer link for the task the notice is about (issue 6)."""
        if self._answer_links is None:
            return ANSWER_URL_MISSING
        return self._answer_links(str(request.context["task_id"]))

    def _render(self, request: NoticeRequest) -> RenderedNotice:
        try:
            return render_notice(request.template, request.template_version, request.context)
        except MissingPersonalisation as error:
            log.warning("notice_refused", reason="missing_personalisation", missing=error.missing)
            raise ApplicationError(str(error), type=error.type_name, non_retryable=True) from None
        except UnknownTemplate as error:
            log.warning("notice_refused", reason="unknown_template")
            raise ApplicationError(str(error), type=error.type_name, non_retryable=True) from None

    async def _deliver(self, request: NoticeRequest, message: EmailMessage) -> None:
        """Hand the message to the mail server; classify refusals as permanent or transient."""
        smtp = self._smtp
        implicit_tls = smtp.use_tls and smtp.port == 465
        recipients = [*request.to, *request.cc]
        try:
            refused, _ = await aiosmtplib.send(
                message,
                sender=smtp.mail_from,
                recipients=recipients,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                use_tls=implicit_tls,
                start_tls=smtp.use_tls and not implicit_tls,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            refused_codes = {item.recipient: item.code for item in error.recipients}
            await self._refused(request, refused_codes, delivered_to_others=False)
            return
        except aiosmtplib.SMTPResponseException as error:
            # The server's text can echo an address, so only the code goes into history and logs.
            log.warning("notice_deferred", smtp_code=error.code, error=type(error).__name__)
            raise ApplicationError(
                f"the mail server replied {error.code} ({type(error).__name__}) while sending "
                f"{request.template}: the send will be retried",
                type=type(error).__name__,
            ) from None
        if refused:
            await self._refused(
                request,
                {address: reply.code for address, reply in refused.items()},
                delivered_to_others=True,
            )

    async def _refused(
        self, request: NoticeRequest, codes: Mapping[str, int], *, delivered_to_others: bool
    ) -> None:
        """Fail permanently on a 5xx refusal; raise for a retry when every refusal was 4xx."""
        roles = _roles(request)
        described = sorted(
            f"{roles.get(address.lower(), 'unknown')} ({code})" for address, code in codes.items()
        )
        permanent = sorted(
            roles.get(address.lower(), "unknown")
            for address, code in codes.items()
            if 500 <= code < 600
        )
        if not permanent:
            log.warning("notice_deferred", recipients_deferred=described)
            raise ApplicationError(
                f"the mail server deferred recipients {', '.join(described)} of "
                f"{request.template}: the send will be retried",
                type="RecipientDeferred",
            )
        note = " (delivered to the other recipients)" if delivered_to_others else ""
        error = (
            f"the mail server permanently refused recipient {', '.join(permanent)} of "
            f"{request.template} v{request.template_version}{note}: correct the address in the "
            "directory or the application and tell the recipient another way"
        )
        await mark_notice_failed(self._session_factory, request.idempotency_key, error)
        log.warning(
            "notice_refused", reason="bad_recipient", recipient_roles=permanent, replies=described
        )
        raise ApplicationError(error, type="BadRecipient", non_retryable=True)
