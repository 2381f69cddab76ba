"""An answer link's lifetime is the configured `answer_link_days`, not a day more or less: checked
one day inside and one day past a non-default limit, in the verifier and through the answer page.

A limit twice as long, or the default 90 days used instead of the setting, passes neither test.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from temporalio.worker import Worker

from starter import answer_links
from starter.answer_links import AnswerLinkRefused, LinkProblem, verify_answer_token
from starter.client import Cspflow
from starter.web.app import Console, create_app
from tests.conftest import Inbox
from tests.web.test_console import answer_link_in_mail, close
from tests.workflows.directory import application

LIFETIME_DAYS = 7  # not the default of 90
SECRET = b"s" * 32
TASK = "ct-north-L-1.task.information.test-police"


def token_issued_days_ago(secret: bytes, task_id: str, days: int) -> str:
    """An answer token for `task_id` signed as if `days` days ago."""

    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - days * 86400

    serializer = URLSafeTimedSerializer(secret, salt=answer_links._SALT, signer=Signer)
    return serializer.dumps({"task": task_id})


def test_a_link_one_day_inside_its_lifetime_opens_its_task() -> None:
    """Issued 6 days ago with a 7-day lifetime: accepted."""
    token = token_issued_days_ago(SECRET, TASK, LIFETIME_DAYS - 1)
    link = verify_answer_token(SECRET, token, timedelta(days=LIFETIME_DAYS))
    assert link.task_id == TASK


def test_a_link_one_day_past_its_lifetime_has_expired() -> None:
    """Issued 8 days ago with a 7-day lifetime: refused as expired (not tampered)."""
    token = token_issued_days_ago(SECRET, TASK, LIFETIME_DAYS + 1)
    with pytest.raises(AnswerLinkRefused) as refused:
        verify_answer_token(SECRET, token, timedelta(days=LIFETIME_DAYS))
    assert refused.value.problem is LinkProblem.EXPIRED


async def test_the_answer_page_honours_a_non_default_link_lifetime(
    worker: Worker, cspflow: Cspflow, console: Console, inbox: Inbox, today: date
) -> None:
    """With `answer_link_days` 7, the page of an open task shows its form to a link issued 6 days
    ago and refuses one issued 8 days ago, saying it has expired."""
    assert console.settings.answer_link_days != LIFETIME_DAYS
    settings = console.settings.model_copy(update={"answer_link_days": LIFETIME_DAYS})
    app = create_app(dataclasses.replace(console, settings=settings))
    case_id = await cspflow.start_community_trigger(application(today, reference="LIFE-1"))
    task_id = f"{case_id}.task.information.test-police"
    try:
        await answer_link_in_mail(inbox, "test-police")  # the task is open
        inside = token_issued_days_ago(console.secret, task_id, LIFETIME_DAYS - 1)
        past = token_issued_days_ago(console.secret, task_id, LIFETIME_DAYS + 1)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as partner:
            opened = await partner.get(f"/answer/{inside}")
            assert opened.status_code == 200, opened.text
            assert f'action="/answer/{inside}"' in opened.text
            expired = await partner.get(f"/answer/{past}")
            assert expired.status_code == 403 and "This link has expired" in expired.text
    finally:
        await close(cspflow, case_id)
