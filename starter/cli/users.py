"""Accounts of the web console: `cspflow user add`, `reset`, `disable`, `enable` and `list`.

Issue 6 ("Sign-in with accounts from the directory"). An operator with access to the records
database manages the accounts here; the console only signs people in. A password is typed twice
at a hidden prompt, or read from the first line of standard input with --password-stdin (for a
script or a password manager), never taken as an option: options end up in shell history and in
the process list.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from pydantic import ValidationError

from schemas.accounts import Account, Role
from schemas.errors import InputError
from schemas.validation import describe_validation_error
from starter.cli.common import (
    _directory,
    _err,
    _out,
    _print_json,
    _records,
    _run,
    _settings,
    _table,
    app,
    handled,
)

user_app = typer.Typer(
    help="Accounts of the web console: add, reset a password, disable, enable, list.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")

_PASSWORD_STDIN_HELP = (
    "Read the password from the first line of standard input instead of prompting "
    "(for scripts; never pass a password as an option)."
)


def _password(from_stdin: bool) -> str:
    """Read a new password: the first line of stdin, or typed twice at a hidden prompt."""
    from activities.accounts import PASSWORD_MAX_LENGTH

    if not from_stdin:
        return str(typer.prompt("New password", hide_input=True, confirmation_prompt=True))
    # A little more than the longest password allowed, so an over-long one is reported as such.
    line = sys.stdin.readline(PASSWORD_MAX_LENGTH + 3)
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise InputError(
            "--password-stdin was given but standard input holds no password: pipe it in, "
            "e.g. `pass show cspflow/jo | cspflow user add ...`, or leave out --password-stdin "
            "to be prompted"
        )
    return password


def _account(data: dict[str, Any]) -> Account:
    try:
        return Account.model_validate(data)
    except ValidationError as error:
        raise InputError(
            "the account is not valid: "
            + describe_validation_error(error, then="correct the options and run the command again")
        ) from None


@user_app.command("add")
@handled
def user_add(
    email: str = typer.Argument(..., help="Sign-in address, e.g. jo.bloggs@council.gov.uk."),
    name: str | None = typer.Option(
        None, "--name", help="Display name, e.g. 'Jo Bloggs' (default: the directory's)."
    ),
    role: Role | None = typer.Option(
        None,
        "--role",
        help="coordinator, auditor or administrator (default: coordinator for a person the "
        "directory lists as one).",
    ),
    areas: list[str] = typer.Option(
        [],
        "--area",
        help="An area a coordinator serves, e.g. amber-valley; repeat for each area. "
        "Auditors and administrators see every area and take none.",
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=_PASSWORD_STDIN_HELP),
) -> None:
    """Create an account for the web console, with its password.

    A coordinator the CSP directory lists needs only the address: the name and the areas come
    from the directory entry (options given still win), so accounts and the directory agree.
    """
    from activities.accounts import add_user, check_account_areas, check_password

    settings, _ = _settings()
    directory = _directory(settings)
    listed = next(
        (
            c
            for c in directory.coordinators
            if email.strip().lower() in (c.email.lower(), c.id.lower())
        ),
        None,
    )
    if listed is not None and role in (None, Role.COORDINATOR):
        role = Role.COORDINATOR
        name = name or listed.name
        areas = areas or list(listed.areas)
    if name is None or role is None:
        raise InputError(
            f"{email} is not a coordinator in the CSP directory ({settings.directory_file}): "
            "give --name and --role (and --area for a coordinator), or add them to the "
            "directory's coordinators first"
        )
    account = _account({"email": email, "name": name, "role": role, "areas": tuple(areas)})
    if account.areas:
        check_account_areas(account, directory)
    password = _password(password_stdin)
    check_password(password)
    _run(_records(settings, lambda sessions: add_user(sessions, account, password)))
    where = f" for {', '.join(account.areas)}" if account.areas else ", every area"
    _err().print(f"Added {account.email} ({account.role.value}{where}).")


@user_app.command("reset")
@handled
def user_reset(
    email: str = typer.Argument(..., help="The account's sign-in address."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=_PASSWORD_STDIN_HELP),
) -> None:
    """Set a new password for an account; the old one stops working at once."""
    from activities.accounts import check_password, reset_password

    settings, _ = _settings()
    password = _password(password_stdin)
    check_password(password)
    _run(_records(settings, lambda sessions: reset_password(sessions, email, password)))
    _err().print(f"New password set for {email.strip().lower()}.")


def _set_disabled(email: str, disabled: bool) -> None:
    from activities.accounts import set_disabled

    settings, _ = _settings()
    account = _run(_records(settings, lambda sessions: set_disabled(sessions, email, disabled)))
    state = "disabled: it can no longer sign in" if disabled else "enabled: it can sign in"
    _err().print(f"{account.email} is {state}.")


@user_app.command("disable")
@handled
def user_disable(email: str = typer.Argument(..., help="The account's sign-in address.")) -> None:
    """Stop an account signing in; its history stays, and `enable` undoes it."""
    _set_disabled(email, True)


@user_app.command("enable")
@handled
def user_enable(email: str = typer.Argument(..., help="The account's sign-in address.")) -> None:
    """Let a disabled account sign in again."""
    _set_disabled(email, False)


@user_app.command("list")
@handled
def user_list(
    as_json: bool = typer.Option(False, "--json", help="Print the accounts as JSON."),
) -> None:
    """List the accounts: email, name, role, areas, and whether disabled (never a password)."""
    from activities.accounts import list_accounts

    settings, _ = _settings()
    accounts = _run(_records(settings, list_accounts))
    if as_json:
        _print_json([account.model_dump(mode="json") for account in accounts])
        return
    table = _table("Accounts", "email", "name", "role", "areas", "disabled")
    for account in accounts:
        table.add_row(
            account.email,
            account.name,
            account.role.value,
            ", ".join(account.areas) or "every area",
            "yes" if account.disabled else "no",
        )
    _out().print(table)
    if not accounts:
        _out().print("No accounts yet: add one with `cspflow user add`.")
