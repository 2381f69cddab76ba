"""`cspflow` through the console with personal access tokens (issue 13), on real parts.

The console runs in a real uvicorn on loopback; the CLI runs in this process (typer's runner, in
a thread) with CSPFLOW_CONSOLE_URL set and its token in a 0600 file; cases run on the real
Temporal test server with the production worker, with the test-only probe process (the registry
seam: nothing here names a real process). CSPFLOW_USER is set to someone else throughout: in API
mode the identity is the token's account, never that variable.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from activities.access_log import list_access
from activities.access_tokens import create_token, list_tokens, verify_token
from activities.configuration import load_directory
from starter.cli import app as cli_app
from starter.cli.front import token_file
from starter.settings import Settings
from starter.step_signing import verification_keys
from starter.web.app import Console
from starter.web.server import WebServer, start_web
from tests.conftest import ENCRYPTED, free_port
from tests.registry.probe_process import NAME, FirstStep
from tests.web.conftest import AUDITOR, NORTH, SOUTH, csrf_of
from tests.web.test_registry_seam import (  # noqa: F401  (fixtures)
    cli_env,
    probe,
    probe_worker,
)
from tests.workflows.helpers import eventually
from workflows.rules.signatures import step_refusal

MALLORY = "mallory@evil.example"


async def run(*args: str, code: int = 0, stdin: str | None = None) -> Any:
    """Run `cspflow` in a thread (it runs its own event loop); check its exit code."""
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), stdin)
    assert result.exit_code == code, (args, result.output)
    return result


async def as_json(*args: str) -> Any:
    """A command's JSON output (the console in this process may log to the same stdout)."""
    out = "\n" + (await run(*args)).stdout
    start = min(i for i in (out.find("\n{"), out.find("\n[")) if i >= 0)
    return json.JSONDecoder().raw_decode(out[start + 1 :])[0]


@pytest.fixture
async def web(
    console: Console, env: WorkflowEnvironment, settings: Settings, session_factory: Any
) -> AsyncIterator[WebServer]:
    """The console in a real uvicorn, with the accounts of `console` (tests/web/conftest.py)."""
    served = settings.model_copy(update={"web_port": free_port()})
    server = await start_web(
        served, env.client, session_factory, load_directory(settings.directory_file)
    )
    yield server
    await server.stop()


