"""Partner mails and chair letters name the coordinator and how to reach them (issue 12, "Words").

A partner told only that "the coordinator" wants an answer does not know whom to call. Every mail
of a partner task (request, reminder, overdue notice, escalation, closing notice) and the chair's
letter, in both processes, name the area's coordinator from the directory and their email, and
still carry nothing about the applicant, the victims or the complainants.
"""

from __future__ import annotations

from datetime import date, timedelta
from email.message import EmailMessage

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.community_trigger import CaseOutcome, CloseCase, DecideThreshold, Stage
from starter.client import Cspflow
from tests.conftest import Inbox
from tests.workflows import dhr_cases
from tests.workflows.directory import COORDINATOR, COORDINATOR_NAME, application
from tests.workflows.helpers import case_result, eventually
from tests.workflows.test_community_trigger import BY, at_stage
from tests.workflows.test_personal_data import PERSONAL

DHR_PERSONAL = (*dhr_cases.PSEUDONYMS, dhr_cases.CIRCUMSTANCES)


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def assert_names_the_coordinator(messages: list[EmailMessage], personal: tuple[str, ...]) -> None:
    assert messages
    for message in messages:
        for body in bodies(message):
            assert COORDINATOR_NAME in body, message["Subject"]
            assert COORDINATOR in body, message["Subject"]
            for detail in personal:
                assert detail not in body, f"{detail!r} in {message['Subject']}"
        assert COORDINATOR_NAME not in str(message["Subject"])


def partner_mails(inbox: Inbox) -> list[EmailMessage]:
    """Every mail a partner task sent (its key starts with the task's id, '...task...')."""
    return [m for m in inbox.messages if ".task." in str(m["X-Cspflow-Key"])]


def kinds(messages: list[EmailMessage]) -> set[str]:
    """Which partner-task mails were sent, from their subjects; a request names no other kind."""
    found = set()
    for message in messages:
        subject = str(message["Subject"]).lower()
        named = {k for k in ("reminder", "overdue", "escalation", "closed") if k in subject}
        found |= named or {"request"}
    return found


async def test_community_trigger_partner_mails_and_chair_letter_name_the_coordinator(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """Request, reminders, overdue notices, escalations, the closing notice and the chair's
    letter all name the coordinator and their email, and no applicant or victim detail."""
    case_id = await cspflow.start_community_trigger(application(today, reference="NAMED-1"))
    await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None,
        what="proposal",
    )
    await cspflow.step(case_id, "decide_threshold", DecideThreshold(by=BY, decision="confirm"))
    status = await at_stage(cspflow, case_id, Stage.MEETING)
    assert status.chair is not None and status.chair.chair_id is not None
    chair_email = f"{status.chair.chair_id}@chairs.example.org"
    task_id = f"{case_id}.task.information.test-police"
    shown = await cspflow.task_status(task_id)
    assert shown.coordinator is not None
    assert (shown.coordinator.name, shown.coordinator.email) == (COORDINATOR_NAME, COORDINATOR)
    # Past the due date and two escalation intervals: reminders, overdue notices, escalations.
    await env.sleep(timedelta(days=40))
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Test over"))
    await case_result(env.client, case_id, CaseOutcome)
    await eventually(
        lambda: _async(partner_mails(inbox)),
        lambda found: {"closed"} <= kinds(found),
        what="closing notices",
    )
    sent = partner_mails(inbox)
    assert {"request", "reminder", "overdue", "escalation", "closed"} <= kinds(sent)
    assert_names_the_coordinator(sent, PERSONAL)
    assert_names_the_coordinator(inbox.to(chair_email), PERSONAL)


async def test_dhr_partner_mails_and_chair_letter_name_the_coordinator(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox, today: date
) -> None:
    """The scoping requests, their closing notices and the independent chair's letter name the
    coordinator, with the review's pseudonyms and circumstances nowhere in them."""
    case_id = await dhr_cases.start(cspflow, dhr_cases.notification(today, reference="NAMED-D1"))
    await dhr_cases.at_stage(cspflow, case_id, dhr_cases.Stage.DECISION)
    from schemas.dhr_steps import DecideReview

    await dhr_cases.step(cspflow, case_id, "decide_review", DecideReview, decision="confirm")
    chair = await eventually(
        lambda: dhr_cases.status(cspflow, case_id),
        lambda s: s.chair_id is not None,
        what="chair",
    )
    chair_email = f"{chair.chair_id}@chairs.example.org"
    await eventually(
        lambda: _async(inbox.to(chair_email)), lambda found: len(found) == 1, what="chair letter"
    )
    await dhr_cases.close_and_finish(env, cspflow, case_id)
    await eventually(
        lambda: _async(partner_mails(inbox)),
        lambda found: {"closed"} <= kinds(found),
        what="closing notices",
    )
    sent = partner_mails(inbox)
    assert {"request", "closed"} <= kinds(sent)
    assert all("Domestic Homicide Review" in str(m["Subject"]) for m in sent)
    assert_names_the_coordinator(sent, DHR_PERSONAL)
    assert_names_the_coordinator(inbox.to(chair_email), DHR_PERSONAL)


async def _async(value: list[EmailMessage]) -> list[EmailMessage]:
    return value
