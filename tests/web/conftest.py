"""The web console on a real Temporal server and worker, driven over HTTP (httpx, ASGI).

Accounts: a coordinator of North, a coordinator of South, an auditor and an administrator,
each with the same test password. The worker shares the console's settings, so the answer links
in its partner mails are signed with the console's key, as in production.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from temporalio.testing import WorkflowEnvironment

from activities.accounts import add_user
from activities.configuration import load_directory
from schemas.accounts import Account, Role
from starter.client import Cspflow
from starter.health import Stall
from starter.settings import Settings
from starter.web.app import Console, create_app

PASSWORD = "correct horse battery staple"
NORTH = "coord.north@test.example.org"
SOUTH = "coord.south@test.example.org"
AUDITOR = "auditor@test.example.org"
ADMIN = "admin@test.example.org"

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The anti-forgery token a page's form carries."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf_token"
    return found.group(1)


@pytest.fixture
async def console(env: WorkflowEnvironment, settings: Settings, session_factory: Any) -> Console:
    for email, role, areas in (
        (NORTH, Role.COORDINATOR, ("north",)),
        (SOUTH, Role.COORDINATOR, ("south",)),
        (AUDITOR, Role.AUDITOR, ()),
        (ADMIN, Role.ADMINISTRATOR, ()),
    ):
        account = Account(email=email, name=email.split("@")[0], role=role, areas=areas)
        await add_user(session_factory, account, PASSWORD)
    return Console(
        settings=settings,
        client=env.client,
        sessions=session_factory,
        directory=load_directory(settings.directory_file),
        secret=settings.web_secret(),
    )


@pytest.fixture
def app(console: Console) -> Starlette:
    return create_app(console)


class Browser:
    """One person's browser: cookies kept, forms posted with the page's token."""

    def __init__(self, app: Starlette) -> None:
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        page = await self.http.get("/sign-in")
        return await self.http.post(
            "/sign-in",
            data={"email": email, "password": password, "csrf_token": csrf_of(page.text),
                  "next": "/cases"},
        )  # fmt: skip

    async def submit(
        self, path: str, pairs: list[tuple[str, str]], *, page_path: str | None = None
    ) -> httpx.Response:
        """Open the form's page, then post `pairs` with its token (as a browser would)."""
        page = await self.http.get(page_path or path)
        assert page.status_code == 200, page.text
        content = httpx.QueryParams([*pairs, ("csrf_token", csrf_of(page.text))])
        return await self.http.post(
            path,
            content=str(content).encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[Any]:
    """A factory of browsers, closed at the end."""
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(app))
        return made[-1]

    yield make
    for b in made:
        await b.http.aclose()


def given_stall(monkeypatch: pytest.MonkeyPatch, case_id: str, **changes: Any) -> Stall:
    """Make the console see one workflow of `case_id` as unable to move on, and return it.

    Only what the pages say is under test where this is used: detection itself runs on a real
    server in tests/test_stalled.py. The stall is the case's own unless `changes` say otherwise.
    """
    stall = Stall.model_validate(
        {
            "workflow_id": case_id,
            "case_id": case_id,
            "kind": "case",
            "workflow_type": "CommunityTrigger",
            "area": "north",
            "attempts": 5,
            "problem": "failing",
            "nondeterminism": True,
            **changes,
        }
    )

    async def case_stalls(self: Cspflow, case: Any) -> list[Stall]:
        return [stall] if case.case_id == case_id else []

    async def stalled_case_ids(self: Cspflow, areas: frozenset[str]) -> list[str]:
        return [case_id] if stall.area in areas else []

    monkeypatch.setattr(Cspflow, "case_stalls", case_stalls)
    monkeypatch.setattr(Cspflow, "stalled_case_ids", stalled_case_ids)
    return stall