@pytest.fixture
def through_console(
    cli_env: None,  # noqa: F811  (the fixture imported above)
    web: WebServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI of tests.web.test_registry_seam, pointed at the console, as someone else."""
    monkeypatch.setenv("CSPFLOW_CONSOLE_URL", web.url)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("CSPFLOW_USER", MALLORY)


async def login(url: str, token: str) -> None:
    await run("login", "--console", url, "--token-stdin", stdin=token + "\n")


async def accepted_steps(env: WorkflowEnvironment, case_id: str) -> list[tuple[str, Any]]:
    """The Updates a case's history accepted, with their decoded input."""
    history = await env.client.get_workflow_handle(case_id).fetch_history()
    found = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        [step] = await ENCRYPTED.decode(list(request.input.args.payloads), [FirstStep])
        found.append((request.input.name, step))
    return found


@pytest.mark.usefixtures("probe_worker", "through_console")
async def test_the_cli_acts_through_the_console_as_its_tokens_account_only(
    env: WorkflowEnvironment,
    web: WebServer,
    settings: Settings,
    session_factory: Any,
    tmp_path: Path,
    today: date,
) -> None:
    """Another area's coordinator and an auditor are refused a step (nothing recorded), the
    area's coordinator's step is recorded as that account and signed, a revoked token stops."""
    tokens = {
        email: (await create_token(session_factory, email, "laptop", by="test"))[1]
        for email in (NORTH, SOUTH, AUDITOR)
    }
    await login(web.url, tokens[NORTH])
    assert stat.S_IMODE(token_file().stat().st_mode) == 0o600
    assert str(token_file()).startswith(str(tmp_path / "config"))

    example = await as_json("example", NAME, "--reference", "TOKEN-1")
    application = tmp_path / "probe.json"
    application.write_text(json.dumps({**example, "received_on": today.isoformat()}))
    case_id = (await run("start", NAME, "--file", str(application))).stdout.split()[-1]
    assert case_id == "probe-north-TOKEN-1"
    status = await eventually(
        lambda: as_json("status", case_id, "--json"), lambda s: s["stage"] == "first"
    )
    step = tmp_path / "first.json"
    step.write_text(json.dumps({"note": "looked at it"}))

    # Another area's coordinator: refused by the console, nothing recorded.
    await login(web.url, tokens[SOUTH])
    refused = await run("step", case_id, "first", "--file", str(step), code=1)
    assert "does not cover this area" in refused.output
    assert "does not cover" in (await run("status", case_id, code=1)).output
    # An auditor reads, and cannot step.
    await login(web.url, tokens[AUDITOR])
    assert (await as_json("status", case_id, "--json"))["stage"] == "first"
    assert NAME in (await run("cases", "--area", "north")).stdout
    refused = await run("step", case_id, "first", "--file", str(step), code=1)
    assert "does not cover this area or this action" in refused.output
    assert await accepted_steps(env, case_id) == []

    # The area's coordinator: recorded as that account (not CSPFLOW_USER), signed as it.
    await login(web.url, tokens[NORTH])
    done = await run("step", case_id, "first", "--file", str(step))
    assert f"by {NORTH}" in done.stdout
    status = await as_json("status", case_id, "--json")
    assert status["stage"] == "second"
    assert [d["decided_by"] for d in status["decisions"]] == [NORTH]
    [(update, taken)] = await accepted_steps(env, case_id)
    assert update == "first_step" and taken.by == NORTH
    assert taken.signed is not None and taken.signed.account == NORTH
    assert step_refusal(case_id, update, taken, verification_keys(settings)) is None
    assert MALLORY not in json.dumps(status)

    # A revoked token is refused, and the refusal is in the access log.
    [north_token] = [t for t in await list_tokens(session_factory, NORTH) if t.name == "laptop"]
    await run("token", "revoke", north_token.id)
    assert "token was refused" in (await run("status", case_id, code=1)).output
    assert await verify_token(session_factory, tokens[NORTH]) is None
    views = {entry.view for entry in await list_access(session_factory, user=NORTH)}
    assert {"token-used", "token-revoked", "token-refused", "api:status"} <= views

    # The case is finished by the operator's door (no console), as the server allows.
    finish = tmp_path / "finish.json"
    finish.write_text(json.dumps({"reason": "test finished"}))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CSPFLOW_CONSOLE_URL")
        patch.setenv("CSPFLOW_USER", NORTH)
        await run("step", case_id, "finish", "--file", str(finish))


async def test_a_browser_session_does_not_open_the_api(
    app: Starlette, browser: Any, session_factory: Any
) -> None:
    """The API takes a bearer token only: a signed-in browser's cookie gets 401, nothing more."""
    person = browser()
    assert (await person.sign_in(NORTH)).status_code == 303
    assert (await person.http.get("/cases")).status_code == 200
    for method, path in (("GET", "/api/v1/cases"), ("POST", "/api/v1/cases/x-1/steps/first")):
        refused = await person.http.request(method, path, json={})
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "token_missing"
        assert "set-cookie" not in refused.headers
    _, token = await create_token(session_factory, NORTH, "laptop", by="test")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        allowed = await http.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and allowed.json()["email"] == NORTH
        forged = await http.get("/api/v1/whoami", headers={"Authorization": "Bearer cspflow_x"})
        assert forged.status_code == 401
        assert forged.json()["error"]["code"] == "token_refused"


async def test_the_account_page_lists_tokens_and_revokes_one_with_its_form(
    browser: Any, session_factory: Any
) -> None:
    """The account page shows each token (never its secret); revoking needs the form's token."""
    info, token = await create_token(session_factory, NORTH, "work laptop", by="test")
    person = browser()
    await person.sign_in(NORTH)
    page = await person.http.get("/account")
    assert page.status_code == 200 and "work laptop" in page.text and info.id in page.text
    assert token.split("_")[-1] not in page.text
    action = f"/account/tokens/{info.id}/revoke"
    forged = await person.http.post(action, data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert await verify_token(session_factory, token) is not None

    other = browser()
    await other.sign_in(SOUTH)
    page = await other.http.get("/account")
    assert (
        await other.http.post(action, data={"csrf_token": csrf_of(page.text)})
    ).status_code == 404
    assert await verify_token(session_factory, token) is not None

    revoked = await person.submit(action, [], page_path="/account")
    assert revoked.status_code == 303
    assert await verify_token(session_factory, token) is None
    assert "no longer works" in (await person.http.get("/account")).text
