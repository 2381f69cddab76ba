"""`cspflow user`: console accounts managed from the command line, against a fresh data folder.

Runs in-process through Typer's CliRunner, on the records database (SQLite) in the test's data
folder and the CSP directory in config/, as an operator would on the embedded system.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from activities.accounts import User, authenticate
from activities.db import make_engine, make_session_factory, migrate
from schemas.accounts import Account
from starter.cli import app
from starter.settings import Settings

runner = CliRunner()

PASSWORD = "correct horse battery staple"
EMAIL = "jo.bloggs@amber-valley.example.org"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder and no running dev system."""
    monkeypatch.setenv("CSPFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CSPFLOW_USER", "admin@example.org")
    monkeypatch.delenv("CSPFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps table cells at the terminal's width
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input)


def add(*extra: str, email: str = EMAIL, password: str = PASSWORD) -> Any:
    return invoke(
        "user",
        "add",
        email,
        "--name",
        "Jo Bloggs",
        "--role",
        "coordinator",
        "--area",
        "amber-valley",
        *extra,
        "--password-stdin",
        input=password + "\n",
    )


def sign_in(email: str, password: str) -> Account | None:
    async def go() -> Account | None:
        engine = make_engine(Settings().records_url)
        try:
            return await authenticate(make_session_factory(engine), email, password)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def stored_hashes() -> list[str]:
    async def go() -> list[str]:
        url = Settings().records_url
        await migrate(url)  # a refused command may stop before it migrates
        engine = make_engine(url)
        try:
            async with make_session_factory(engine)() as session:
                rows = await session.execute(sa.select(User.password_hash))
                return [str(value) for value in rows.scalars()]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_user_add_with_password_stdin_creates_an_account_that_signs_in() -> None:
    """`user add --password-stdin` reads the password from stdin; the account then signs in."""
    result = add("--area", "erewash")
    assert result.exit_code == 0, result.output
    assert f"Added {EMAIL} (coordinator for amber-valley, erewash)" in result.stderr
    account = sign_in(EMAIL, PASSWORD)
    assert account is not None
    assert account.areas == ("amber-valley", "erewash")
    assert sign_in(EMAIL, PASSWORD + "x") is None


def test_user_add_prompts_twice_for_a_hidden_password() -> None:
    """Without --password-stdin the password is typed twice and not echoed."""
    result = invoke(
        "user",
        "add",
        "audit@example.org",
        "--name",
        "Ann Auditor",
        "--role",
        "auditor",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert sign_in("audit@example.org", PASSWORD) is not None


def test_user_list_shows_the_accounts_and_never_a_hash() -> None:
    """`user list` shows email, name, role, areas and disabled, and no password hash."""
    assert add().exit_code == 0
    disabled = invoke("user", "disable", EMAIL)
    assert disabled.exit_code == 0, disabled.output

    result = invoke("user", "list")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if EMAIL in line)
    for cell in ("Jo Bloggs", "coordinator", "amber-valley", "yes"):
        assert cell in line
    [stored] = stored_hashes()
    as_json = invoke("user", "list", "--json")
    for output in (result.output, as_json.output):
        assert "argon2" not in output and stored not in output and PASSWORD not in output
    [listed] = json.loads(as_json.stdout)
    assert set(listed) == {"email", "name", "role", "areas", "disabled"}


def test_an_area_not_in_the_directory_is_refused_naming_the_valid_areas() -> None:
    """An unknown --area exits 2, names the area and lists the valid ones; nothing is stored."""
    result = add("--area", "amber-vally")
    assert result.exit_code == 2, result.output
    assert "'amber-vally'" in result.stderr
    assert "known areas: amber-valley, bolsover, chesterfield" in result.stderr
    assert stored_hashes() == []


def test_a_short_password_is_refused() -> None:
    """A password under 12 characters exits 2 saying the minimum; no account is made."""
    result = add(password="tr0ub4dor&3")
    assert result.exit_code == 2, result.output
    assert "use at least 12" in result.stderr
    assert stored_hashes() == []


def test_a_second_add_for_one_email_is_refused_pointing_at_reset() -> None:
    """Adding an existing email exits 1 and names `cspflow user reset`."""
    assert add().exit_code == 0
    result = add(email=EMAIL.upper())
    assert result.exit_code == 1, result.output
    assert f"cspflow user reset {EMAIL}" in result.stderr


def test_user_reset_then_only_the_new_password_signs_in() -> None:
    """After `user reset` the new password signs in and the old one does not."""
    assert add().exit_code == 0
    result = invoke("user", "reset", EMAIL, "--password-stdin", input="a brand new passphrase\n")
    assert result.exit_code == 0, result.output
    assert sign_in(EMAIL, "a brand new passphrase") is not None
    assert sign_in(EMAIL, PASSWORD) is None


def test_user_reset_for_an_unknown_email_exits_2() -> None:
    """Resetting an email with no account exits 2 and says how to find the account."""
    result = invoke("user", "reset", "nobody@example.org", "--password-stdin", input=PASSWORD)
    assert result.exit_code == 2, result.output
    assert "cspflow user list" in result.stderr


def test_a_disabled_account_cannot_sign_in_until_enabled() -> None:
    """`user disable` stops sign-in; `user enable` restores it."""
    assert add().exit_code == 0
    assert invoke("user", "disable", EMAIL).exit_code == 0
    assert sign_in(EMAIL, PASSWORD) is None
    assert invoke("user", "enable", EMAIL).exit_code == 0
    assert sign_in(EMAIL, PASSWORD) is not None


def test_a_directory_coordinator_needs_only_the_address() -> None:
    """Name and areas come from the directory's coordinators entry; unlisted people need both."""
    listed = "Coordinator@Bolsover.example.org"
    result = invoke("user", "add", listed, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Added coordinator@bolsover.example.org (coordinator for bolsover)" in result.output
    shown = json.loads(invoke("user", "list", "--json").stdout)
    assert shown[0]["name"] == "Priya Holloway" and shown[0]["areas"] == ["bolsover"]
    unlisted = invoke("user", "add", EMAIL, "--password-stdin", input=PASSWORD + "\n")
    assert unlisted.exit_code == 2
    assert "is not a coordinator in the CSP directory" in unlisted.output
    assert "give --name and --role" in unlisted.output
