"""The notice activity against a real aiosmtpd server and real SQLite and PostgreSQL.

Each send runs through Temporal's ActivityEnvironment; a notice sent twice with one key leaves
one mail and one row, a refused send names what to fix, and no log line carries personal data.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import activities.notices as notices
from activities.db import Notice, SessionFactory
from activities.notices import (
    ACCEPTED,
    NoticeActivities,
    SmtpConfig,
    available_templates,
    message_id,
    placeholders,
    render_notice,
)
from schemas.notices import NoticeRequest, NoticeResult
from starter.mailcatcher import MailCatcher, get_message, list_messages
from starter.settings import Settings
from tests.activities.attempts import Attempts
from tests.conftest import Inbox, free_port

SENT_AT = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
APPLICANT = "applicant@example.net"
COORDINATOR = "coordinator@example.org"
AGENCY = "asb-team@police.example.org"

DASH = "\N{EN DASH}"

SAMPLE: dict[str, Any] = {
    "case_reference": "AV-2025-014",
    "case_id": "ct-amber-valley-AV-2025-014",
    "area_name": "Amber Valley",
    "point_of_contact_name": "Amber Valley Community Safety Team",
    "point_of_contact_phone": "01773 570222",
    "threshold_due": "2025-03-20",
    "waiting_since": "2025-03-03",
    "met": False,
    "reasons": ["2 qualifying complaints in 6 months; the threshold is 3"],
    "appeal_window_end": "2025-04-17",
    "escalation_body_name": "the Office of the Police and Crime Commissioner for Derbyshire",
    "step": "threshold-decision",
    "due": "2025-03-20",
    "days_overdue": 3,
    "meeting_on": "2025-04-02T13:30:00+00:00",
    "previous_meeting_on": "2025-04-09",
    "letter_title": "Acknowledgement letter",
    "letter": "acknowledgement",
    "addressee": "A. Resident",
    "postal_address": "1 Example Road, Ripley DE5 3XX",
    "assigned_to": "Amber Valley Community Safety Team",
    "findings": "The agencies did not share what they knew.\n\nNo one owned the case.",
    "recommendations": [
        {
            "to_body_name": "Futures Housing",
            "action": "Fit a door entry system",
            "due": "2025-05-01",
        }
    ],
    "grounds": ["threshold-wrongly-rejected", "evidence-not-considered"],
    "upheld": False,
    "reason": "The application was withdrawn.",
    "template_failed": "community-trigger/acknowledgement",
    "recipient_role": "acknowledgement",
    "task_id": "ct-amber-valley-AV-2025-014.task.information.derbyshire-police",
    "answer_url": "https://cspflow.example.org/answer/TOKEN",
    "agency_name": "Derbyshire Constabulary",
    "kind_label": "information request",
    "asked": "Send your records of contacts about the behaviour since 1 September 2024.",
    "agency_references": ["DC-2025-0042", "INC-77"],
    "reminder_number": 1,
    "since": "2025-03-21T09:15:00+00:00",
    "attempts": 5,
    "workflows": ["ct-amber-valley-AV-2025-014"],
    "cause": "its recorded history no longer replays (a nondeterminism error)",
    "notified_on": "2025-03-03",
    "decision_due": "2025-04-02",
    "review_held": True,
    "review_name": "Domestic Homicide Review",
    "other_reviews": ["sar: no care and support needs were known"],
    "target": "2025-10-02",
    "previous_target": "2025-09-02",
    "months": 4,
    "submission": 1,
    "documents": [
        {"title": "Overview report", "version": 2, "reference": "AV-DHR-OR", "sha256": "ab" * 32}
    ],
    "signed_off_on": "2025-09-01",
    "coordinator_name": "Jo Bloggs",
    "coordinator_email": "jo.bloggs@ambervalley.gov.uk",
}
"""One value for every placeholder of every template; the only address is the coordinator's,
which partners and chairs are given to reach them (never in a subject)."""

DHR_PLACEHOLDERS: dict[str, set[str]] = {
    "dhr/acknowledgement": {"area_name", "case_reference", "decision_due", "notified_on"},
    "dhr/chair-appointed": {"area_name", "case_id", "case_reference"},
    "dhr/completion-missed": {"case_id", "case_reference", "days_overdue", "target"},
    "dhr/completion-reminder": {"case_id", "case_reference", "months", "target"},
    "dhr/dac-copy-reminder": {"case_id", "case_reference", "reminder_number", "signed_off_on"},
    "dhr/decision-family": {
        "area_name",
        "case_reference",
        "point_of_contact_name",
        "review_held",
        "review_name",
    },
    "dhr/decision-home-office": {
        "area_name",
        "case_reference",
        "other_reviews",
        "reasons",
        "review_held",
        "review_name",
    },
    "dhr/no-eligible-chair": {"case_id", "case_reference", "reasons"},
    "dhr/qa-submission": {"area_name", "case_id", "case_reference", "documents", "submission"},
    "dhr/revised-timetable": {
        "area_name",
        "case_reference",
        "previous_target",
        "reason",
        "target",
    },
    "dhr/sos-copy-reminder": {"case_id", "case_reference", "reminder_number", "signed_off_on"},
    "dhr/step-overdue": {"case_id", "case_reference", "days_overdue", "due", "step"},
    "dhr/step-reminder": {"case_id", "case_reference", "due", "step"},
}
"""The DHR's own notices (activities/templates/dhr/)."""

