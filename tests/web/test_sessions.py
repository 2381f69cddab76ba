"""Console sessions end everywhere at once, go idle, lock out guessers and are logged (issue 13).

A "copied cookie" is a second browser given the first one's session cookie, as someone who
copied it from a shared computer or a proxy log would hold it: signing out, a password reset
and disabling the account must each stop it. Rotating X-Forwarded-For must not escape the
sign-in limit on the real server (uvicorn), where the header is read.
"""

from __future__ import annotations

import dataclasses
import time
import types
from typing import Any

import httpx
import pytest

from activities.access_log import list_access
from activities.accounts import reset_password, set_disabled
from starter.settings import Settings
from starter.web import auth
from starter.web.app import Console
from starter.web.server import start_web
from tests.conftest import free_port
from tests.web.conftest import NORTH, PASSWORD, Browser

NEW_PASSWORD = "a different horse battery staple"


def copy_of(original: Browser, app: Any) -> Browser:
    """A second browser holding the first one's cookies."""
    thief = Browser(app)
    thief.http.cookies = httpx.Cookies(original.http.cookies)
    return thief


async def signed_in_twice(browser: Any, app: Any) -> tuple[Browser, Browser]:
    owner = browser()
    assert (await owner.sign_in(NORTH)).status_code == 303
    thief = copy_of(owner, app)
    assert (await thief.http.get("/cases")).status_code == 200
    return owner, thief


async def is_signed_out(person: Browser) -> bool:
    page = await person.http.get("/cases")
    return page.status_code == 303 and page.headers["location"].startswith("/sign-in")


async def test_signing_out_ends_a_copied_session_too(browser: Any, app: Any) -> None:
    """After sign-out, the copied cookie no longer opens a page."""
    owner, thief = await signed_in_twice(browser, app)
    page = await owner.http.get("/cases")
    out = await owner.http.post("/sign-out", data={"csrf_token": auth_token(page.text)})
    assert out.status_code == 303
    assert await is_signed_out(thief)
    assert await is_signed_out(owner)


async def test_a_password_reset_ends_every_session(
    browser: Any, app: Any, console: Console
) -> None:
    """`cspflow user reset` (reset_password) ends the sessions signed in with the old one."""
    owner, thief = await signed_in_twice(browser, app)
    await reset_password(console.sessions, NORTH, NEW_PASSWORD)
    assert await is_signed_out(thief)
    assert await is_signed_out(owner)
    assert (await owner.sign_in(NORTH, NEW_PASSWORD)).status_code == 303


async def test_disabling_ends_every_session_and_enabling_revives_none(
    browser: Any, app: Any, console: Console
) -> None:
    """A disabled account's sessions end; enabling it again does not bring them back."""
    _, thief = await signed_in_twice(browser, app)
    await set_disabled(console.sessions, NORTH, True)
    assert await is_signed_out(thief)
    await set_disabled(console.sessions, NORTH, False)
    assert await is_signed_out(thief)


async def test_an_idle_session_ends(
    browser: Any, app: Any, console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session unused for longer than CSPFLOW_WEB_IDLE_MINUTES (30) ends; a used one lives."""
    owner = browser()
    await owner.sign_in(NORTH)
    now = time.time()
    monkeypatch.setattr(auth, "time", types.SimpleNamespace(time=lambda: now + 29 * 60))
    assert (await owner.http.get("/cases")).status_code == 200
    monkeypatch.setattr(auth, "time", types.SimpleNamespace(time=lambda: now + 58 * 60))
    assert (await owner.http.get("/cases")).status_code == 200, "used 29 minutes ago"
    monkeypatch.setattr(auth, "time", types.SimpleNamespace(time=lambda: now + 89 * 60))
    assert await is_signed_out(owner)


async def test_repeated_failures_lock_the_account_with_a_clear_message(
    browser: Any, console: Console
) -> None:
    """Five wrong passwords lock the account for 15 minutes, even against the right one; a
    reset unlocks it; every attempt is in the access log with the address."""
    guesser = browser()
    codes = [(await guesser.sign_in(NORTH, f"guess number {n}")).status_code for n in range(5)]
    assert codes == [400, 400, 400, 400, 429]
    owner = browser()
    refused = await owner.sign_in(NORTH)
    assert refused.status_code == 429
    assert "Your account is locked" in refused.text
    assert "Try again after" in refused.text and "ask an administrator" in refused.text
    assert await is_signed_out(owner)

    entries = await list_access(console.sessions, user=NORTH)
    views = [entry.view for entry in entries]
    assert views.count("sign-in-failed") == 5
    assert views.count("sign-in-locked") == 2
    assert all(entry.detail and "from 127.0.0.1" in entry.detail for entry in entries)

    await reset_password(console.sessions, NORTH, NEW_PASSWORD)
    assert (await owner.sign_in(NORTH, NEW_PASSWORD)).status_code == 303
    views = [entry.view for entry in await list_access(console.sessions, user=NORTH)]
    assert views[-1] == "sign-in"


async def test_a_lockout_is_the_same_for_a_name_with_no_account(browser: Any) -> None:
    """Names without an account lock the same way, so a lockout reveals nothing."""
    guesser = browser()
    codes = [
        (await guesser.sign_in("nobody@test.example.org", f"guess {n}")).status_code
        for n in range(6)
    ]
    assert codes == [400, 400, 400, 400, 429, 429]


async def test_rotating_x_forwarded_for_does_not_escape_the_sign_in_limit(
    console: Console, settings: Settings
) -> None:
    """On the real server, a new X-Forwarded-For per attempt still counts as one address."""
    limited = settings.model_copy(update={"web_rate_limit": 3, "web_port": free_port()})
    server = await start_web(limited, console.client, console.sessions, console.directory)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            codes = []
            for n in range(5):
                form = await http.get("/sign-in")
                answer = await http.post(
                    "/sign-in",
                    data={
                        "email": f"guess{n}@test.example.org",
                        "password": PASSWORD,
                        "csrf_token": auth_token(form.text),
                    },
                    headers={"X-Forwarded-For": f"198.51.100.{n}"},
                )
                codes.append(answer.status_code)
        assert codes == [400, 400, 400, 429, 429]
    finally:
        await server.stop()


async def test_x_forwarded_for_counts_from_a_configured_proxy(console: Console) -> None:
    """From an address in CSPFLOW_WEB_TRUSTED_PROXIES, the forwarded address is the client's."""
    from starter.web.app import create_app

    settings = console.settings.model_copy(
        update={"web_rate_limit": 1, "web_trusted_proxies": ["127.0.0.1"]}
    )
    app = create_app(dataclasses.replace(console, settings=settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5000)),
        base_url="http://testserver",
    ) as http:
        form = await http.get("/sign-in")
        token = auth_token(form.text)
        codes = []
        for n in (1, 2):
            answer = await http.post(
                "/sign-in",
                data={"email": "x@test.example.org", "password": "p" * 12, "csrf_token": token},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            )
            codes.append(answer.status_code)
        assert codes == [400, 400], "each forwarded address has its own allowance"
    entries = await list_access(console.sessions, user="x@test.example.org")
    assert [e.detail for e in entries] == ["from 203.0.113.1", "from 203.0.113.2"]


def auth_token(html: str) -> str:
    from tests.web.conftest import csrf_of

    return csrf_of(html)
