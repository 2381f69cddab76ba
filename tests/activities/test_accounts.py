"""Console accounts and answer-link revocations on real SQLite and PostgreSQL, and the area rules.

Passwords are checked with real argon2id hashes; nothing about hashing is faked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from activities import accounts
from activities.accounts import (
    AccountExistsError,
    UnknownAccountError,
    User,
    add_user,
    answer_links_revoked_at,
    authenticate,
    check_account_areas,
    check_password,
    get_account,
    hash_password,
    list_accounts,
    reset_password,
    revoke_answer_links,
    set_disabled,
    verify_password,
)
from activities.db import SessionFactory
from schemas.accounts import Account, Role
from schemas.directory import Directory
from schemas.errors import InputError
from tests.workflows.directory import directory_document

PASSWORD = "correct horse battery staple"
T0 = datetime(2025, 4, 2, 9, 30, tzinfo=UTC)


def coordinator(email: str = "jo@north.example.org", *areas: str) -> Account:
    return Account(email=email, name="Jo Bloggs", role=Role.COORDINATOR, areas=areas or ("north",))


AUDITOR = Account(email="audit@example.org", name="Ann Auditor", role=Role.AUDITOR)
ADMINISTRATOR = Account(email="admin@example.org", name="Al Admin", role=Role.ADMINISTRATOR)


async def stored_hash(session_factory: SessionFactory, email: str) -> str:
    async with session_factory() as session:
        return str(
            (await session.execute(sa.select(User.password_hash).where(User.email == email)))
            .scalars()
            .one()
        )


# --------------------------------------------------------------------------------------------
# Accounts in the database
# --------------------------------------------------------------------------------------------


async def test_an_added_account_signs_in_with_its_password(session_factory: SessionFactory) -> None:
    """An added account is found by its email, whatever its case, with the right password."""
    await add_user(session_factory, coordinator(), PASSWORD)

    assert await authenticate(session_factory, "Jo@North.Example.org", PASSWORD) == coordinator()
    assert await get_account(session_factory, "jo@north.example.org") == coordinator()
    assert await list_accounts(session_factory) == [coordinator()]


async def test_a_second_account_for_one_email_is_refused(session_factory: SessionFactory) -> None:
    """Adding an email that has an account is refused, naming `cspflow user reset`."""
    await add_user(session_factory, coordinator(), PASSWORD)
    with pytest.raises(AccountExistsError, match=r"cspflow user reset jo@north\.example\.org"):
        await add_user(session_factory, coordinator("JO@north.example.org", "south"), PASSWORD)
    assert await list_accounts(session_factory) == [coordinator()]


async def test_a_wrong_password_an_unknown_email_and_a_disabled_account_all_fail(
    session_factory: SessionFactory,
) -> None:
    """Wrong password, unknown email and disabled account all give None, alike."""
    await add_user(session_factory, coordinator(), PASSWORD)
    await add_user(session_factory, AUDITOR, PASSWORD)
    await set_disabled(session_factory, AUDITOR.email, True)

    assert await authenticate(session_factory, "jo@north.example.org", PASSWORD + "!") is None
    assert await authenticate(session_factory, "nobody@example.org", PASSWORD) is None
    assert await authenticate(session_factory, AUDITOR.email, PASSWORD) is None

    enabled = await set_disabled(session_factory, AUDITOR.email, False)
    assert not enabled.disabled
    assert await authenticate(session_factory, AUDITOR.email, PASSWORD) == AUDITOR


async def test_an_unknown_email_is_checked_against_a_dummy_hash(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown email costs one argon2 verification too, so timing does not reveal it."""
    checked: list[str] = []

    def recording(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return verify_password(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", recording)
    assert await authenticate(session_factory, "nobody@example.org", PASSWORD) is None
    [dummy] = checked
    assert dummy.startswith("$argon2id$")


async def test_a_reset_password_replaces_the_old_one(session_factory: SessionFactory) -> None:
    """After a reset the new password signs in and the old one no longer does."""
    await add_user(session_factory, coordinator(), PASSWORD)
    await reset_password(session_factory, "jo@north.example.org", "a brand new passphrase")

    assert await authenticate(session_factory, "jo@north.example.org", PASSWORD) is None
    assert await authenticate(session_factory, "jo@north.example.org", "a brand new passphrase")


async def test_resetting_or_disabling_an_unknown_email_says_how_to_find_the_account(
    session_factory: SessionFactory,
) -> None:
    """A reset or disable for no account is an input error naming `cspflow user list`."""
    with pytest.raises(UnknownAccountError, match="cspflow user list"):
        await reset_password(session_factory, "nobody@example.org", PASSWORD)
    with pytest.raises(UnknownAccountError, match="cspflow user list"):
        await set_disabled(session_factory, "nobody@example.org", True)


async def test_the_stored_hash_is_argon2id_and_never_the_password(
    session_factory: SessionFactory,
) -> None:
    """The database holds an argon2id hash with a salt, never the password itself."""
    await add_user(session_factory, coordinator(), PASSWORD)
    await add_user(session_factory, AUDITOR, PASSWORD)

    first = await stored_hash(session_factory, "jo@north.example.org")
    second = await stored_hash(session_factory, AUDITOR.email)
    assert first.startswith("$argon2id$v=19$")
    assert PASSWORD not in first
    assert first != second  # salted: one password, two hashes
    assert not PasswordHasher().check_needs_rehash(first)


async def test_a_hash_with_old_parameters_is_replaced_at_sign_in(
    session_factory: SessionFactory,
) -> None:
    """A hash made with weaker parameters is rehashed with the current ones on sign-in."""
    await add_user(session_factory, coordinator(), PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    async with session_factory() as session, session.begin():
        await session.execute(sa.update(User).values(password_hash=weak))

    assert await authenticate(session_factory, "jo@north.example.org", PASSWORD) == coordinator()
    renewed = await stored_hash(session_factory, "jo@north.example.org")
    assert renewed != weak
    assert not PasswordHasher().check_needs_rehash(renewed)
    assert await authenticate(session_factory, "jo@north.example.org", PASSWORD) == coordinator()


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short pass", "at least 12"),
        ("x" * 257, "at most 256"),
        ("a" * 20, "one character repeated"),
    ],
)
async def test_a_weak_password_is_refused_before_anything_is_stored(
    session_factory: SessionFactory, password: str, problem: str
) -> None:
    """Too short, too long or one repeated character is refused, and no account is made."""
    with pytest.raises(InputError, match=problem):
        await add_user(session_factory, coordinator(), password)
    assert await list_accounts(session_factory) == []


# --------------------------------------------------------------------------------------------
# Answer-link revocations
# --------------------------------------------------------------------------------------------


async def test_the_latest_revocation_of_a_task_wins(session_factory: SessionFactory) -> None:
    """Revocations written in any order report the latest, per task, in UTC."""
    task = "ct-north-CT-1.task.information.police"
    assert await answer_links_revoked_at(session_factory, task) is None

    bst = timezone(timedelta(hours=1))
    await revoke_answer_links(session_factory, task, "jo@north.example.org", T0)
    await revoke_answer_links(
        session_factory, task, "admin@example.org", datetime(2025, 4, 3, 12, 0, tzinfo=bst)
    )
    await revoke_answer_links(session_factory, task, "jo@north.example.org", T0 + timedelta(1))
    await revoke_answer_links(session_factory, "another-task", "jo@north.example.org", T0)

    latest = await answer_links_revoked_at(session_factory, task)
    assert latest == datetime(2025, 4, 3, 11, 0, tzinfo=UTC)
    assert latest is not None and latest.utcoffset() == timedelta(0)
    assert await answer_links_revoked_at(session_factory, "another-task") == T0


# --------------------------------------------------------------------------------------------
# Roles and areas (pure)
# --------------------------------------------------------------------------------------------


def test_a_coordinator_reads_and_acts_only_in_the_areas_they_serve() -> None:
    """A coordinator of north can neither read nor act in south."""
    jo = coordinator()
    assert jo.can_read("north") and jo.can_act("north")
    assert not jo.can_read("south") and not jo.can_act("south")
    assert jo.readable_areas(["south", "north", "east"]) == ("north",)


def test_an_auditor_reads_every_area_and_acts_in_none() -> None:
    """Auditors are read-only across every area."""
    assert AUDITOR.can_read("north") and AUDITOR.can_read("south")
    assert not AUDITOR.can_act("north") and not AUDITOR.can_act("south")
    assert AUDITOR.readable_areas(["south", "north"]) == ("south", "north")


def test_an_administrator_reads_and_acts_everywhere() -> None:
    """Administrators read and act in every area."""
    assert ADMINISTRATOR.can_read("south") and ADMINISTRATOR.can_act("south")
    assert ADMINISTRATOR.readable_areas(["north", "south"]) == ("north", "south")


def test_a_disabled_account_reads_and_does_nothing() -> None:
    """A disabled account has no access, whatever its role."""
    for account in (coordinator(), AUDITOR, ADMINISTRATOR):
        off = account.model_copy(update={"disabled": True})
        assert not off.can_read("north") and not off.can_act("north")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"role": "coordinator", "areas": ()}, "at least one area"),
        ({"role": "auditor", "areas": ("north",)}, "areas must be empty"),
        ({"role": "administrator", "areas": ("north",)}, "areas must be empty"),
        ({"role": "coordinator", "areas": ("north", "north")}, "twice"),
        ({"role": "coordinator", "areas": ("North",)}, "not a valid identifier"),
        ({"role": "coordinator", "areas": ("north",), "name": ""}, "name"),
        ({"role": "coordinator", "areas": ("north",), "email": "not-an-email"}, "email"),
    ],
)
def test_an_account_whose_areas_do_not_fit_its_role_is_refused(
    fields: dict[str, Any], problem: str
) -> None:
    """Coordinators serve at least one area; auditors and administrators list none."""
    data = {"email": "jo@example.org", "name": "Jo", **fields}
    with pytest.raises(ValueError, match=problem):
        Account.model_validate(data)


def test_an_area_not_in_the_directory_is_refused_naming_the_known_areas() -> None:
    """check_account_areas names the unknown area and every valid one."""
    directory = Directory.model_validate(directory_document())
    check_account_areas(coordinator("jo@example.org", "north", "south"), directory)
    with pytest.raises(InputError, match=r"'east'.*known areas: north, south"):
        check_account_areas(coordinator("jo@example.org", "north", "east"), directory)


def test_hash_password_verifies_only_the_same_password() -> None:
    """verify_password accepts the password hashed and nothing else, not even a bad hash."""
    hashed = hash_password(PASSWORD)
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD.upper())
    assert not verify_password("not a hash", PASSWORD)
    check_password(PASSWORD)