EXPECTED_PLACEHOLDERS: dict[str, set[str]] = {
    "system/case-stalled": {"case_reference", "case_id", "since", "attempts", "workflows", "cause"},
    "community-trigger/acknowledgement": {
        "case_reference",
        "area_name",
        "point_of_contact_name",
        "point_of_contact_phone",
        "threshold_due",
    },
    "community-trigger/consent-reminder": {"case_reference", "case_id", "waiting_since"},
    "community-trigger/threshold-decision": {
        "case_reference",
        "met",
        "reasons",
        "appeal_window_end",
        "escalation_body_name",
        "point_of_contact_name",
    },
    "community-trigger/coordinator-reminder": {"case_reference", "case_id", "step", "due"},
    "community-trigger/coordinator-overdue": {
        "case_reference",
        "case_id",
        "step",
        "due",
        "days_overdue",
    },
    "community-trigger/chair-allocated": {"case_reference", "area_name"},
    "community-trigger/no-eligible-chair": {"case_reference", "case_id", "reasons"},
    "community-trigger/meeting-invitation": {"case_reference", "meeting_on"},
    "community-trigger/meeting-rescheduled": {
        "case_reference",
        "meeting_on",
        "previous_meeting_on",
    },
    "community-trigger/meeting-papers": {"case_reference", "meeting_on"},
    "community-trigger/letter-to-post": {
        "case_reference",
        "case_id",
        "letter_title",
        "letter",
        "addressee",
        "postal_address",
        "assigned_to",
        "due",
    },
    "community-trigger/outcome-letter": {
        "case_reference",
        "findings",
        "recommendations",
        "appeal_window_end",
        "escalation_body_name",
    },
    "community-trigger/appeal-referral": {"case_reference", "case_id", "grounds", "due"},
    "community-trigger/appeal-decision": {"case_reference", "upheld", "reasons"},
    "community-trigger/case-closed": {"case_reference", "reason"},
    "community-trigger/delivery-failed": {
        "case_reference",
        "case_id",
        "template_failed",
        "recipient_role",
    },
    "partner-task/closed": {
        "case_reference",
        "agency_name",
        "kind_label",
        "agency_references",
        "due",
        "reason",
    },
    **{
        f"partner-task/{name}": {
            "task_id",
            "case_reference",
            "agency_name",
            "kind_label",
            "asked",
            "agency_references",
            "due",
            "answer_url",
            *extra,
        }
        for name, extra in (
            ("request", ()),
            ("reminder", ("reminder_number",)),
            ("overdue", ("days_overdue",)),
            ("escalation", ("days_overdue",)),
            ("dhr-request", ()),
            ("dhr-reminder", ("reminder_number",)),
            ("dhr-overdue", ("days_overdue",)),
            ("dhr-escalation", ("days_overdue",)),
        )
    },
    **DHR_PLACEHOLDERS,
}


