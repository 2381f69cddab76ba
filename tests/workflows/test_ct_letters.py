"""A letter to an applicant with no email is a task for a named person (issue 12, defect 11).

The point of contact gets the letter, the applicant's name and postal address and what to do;
status, the case page and the timeline show the letter to post; it is done only when they say
it went (`letter_posted`), and the case does not close with a letter still unposted.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.community_trigger import (
    Application,
    CaseOutcome,
    CaseStatus,
    CloseCase,
    LetterPosted,
    Stage,
)
from schemas.shared import DeadlineState
from starter.audit.timeline import build_timeline
from starter.client import ClientError, Cspflow
from starter.processes.community_trigger import status_sections
from tests.conftest import Inbox
from tests.workflows.directory import application
from tests.workflows.helpers import case_result, eventually

BY = "coordinator@test.example.org"
POINT_OF_CONTACT = "asb@north.example.org"
ADDRESS = "1 Example Road, North, N1 1AA"


def by_post(received_on: date, reference: str) -> Application:
    data = application(received_on, reference=reference).model_dump(mode="json")
    data["applicant"] = {**data["applicant"], "email": None, "postal_address": ADDRESS}
    return Application.model_validate(data)


async def letters(cspflow: Cspflow, case_id: str, count: int) -> CaseStatus:
    return await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: len(s.letters_to_post) >= count,
        what=f"{count} letters to post",
    )


async def test_a_letter_to_post_is_a_task_for_the_point_of_contact_until_posted(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    session_factory: Any,
    today: date,
) -> None:
    """Name, address, the letter and the step to record it; done only when posted."""
    case_id = await cspflow.start_community_trigger(by_post(today, "POST-1"))
    status = await letters(cspflow, case_id, 1)
    [letter] = status.letters_to_post
    assert (letter.letter, letter.addressee, letter.postal_address) == (
        "acknowledgement",
        "Alex Example",
        ADDRESS,
    )
    assert letter.assigned_to == "North Community Safety Team"
    assert letter.posted_on is None
    deadline = next(d for d in status.deadlines if d.name == "letter-acknowledgement")
    assert deadline.state is DeadlineState.OPEN

    async def to_post() -> list[Any]:
        return [m for m in inbox.to(POINT_OF_CONTACT) if "letter to post" in str(m["Subject"])]

    [instruction] = await eventually(to_post, lambda found: len(found) == 1, what="instruction")
    body = instruction.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Alex Example" in text and ADDRESS in text and "letter-posted" in text
    assert "Alex" not in str(instruction["Subject"])
    assert any("received your application" in str(m["Subject"]) for m in inbox.to(POINT_OF_CONTACT))
    sections = dict(status_sections(status))
    assert ("Postal address", ADDRESS) in sections["Letters to post"]

    with pytest.raises(ClientError, match="no letter"):
        await cspflow.step(
            case_id, "letter_posted", LetterPosted(by=BY, letter="outcome-letter", posted_on=today)
        )
    with pytest.raises(ClientError, match="has not happened yet"):
        await cspflow.step(
            case_id,
            "letter_posted",
            LetterPosted(by=BY, letter="acknowledgement", posted_on=today + timedelta(days=2)),
        )
    status = await cspflow.step(
        case_id, "letter_posted", LetterPosted(by=BY, letter="acknowledgement", posted_on=today)
    )
    [letter] = status.letters_to_post
    assert (letter.posted_on, letter.posted_by) == (today, BY)
    assert next(d for d in status.deadlines if d.name == "letter-acknowledgement").state is (
        DeadlineState.MET
    )

    # Closing writes one more letter; the case closes only once it went.
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="withdrawn"))
    status = await letters(cspflow, case_id, 2)
    assert status.stage is not Stage.CLOSED
    assert "letter_posted" in status.allowed_steps
    await cspflow.step(
        case_id, "letter_posted", LetterPosted(by=BY, letter="case-closed", posted_on=today)
    )
    await case_result(env.client, case_id, CaseOutcome)
    timeline = await build_timeline(env.client, case_id, session_factory)
    said = [e.summary for e in timeline.entries]
    assert any("letter posted" in s for s in said)
    assert any("'letter-acknowledgement'" in s and "met" in s for s in said)
