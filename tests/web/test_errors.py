"""The console never shows a traceback or a bare "Internal Server Error" (issue 13).

Over HTTP: a case page asked for with a partner task's id, and pages while the records database
or Temporal cannot be reached, each get a page that says what happened and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from activities.db import make_session_factory
from starter.web.app import Console, create_app
from tests.conftest import ENCRYPTED, TEMPORAL_CLI
from tests.web.conftest import NORTH, Browser

TASK_ID = "ct-north-R-7.task.information.police"


def tolerant(app: Any) -> Browser:
    """A browser of `app` that, like a real server, gets the error page the app sends: Starlette
    re-raises a handled server error to the server after answering, for the server's log."""
    person = Browser(app)
    person.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
    )
    return person


def said_properly(page: httpx.Response) -> None:
    """A console page with a sentence, not a traceback or a bare server error."""
    assert "Traceback" not in page.text
    assert page.text.strip() != "Internal Server Error"
    assert "govuk-template" in page.text or "<html" in page.text.lower()


async def test_a_case_page_for_a_task_id_points_to_its_case(browser: Any) -> None:
    """A partner task's id in a case address says what it is and links to the case."""
    coordinator = browser()
    await coordinator.sign_in(NORTH)
    page = await coordinator.http.get(f"/cases/{TASK_ID}")
    assert page.status_code == 404
    said_properly(page)
    assert "This is a partner task, not a case" in page.text
    assert 'href="/cases/ct-north-R-7"' in page.text


async def test_a_records_outage_gets_a_page_that_says_so(
    console: Console, app: Any, tmp_path: Path
) -> None:
    """With the records database unreachable, every page says so and what to do."""
    coordinator = tolerant(app)
    await coordinator.sign_in(NORTH)
    # A database file in a folder that does not exist: every connection fails, as in an outage.
    unreachable = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/gone/records.db")
    working = console.sessions
    console.sessions = make_session_factory(unreachable)
    try:
        for path in ("/cases", "/cases/ct-north-R-7"):
            page = await coordinator.http.get(path)
            assert page.status_code == 503, path
            said_properly(page)
            assert "The records database cannot be reached" in page.text
            assert "Try again in a few minutes" in page.text and "reference" in page.text
    finally:
        console.sessions = working
        await unreachable.dispose()
        await coordinator.http.aclose()


async def test_a_temporal_outage_gets_a_page_that_says_so(console: Console) -> None:
    """With Temporal stopped under a running console, a case page says Temporal is down."""
    server = await WorkflowEnvironment.start_local(
        data_converter=ENCRYPTED, dev_server_existing_path=str(TEMPORAL_CLI)
    )
    client = await Client.connect(
        server.client.service_client.config.target_host,
        data_converter=ENCRYPTED,
        retry_config=RetryConfig(max_retries=1),
    )
    await server.shutdown()
    console.client = client
    person = tolerant(create_app(console))
    try:
        await person.sign_in(NORTH)
        page = await person.http.get("/cases/ct-north-R-7")
    finally:
        await person.http.aclose()
    assert page.status_code == 503
    said_properly(page)
    assert "The workflow service (Temporal) cannot be reached" in page.text
