"""Personal access tokens: `cspflow login`, `token create|list|revoke` and `user token`.

Issue 13. A person's `cspflow` acts through the console as the account of a token kept 0600 in
`$XDG_CONFIG_HOME/cspflow/token` (starter/cli/front.py). With CSPFLOW_CONSOLE_URL set, these
commands ask the console, which checks the password as its sign-in page does (lockout included);
without it they are the operator's tool on the server, on the records database directly. A
password is typed at a hidden prompt or read from standard input, never taken as an option.
"""

from __future__ import annotations

import sys

import typer

from activities.db import SessionFactory
from schemas.accounts import AccessToken
from schemas.errors import InputError
from starter.cli.common import (
    _err,
    _out,
    _print_json,
    _records,
    _run,
    _settings,
    _table,
    _when,
    app,
    handled,
)
from starter.cli.front import ApiFront, FrontRefused, store_token, stored_token
from starter.cli.users import user_app

token_app = typer.Typer(
    help="Personal access tokens: how `cspflow` signs in to the console (create, list, revoke).",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


def _secret(prompt: str, from_stdin: bool) -> str:
    """A password or token: the first line of standard input, or typed at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline(4096).removesuffix("\n").removesuffix("\r")
    return str(typer.prompt(prompt, hide_input=True))


def _api(token: str | None = None) -> ApiFront | None:
    settings, _ = _settings()
    return ApiFront(settings.console_url, token) if settings.console_url else None


@app.command()
@handled
def login(
    console: str = typer.Option(
        ..., "--console", help="The console's address, e.g. https://cspflow.council.gov.uk."
    ),
    token_stdin: bool = typer.Option(
        False, "--token-stdin", help="Read the token from standard input instead of prompting."
    ),
) -> None:
    """Store a personal access token for the console, after checking that it works.

    Then set CSPFLOW_CONSOLE_URL to the same address: every case command goes through the
    console as the token's account.
    """
    token = _secret("Access token", token_stdin).strip()
    front = ApiFront(console, token)

    async def check() -> str:
        try:
            return await front.acting_as()
        finally:
            await front.aclose()

    email = _run(check())
    path = store_token(token)
    _err().print(f"Signed in as {email}; the token is kept in {path} (readable by you only).")
    if _settings()[0].console_url != console:
        _err().print(f"Set CSPFLOW_CONSOLE_URL={console} to act through the console.")


@token_app.command("create")
@handled
def token_create(
    name: str = typer.Option(..., "--name", help="Where the token is used, e.g. laptop."),
    email: str | None = typer.Option(
        None, "--email", help="Your account (default: the account of the stored token)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Make a token for your account (your password is asked again) and store it for `cspflow`."""
    from activities.access_tokens import check_token_name

    check_token_name(name)
    front = _api(stored_token())
    if email is None and (front is None or stored_token() is None):
        email = str(typer.prompt("Email"))
    password = _secret("Password", password_stdin)
    if front is not None:
        body = {"email": email, "password": password, "name": name}

        async def create() -> dict[str, str]:
            try:
                made: dict[str, str] = await front.call("POST", "/tokens", body=body)
                return made
            finally:
                await front.aclose()

        made = _run(create())
        token, token_id = made["token"], made["id"]
    else:
        token_id, token = _run(
            _records(_settings()[0], lambda s: _create(s, email or "", password, name))
        )
    path = store_token(token)
    _err().print(f"Made token {token_id} ({name}); kept in {path} (readable by you only).")


async def _create(
    sessions: SessionFactory, email: str, password: str, name: str
) -> tuple[str, str]:
    from activities.access_tokens import create_token
    from activities.accounts import authenticate

    account = await authenticate(sessions, email, password)
    if account is None:
        raise FrontRefused("enter a correct email address and password")
    info, token = await create_token(sessions, account.email, name, by=account.email)
    return info.id, token


def _show(tokens: list[AccessToken], as_json: bool) -> None:
    if as_json:
        _print_json([token.model_dump(mode="json") for token in tokens])
        return
    table = _table("Access tokens", "id", "account", "name", "made", "last used", "revoked")
    for t in tokens:
        table.add_row(
            t.id, t.email, t.name, _when(t.created_at), _when(t.last_used_at), _when(t.revoked_at)
        )
    _out().print(table)
    if not tokens:
        _out().print("No tokens: make one with `cspflow token create --name NAME`.")


@token_app.command("list")
@handled
def token_list(
    as_json: bool = typer.Option(False, "--json", help="Print the tokens as JSON."),
) -> None:
    """List your tokens (on the server without a console: every account's), never a secret."""
    from activities.access_tokens import list_tokens

    front = _api(stored_token())
    if front is not None:

        async def listed() -> list[AccessToken]:
            try:
                rows = await front.call("GET", "/tokens")
                return [AccessToken.model_validate(row) for row in rows]
            finally:
                await front.aclose()

        _show(_run(listed()), as_json)
        return
    _show(_run(_records(_settings()[0], list_tokens)), as_json)


@token_app.command("revoke")
@handled
def token_revoke(
    token_id: str = typer.Argument(..., help="The token's id (`token list`)."),
) -> None:
    """Revoke a token: it stops working at once."""
    from activities.access_tokens import revoke_token

    front = _api(stored_token())
    if front is not None:

        async def revoked() -> None:
            try:
                await front.call("POST", f"/tokens/{token_id}/revoke")
            finally:
                await front.aclose()

        _run(revoked())
    else:
        settings, _ = _settings()
        by = f"operator {settings.user}"
        _run(_records(settings, lambda s: revoke_token(s, token_id, by=by)))
    _err().print(f"Token {token_id} is revoked: it no longer works.")


@user_app.command("token")
@handled
def user_token(
    email: str = typer.Argument(..., help="The account's sign-in address."),
    name: str = typer.Option("cspflow", "--name", help="Where the token will be used."),
) -> None:
    """Make a token for an account (an operator on the server) and print it once.

    Give it to the account's owner, who stores it with `cspflow login --console URL`.
    """
    from activities.access_tokens import create_token
    from activities.accounts import get_account

    settings, _ = _settings()

    async def make(sessions: SessionFactory) -> str:
        account = await get_account(sessions, email)
        if account is None or account.disabled:
            raise InputError(
                f"no enabled account {email.strip().lower()}: check it with `cspflow user list`"
            )
        by = f"operator {settings.user}"
        _, token = await create_token(sessions, account.email, name, by=by)
        return token

    token = _run(_records(settings, make))
    typer.echo(token)
    _err().print(
        "Shown once: give it to the account's owner, who stores it with "
        "`cspflow login --console URL`."
    )
