"""Answer pages: a partner agency answers one task through the signed link in its mail.

The link (starter.answer_links) opens one task only and stops working when the task closes, when
it expires or when the coordinator revokes it; each refusal gets its own page saying what to do,
and records nothing. The page shows what the agency needs (case reference, what is asked, due
date, reminders so far), never the applicant's details. The answer is the same Update as
`cspflow submit`, recorded as made by the agency through its link. Rate-limited per address.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from activities.access_log import record_access
from activities.accounts import (
    answer_links_revoked_at,
)
from schemas.directory import Area, Directory, PointOfContact
from schemas.partner_task import RESPONSE_MODELS, TaskContact, TaskKind
from starter.answer_links import (
    AnswerLinkRefused,
    LinkProblem,
    token_task_id,
    verify_answer_token,
)
from starter.client import CaseStalled, ClientError, NoWorker, StepNotYetTaken
from starter.registry import process_of_case
from starter.web.auth import client_key, too_many
from starter.web.coordinators import form_values
from starter.web.forms import Form, build_form, check_posted
from starter.web.rendering import OPEN_STATES, console_of, log, message, page

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


ANSWER_LINK_ROLE = "answer-link"
"""The role an answer is signed with: the agency, through the link in its mail."""


def _link_refused(request: Request, problem: LinkProblem) -> HTMLResponse:
    title, text = _LINK_PAGES[problem]
    log.info("answer_link_refused", problem=problem.value)
    return message(request, title, text, "Nothing was recorded.", status_code=403)


def _answer_csrf(secret: bytes, token: str) -> str:
    """The answer form's anti-forgery value: bound to the link, so only its page can post it."""
    return hmac.new(secret, b"answer-form:" + token.encode(), hashlib.sha256).hexdigest()


async def answer(request: Request) -> Response:
    """A partner answers one task through its signed link, in a form from the response schema."""
    console = console_of(request)
    if not console.limiter.allow("answer:" + client_key(request)):
        return too_many(request)
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
    flow = console.flow(agency_user, ANSWER_LINK_ROLE)
    try:
        task = await flow.task_status(link.task_id)
    except CaseStalled:
        # The task's workflow cannot move on (starter/health.py): say so, take nothing.
        return message(
            request,
            "This request cannot take answers just now",
            "Nothing was recorded. The case's coordinator can see that the request needs an "
            "engineer's attention. Please contact the coordinator who sent you the request.",
            status_code=503,
        )
    except ClientError:
        return _link_refused(request, LinkProblem.CLOSED)
    if task.state not in OPEN_STATES:
        return _link_refused(request, LinkProblem.CLOSED)
    schema, model = task.response_schema, RESPONSE_MODELS[TaskKind(task.kind)]
    csrf = _answer_csrf(console.secret, token)
    area = _area_of(console.directory, task.case_id)
    contact = area.point_of_contact if area is not None else None
    context: dict[str, Any] = {
        "title": f"Answer request {task.case_reference}",
        "task": task,
        "action": f"/answer/{token}",
        "partnership": f"{area.name} Community Safety Partnership"
        if area is not None
        else console.directory.name,
        "contact": _contact(task.coordinator, contact),
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
    raw = form_values(posted_form)
    form, response = check_posted(schema, raw, model.model_validate, skip=frozenset(), model=model)
    if response is None:
        return _answer_page(request, form, context, csrf, status_code=400)
    try:
        await flow.submit(link.task_id, _plain(response))
    except NoWorker:
        # A deploy or a crash: the service that records answers is not running just now.
        return message(
            request,
            "This request cannot take answers just now",
            "Your answer was not recorded. Please open the link from the email again in a few "
            "minutes and answer there.",
            status_code=503,
        )
    except StepNotYetTaken:
        return message(
            request,
            "Your answer is waiting to be recorded",
            "The service that records answers did not respond in time. It will record your "
            "answer when it is back, and this link will then show that the request is closed. "
            "Please do not answer again before then.",
            status_code=503,
        )
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


def _contact(coordinator: TaskContact | None, point: PointOfContact | None) -> str:
    """Whom the agency contacts: the coordinator the task names (as its mails do), else the
    area's published point of contact (tasks started before they carried a coordinator)."""
    if coordinator is not None:
        return f"{coordinator.name}, {coordinator.email}"
    if point is not None:
        return f"{point.name}, {point.email}, {point.phone}"
    return "the coordinator named in the email"


def _area_of(directory: Directory, case_id: str) -> Area | None:
    """The area a case belongs to: its id is `{prefix}{area}-{reference}` (starter.registry)."""
    spec = process_of_case(case_id)
    if spec is None:
        return None
    rest = case_id.removeprefix(spec.case_prefix)
    matching = [area for area in directory.areas if rest.startswith(f"{area.id}-")]
    return max(matching, key=lambda area: len(area.id), default=None)


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
    return page(
        request,
        "answer.html.j2",
        status_code,
        csrf_token=csrf,
        errors=form.errors,
        fields=form.fields,
        **context,
    )