NAMED = {"coordinator_name", "coordinator_email"}
NAMING_COORDINATOR: dict[str, set[str]] = {
    **{
        f"partner-task/{name}": EXPECTED_PLACEHOLDERS[f"partner-task/{name}"] | NAMED
        for name in (
            "request",
            "reminder",
            "overdue",
            "escalation",
            "closed",
            "dhr-request",
            "dhr-reminder",
            "dhr-overdue",
            "dhr-escalation",
        )
    },
    "partner-task/dhr-closed": EXPECTED_PLACEHOLDERS["partner-task/closed"] | NAMED | {"task_id"},
    "community-trigger/chair-allocated": EXPECTED_PLACEHOLDERS["community-trigger/chair-allocated"]
    | NAMED,
    "dhr/chair-appointed": EXPECTED_PLACEHOLDERS["dhr/chair-appointed"] | NAMED,
}
"""Version 2 of every partner-task mail and chair letter: version 1's words and the coordinator's
name and email (issue 12, "Words")."""


def subject_prefix(template: str) -> str:
    """What every subject of a template's process starts with: the review's kind and reference."""
    dhr = template.startswith(("dhr/", "partner-task/dhr-"))
    return ("Domestic Homicide Review" if dhr else "Community Trigger") + " AV-2025-014: "


def context_for(template: str) -> dict[str, Any]:
    """The sample values of exactly the placeholders a template uses."""
    return {name: SAMPLE[name] for name in EXPECTED_PLACEHOLDERS[template]}


def request(
    template: str = "community-trigger/acknowledgement",
    *,
    key: str = "ct-amber-valley-AV-2025-014:acknowledgement:0",
    to: tuple[str, ...] = (APPLICANT,),
    cc: tuple[str, ...] = (),
    context: dict[str, Any] | None = None,
    version: int = 1,
) -> NoticeRequest:
    return NoticeRequest(
        idempotency_key=key,
        case_id=SAMPLE["case_id"],
        template=template,
        template_version=version,
        to=to,
        cc=cc,
        context=context_for(template) if context is None else context,
        sent_at=SENT_AT,
    )


def smtp_config(port: int) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        mail_from="cspflow@amber-valley.example.org",
        mail_domain="cspflow.test",
    )


@pytest.fixture
def notice_activities(
    session_factory: SessionFactory, smtp_server: tuple[Inbox, int], inbox: Inbox
) -> NoticeActivities:
    return NoticeActivities(session_factory, smtp_config(smtp_server[1]))


async def send(activities: NoticeActivities, notice: NoticeRequest) -> NoticeResult:
    result: NoticeResult = await ActivityEnvironment().run(activities.send_notice, notice)
    return result


async def notice_rows(session_factory: SessionFactory) -> list[Notice]:
    async with session_factory() as session:
        return list((await session.execute(sa.select(Notice))).scalars())


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    content = body.get_content()
    assert isinstance(content, str)
    return content


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert isinstance(body, EmailMessage)
    content = body.get_content()
    assert isinstance(content, str)
    return content


# --------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------


async def test_notice_is_sent_to_its_recipients_with_a_message_id_from_its_key(
    notice_activities: NoticeActivities, inbox: Inbox, session_factory: SessionFactory
) -> None:
    """A notice arrives as text and HTML, dated with workflow time, its Message-ID from its key."""
    notice = request(cc=(COORDINATOR,))

    result = await send(notice_activities, notice)

    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    expected_id = message_id(notice.idempotency_key, "cspflow.test")
    digest = hashlib.sha256(notice.idempotency_key.encode()).hexdigest()[:32]
    assert expected_id == f"<{digest}@cspflow.test>"
    assert message["Message-ID"] == expected_id
    assert message["To"] == APPLICANT
    assert message["Cc"] == COORDINATOR
    assert message["From"] == "cspflow@amber-valley.example.org"
    assert message["Subject"] == "Community Trigger AV-2025-014: we have received your application"
    assert parsedate_to_datetime(str(message["Date"])) == SENT_AT
    assert message["X-Cspflow-Case"] == SAMPLE["case_id"]
    assert message["X-Cspflow-Key"] == notice.idempotency_key
    assert message.get_content_type() == "multipart/alternative"
    text = text_of(message)
    assert "AV-2025-014" in text
    assert "20 March 2025" in text
    assert "Amber Valley Community Safety Team" in text
    assert "01773 570222" in text
    assert "<h1>We have received your application</h1>" in html_of(message)
    assert result == NoticeResult(
        idempotency_key=notice.idempotency_key,
        message_id=expected_id,
        subject=str(message["Subject"]),
        content_sha256=result.content_sha256,
        already_sent=False,
    )
    [row] = await notice_rows(session_factory)
    assert (row.status, row.message_id, row.sent_at) == ("sent", expected_id, SENT_AT)
    assert row.recipients == [APPLICANT, COORDINATOR]
    assert row.content_sha256 == result.content_sha256


async def test_a_second_send_with_one_key_sends_nothing(
    notice_activities: NoticeActivities, inbox: Inbox, session_factory: SessionFactory
) -> None:
    """Run twice with one key, the second time as Temporal's retry (attempt 2, given attempt 1's
    heartbeat details): one mail, one row."""
    attempts = Attempts()
    first = await attempts.run(notice_activities.send_notice, request())
    second = await attempts.run(notice_activities.send_notice, request())

    assert len(inbox.messages) == 1
    assert len(await notice_rows(session_factory)) == 1
    assert not first.already_sent
    assert second.already_sent
    assert (second.message_id, second.subject, second.content_sha256) == (
        first.message_id,
        first.subject,
        first.content_sha256,
    )


async def test_a_send_while_smtp_is_down_raises_and_the_retry_sends_one_mail(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    """Connection refused is transient: it raises for Temporal to retry, then one mail goes."""
    port = free_port()
    activities = NoticeActivities(session_factory, smtp_config(port))

    attempts = Attempts()
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await attempts.run(activities.send_notice, request())
    [row] = await notice_rows(session_factory)
    assert row.status == "pending"

    with MailCatcher(tmp_path / "mail", port=port):
        result = await attempts.run(activities.send_notice, request())
        again = await attempts.run(activities.send_notice, request())
    assert attempts.attempt == 3

    [caught] = list_messages(tmp_path / "mail")
    assert caught.message_id == result.message_id
    assert caught.to == (APPLICANT,)
    assert not result.already_sent and again.already_sent
    [row] = await notice_rows(session_factory)
    assert row.status == "sent"


async def test_a_crash_after_the_send_resends_with_the_same_message_id(
    smtp_server: tuple[Inbox, int],
    inbox: Inbox,
    session_factory: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If marking `sent` fails for good after SMTP accepted the mail and the retry has no
    evidence of the accept (the heartbeat was lost), the retry repeats the Message-ID.

    SMTP cannot be made exactly-once; one Message-ID is what lets mail clients show one message.
    (A retry that has the evidence sends nothing: test_notice_mark_sent.py.)
    """
    notice_activities = NoticeActivities(
        session_factory, smtp_config(smtp_server[1]), mark_sent_within=timedelta(0)
    )
    real_mark = notices.mark_notice_sent
    calls = 0

    async def mark_fails_once(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("records database went away")
        await real_mark(*args)

    monkeypatch.setattr(notices, "mark_notice_sent", mark_fails_once)

    attempts = Attempts()
    with pytest.raises(ConnectionError):
        await attempts.run(notice_activities.send_notice, request())
    attempts.last_heartbeat = ()  # the evidence heartbeat never reached Temporal
    await attempts.run(notice_activities.send_notice, request())
    third = await attempts.run(notice_activities.send_notice, request())

    assert len(inbox.messages) == 2
    assert inbox.messages[0]["Message-ID"] == inbox.messages[1]["Message-ID"]
    assert third.already_sent
    [row] = await notice_rows(session_factory)
    assert row.status == "sent"


async def test_a_retry_given_the_accept_evidence_marks_the_row_and_sends_nothing(
    smtp_server: tuple[Inbox, int],
    inbox: Inbox,
    session_factory: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Marking `sent` fails for good after SMTP accepted the mail; the retry (attempt 2) is
    handed attempt 1's heartbeat with the accepted Message-ID: it only marks the row. One mail,
    one row, sent."""
    notice_activities = NoticeActivities(
        session_factory, smtp_config(smtp_server[1]), mark_sent_within=timedelta(0)
    )
    real_mark = notices.mark_notice_sent
    calls = 0

    async def mark_fails_once(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("records database went away")
        await real_mark(*args)

    monkeypatch.setattr(notices, "mark_notice_sent", mark_fails_once)

    attempts = Attempts()
    with pytest.raises(ConnectionError):
        await attempts.run(notice_activities.send_notice, request())
    assert attempts.last_heartbeat == ({ACCEPTED: inbox.messages[0]["Message-ID"]},)
    retried = await attempts.run(notice_activities.send_notice, request())

    assert len(inbox.messages) == 1, "the retry sent the notice again"
    assert retried.message_id == inbox.messages[0]["Message-ID"] and not retried.already_sent
    [row] = await notice_rows(session_factory)
    assert (row.status, row.message_id) == ("sent", retried.message_id)


async def test_a_missing_or_empty_placeholder_refuses_the_send_naming_each_one(
    notice_activities: NoticeActivities, inbox: Inbox, session_factory: SessionFactory
) -> None:
    """Like GOV.UK Notify: no mail with a hole in it, and every missing placeholder is named."""
    context = context_for("community-trigger/acknowledgement")
    del context["threshold_due"]
    context["case_reference"] = ""
    context["point_of_contact_phone"] = None

    with pytest.raises(ApplicationError) as caught:
        await send(notice_activities, request(context=context))

    error = caught.value
    assert error.type == "MissingPersonalisation"
    assert error.non_retryable
    assert error.message.startswith(
        "Missing personalisation: case_reference, point_of_contact_phone, threshold_due "
        "(template community-trigger/acknowledgement v1)"
    )
    assert inbox.messages == []
    assert await notice_rows(session_factory) == []


def test_empty_values_nested_in_lists_and_dicts_are_named_by_path() -> None:
    """A recommendation without a due date is named as recommendations[0].due."""
    context = context_for("community-trigger/outcome-letter")
    context["recommendations"] = [
        {"to_body_name": "Futures Housing", "action": "Fit a door entry system", "due": None},
    ]
    with pytest.raises(notices.MissingPersonalisation) as caught:
        render_notice("community-trigger/outcome-letter", 1, context)
    assert caught.value.missing == ("recommendations[0].due",)

    context["recommendations"] = [{"to_body_name": "Futures Housing", "action": "Fit a door"}]
    with pytest.raises(notices.MissingPersonalisation) as caught:
        render_notice("community-trigger/outcome-letter", 1, context)
    assert caught.value.missing == ("due",)


@pytest.mark.parametrize(
    ("template", "version"),
    [
        ("community-trigger/no-such-notice", 1),
        ("community-trigger/acknowledgement", 9),
        ("../../etc/passwd", 1),
    ],
)
async def test_an_unknown_template_or_version_is_refused(
    notice_activities: NoticeActivities, inbox: Inbox, template: str, version: int
) -> None:
    """An unknown template cannot start working on a retry, so it is not retried."""
    with pytest.raises(ApplicationError) as caught:
        await send(notice_activities, request(template, version=version, context={}))
    assert caught.value.type == "UnknownTemplate"
    assert caught.value.non_retryable
    assert "community-trigger/acknowledgement v1" in str(caught.value)  # lists the known ones
    assert inbox.messages == []


async def test_a_permanently_refused_recipient_is_a_bad_recipient_named_by_role(
    notice_activities: NoticeActivities, inbox: Inbox, session_factory: SessionFactory
) -> None:
    """550 'no such user' fails for good, naming the template and role but never the address."""
    inbox.refuse.add(APPLICANT)

    with capture_logs() as logs, pytest.raises(ApplicationError) as caught:
        await send(notice_activities, request())

    error = caught.value
    assert error.type == "BadRecipient"
    assert error.non_retryable
    assert "community-trigger/acknowledgement" in str(error)
    assert "to[0]" in str(error)
    assert APPLICANT not in str(error)
    assert inbox.messages == []
    [row] = await notice_rows(session_factory)
    assert row.status == "failed"
    assert row.error is not None and APPLICANT not in row.error
    [refused] = [entry for entry in logs if entry["event"] == "notice_refused"]
    assert refused["recipient_roles"] == ["to[0]"]
    assert APPLICANT not in repr(logs)


async def test_a_refused_copy_recipient_fails_the_notice_after_the_others_got_it(
    notice_activities: NoticeActivities, inbox: Inbox, session_factory: SessionFactory
) -> None:
    """An escalation whose agency address is bad still reaches the coordinator, then escalates."""
    bad = "nobody@police.example.org"
    inbox.refuse.add(bad)

    with pytest.raises(ApplicationError) as caught:
        await send(
            notice_activities,
            request("partner-task/escalation", key="t:escalation:1", to=(COORDINATOR, bad)),
        )

    assert caught.value.type == "BadRecipient"
    assert "to[1]" in str(caught.value) and bad not in str(caught.value)
    assert [str(m["To"]) for m in inbox.messages] == [f"{COORDINATOR}, {bad}"]
    [row] = await notice_rows(session_factory)
    assert row.status == "failed"


async def test_a_catcher_refuses_invalid_domains_with_a_permanent_error(
    session_factory: SessionFactory, tmp_path: Path
) -> None:
    """The embedded system's catcher refuses `.invalid` addresses, so rehearsals can escalate."""
    port = free_port()
    activities = NoticeActivities(session_factory, smtp_config(port))
    with MailCatcher(tmp_path / "mail", port=port), pytest.raises(ApplicationError) as caught:
        await send(activities, request(to=("applicant@example.invalid",)))
    assert caught.value.type == "BadRecipient"
    assert list_messages(tmp_path / "mail") == []


async def test_log_lines_carry_ids_and_never_addresses_or_values(
    notice_activities: NoticeActivities, inbox: Inbox
) -> None:
    """Logs name the notice by ids only: no address, subject, body or placeholder value."""
    with capture_logs() as logs:
        await send(notice_activities, request())
        await send(notice_activities, request())

    assert [entry["event"] for entry in logs] == ["notice_sent", "notice_already_sent"]
    flat = repr(logs)
    for value in (APPLICANT, "Amber Valley", "01773 570222", "AV-2025-014", "received"):
        assert value not in flat


async def test_ids_are_bound_to_the_logging_context_during_the_send(
    notice_activities: NoticeActivities, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """case_id, idempotency_key and template are bound with bound_contextvars, then unbound."""
    import structlog

    seen: dict[str, Any] = {}
    real_deliver = NoticeActivities._deliver

    async def spy(self: NoticeActivities, *args: Any) -> None:
        seen.update(structlog.contextvars.get_contextvars())
        await real_deliver(self, *args)

    monkeypatch.setattr(NoticeActivities, "_deliver", spy)
    notice = request()
    await send(notice_activities, notice)

    assert seen["case_id"] == notice.case_id
    assert seen["idempotency_key"] == notice.idempotency_key
    assert seen["template"] == notice.template
    assert "idempotency_key" not in structlog.contextvars.get_contextvars()


def test_smtp_config_is_built_from_settings_and_hides_the_password() -> None:
    settings = Settings(
        smtp_host="smtp.example.org",
        smtp_port=587,
        smtp_username="cspflow",
        smtp_password=SecretStr("hunter2"),
        smtp_use_tls=True,
        mail_from="csp@example.org",
        mail_domain="csp.example.org",
    )
    config = SmtpConfig.from_settings(settings)
    assert config == SmtpConfig(
        "smtp.example.org", 587, "cspflow", "hunter2", True, "csp@example.org", "csp.example.org"
    )
    assert "hunter2" not in repr(config)


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def test_every_template_uses_exactly_the_placeholders_its_callers_supply() -> None:
    """The placeholder list of each template is its contract with the workflows."""
    found = {
        (name, version): set(placeholders(name, version)) for name, version in available_templates()
    }
    assert found == {
        **{(name, 1): names for name, names in EXPECTED_PLACEHOLDERS.items()},
        **{(name, 2): names for name, names in NAMING_COORDINATOR.items()},
    }


@pytest.mark.parametrize("template", sorted(NAMING_COORDINATOR))
def test_partner_mails_and_chair_letters_name_the_coordinator_and_their_email(
    template: str,
) -> None:
    """A partner or chair reads whom to contact, by name and email, in text and HTML."""
    context = {name: SAMPLE[name] for name in NAMING_COORDINATOR[template]}
    rendered = render_notice(template, 2, context)
    for body in (rendered.text, rendered.html):
        assert "Jo Bloggs" in body
        assert "jo.bloggs@ambervalley.gov.uk" in body
    assert "@" not in rendered.subject and "Jo Bloggs" not in rendered.subject


@pytest.mark.parametrize(("template", "version"), available_templates())
def test_every_template_renders_with_a_subject_free_of_personal_data(
    template: str, version: int
) -> None:
    """Subjects quote the case reference and never an address; HTML has no inline styles."""
    rendered = render_notice(template, version, SAMPLE)
    assert "@" not in rendered.subject
    assert "\n" not in rendered.subject
    assert rendered.subject.startswith(subject_prefix(template))
    assert "AV-2025-014" in rendered.text
    assert "style=" not in rendered.html
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in rendered.html
    assert "\n\n\n" not in rendered.text


@pytest.mark.parametrize("prefix", ["", "dhr-"])
@pytest.mark.parametrize("name", ["request", "reminder", "overdue", "escalation"])
def test_partner_mails_say_how_to_answer_and_warn_that_email_is_not_secure(
    name: str, prefix: str
) -> None:
    """An agency is told the commands, its references, and not to reply with personal data."""
    template = f"partner-task/{prefix}{name}"
    rendered = render_notice(template, 1, context_for(template))
    task_id = SAMPLE["task_id"]
    for body in (rendered.text, rendered.html):
        assert f"cspflow task show {task_id}" in body
        assert f"cspflow submit {task_id} --file response.json" in body
        assert "AV-2025-014" in body
        assert "DC-2025-0042, INC-77" in body
        assert "not a secure channel" in body
        assert "https://cspflow.example.org/answer/TOKEN" in body
    expected = {
        "request": "information request due 2025-03-20",
        "reminder": f"reminder 1 {DASH} information request due 2025-03-20",
        "overdue": "information request overdue by 3 days (was due 2025-03-20)",
        "escalation": f"escalation {DASH} information request from Derbyshire Constabulary "
        "overdue by 3 days",
    }
    assert rendered.subject == f"{subject_prefix(template)}{expected[name]}"


def test_a_threshold_not_met_letter_says_what_else_the_applicant_can_do() -> None:
    """Not met: complaints procedures, both ombudsmen, and how to ask for a look again by when."""
    context = context_for("community-trigger/threshold-decision")
    not_met = render_notice("community-trigger/threshold-decision", 1, context).text
    assert "does not meet the threshold" in not_met
    assert "own complaints procedure" in not_met
    assert "Local Government and Social Care Ombudsman" in not_met
    assert "Housing Ombudsman" in not_met
    assert "looked at again" in not_met and "17 April 2025" in not_met
    assert SAMPLE["reasons"][0] in not_met

    met = render_notice("community-trigger/threshold-decision", 1, context | {"met": True}).text
    assert "meets the threshold" in met
    assert "Ombudsman" not in met


def test_html_escapes_values_and_text_keeps_them() -> None:
    """A value is data, never markup: HTML escapes it, the plain-text part shows it as written."""
    context = context_for("community-trigger/case-closed") | {"reason": "Moved <away> & safe"}
    rendered = render_notice("community-trigger/case-closed", 1, context)
    assert "Moved &lt;away&gt; &amp; safe" in rendered.html
    assert "Moved <away> & safe" in rendered.text


def test_dates_and_times_are_written_the_gov_uk_way() -> None:
    assert notices.govuk_date("2025-03-20") == "20 March 2025"
    assert notices.govuk_date(datetime(2025, 4, 2, 13, 30, tzinfo=UTC)) == "2 April 2025 at 2:30pm"
    assert notices.govuk_date("2025-01-02T12:00:00+00:00") == "2 January 2025 at midday"
    assert notices.govuk_date("2025-01-02T09:00:00+00:00") == "2 January 2025 at 9am"
    assert notices.iso_date("2025-04-02T23:30:00+00:00") == "2025-04-03"  # BST
    assert notices.days(1) == "1 day"


# --------------------------------------------------------------------------------------------
# The mail catcher
# --------------------------------------------------------------------------------------------


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    with MailCatcher(tmp_path / "mail", port=free_port()) as running:
        yield running


def plain_message(subject: str, date: str, message_id_: str) -> EmailMessage:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "cspflow@example.org"
    message["To"] = "one@example.org"
    message["Cc"] = "two@example.org"
    message["Subject"] = subject
    message["Date"] = date
    message["Message-ID"] = message_id_
    message.set_content(f"Body of {subject}\n")
    message.add_alternative(f"<p>Body of {subject}</p>", subtype="html")
    return message


async def test_the_catcher_lists_messages_by_date_and_shows_one_by_id_prefix(
    catcher: MailCatcher,
) -> None:
    """`cspflow mail` lists oldest first by Date (workflow time), whatever the arrival order."""
    later = plain_message("Later", "Wed, 02 Apr 2025 10:00:00 +0000", "<later@test>")
    earlier = plain_message("Earlier", "Mon, 03 Mar 2025 10:00:00 +0000", "<earlier@test>")
    for message in (later, earlier):
        await aiosmtplib.send(message, hostname=catcher.host, port=catcher.port)

    listed = list_messages(catcher.mail_dir)

    assert [m.subject for m in listed] == ["Earlier", "Later"]
    assert listed[0].date == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
    assert listed[0].from_ == "cspflow@example.org"
    assert listed[0].to == ("one@example.org", "two@example.org")
    assert listed[0].message_id == "<earlier@test>"

    summary, body = get_message(catcher.mail_dir, listed[1].id[:-3])
    assert summary == listed[1]
    assert body == "Body of Later\n"


async def test_the_catcher_refuses_an_unknown_or_ambiguous_id(catcher: MailCatcher) -> None:
    for n in range(2):
        message = plain_message(f"M{n}", "Mon, 03 Mar 2025 10:00:00 +0000", f"<m{n}@test>")
        await aiosmtplib.send(message, hostname=catcher.host, port=catcher.port)
    with pytest.raises(LookupError, match="run `cspflow mail`"):
        get_message(catcher.mail_dir, "no-such-id")
    [first, _] = list_messages(catcher.mail_dir)
    with pytest.raises(LookupError, match="give more characters"):
        get_message(catcher.mail_dir, first.id[:3])


def test_an_empty_or_missing_mail_dir_lists_nothing(tmp_path: Path) -> None:
    assert list_messages(tmp_path / "never-created") == []


async def test_a_notice_sent_to_the_catcher_is_readable_with_cspflow_mail(
    session_factory: SessionFactory, catcher: MailCatcher
) -> None:
    """The embedded path end to end: activity, local SMTP, Maildir, `cspflow mail show`."""
    activities = NoticeActivities(session_factory, smtp_config(catcher.port))
    result = await send(
        activities, request("partner-task/request", key="t:request:0", to=(AGENCY,))
    )

    [summary] = list_messages(catcher.mail_dir)
    assert summary.subject == "Community Trigger AV-2025-014: information request due 2025-03-20"
    assert summary.message_id == result.message_id
    assert summary.date == SENT_AT
    _, body = get_message(catcher.mail_dir, summary.id)
    assert f"cspflow submit {SAMPLE['task_id']} --file response.json" in body


async def test_the_catcher_serves_sends_from_the_event_loop_it_is_started_in(
    catcher: MailCatcher,
) -> None:
    """The catcher runs in its own thread, so concurrent sends from this loop all land."""
    messages = [
        plain_message(f"C{n}", "Mon, 03 Mar 2025 10:00:00 +0000", f"<c{n}@test>") for n in range(5)
    ]
    await asyncio.gather(
        *(aiosmtplib.send(m, hostname=catcher.host, port=catcher.port) for m in messages)
    )
    assert len(list_messages(catcher.mail_dir)) == 5
    stored = email.message_from_bytes(
        (next((catcher.mail_dir / "new").iterdir())).read_bytes(), policy=email.policy.default
    )
    assert stored["X-Envelope-To"] == "one@example.org, two@example.org"
