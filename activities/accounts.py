"""Accounts of the web console and the revocation of partner answer links, in the records DB.

Issue 6 ("Sign-in with accounts from the directory"). Passwords are stored only as argon2id
hashes made by argon2-cffi's `PasswordHasher` with its current defaults, which follow RFC 9106's
recommended low-memory profile (OWASP Password Storage Cheat Sheet); a hash made with older
parameters is replaced at the next successful sign-in, so raising the defaults needs no reset.
The password rule is NCSC's "length over complexity": at least 12 characters, no composition
rules, but not one character repeated.

Not an activity: accounts are managed from the CLI and read by the console, never by a workflow,
so there is nothing for Temporal to retry. Hashing costs about a tenth of a second of CPU, so
it runs in a thread and never stalls the console's event loop.

Errors, beside `schemas.errors` (as `DirectoryError` sits beside its loader):

* CspflowError
  * AccountExistsError - `add_user` for an email that already has an account (exit code 1)
  * InputError
    * UnknownAccountError - a reset, enable or disable names no account (exit code 2)
"""

from __future__ import annotations

import asyncio
import functools
import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from activities.access_tokens import revoke_account_tokens
from activities.db import Base, SessionFactory, write_transaction
from schemas.accounts import Account, Role
from schemas.directory import Directory
from schemas.errors import CspflowError, InputError

PASSWORD_MIN_LENGTH = 12
"""NCSC password guidance: length is what makes a password hard to guess, not its symbols."""

PASSWORD_MAX_LENGTH = 256
"""Long enough for any passphrase or manager; bounds the work an attacker can make us do."""

_HASHER = PasswordHasher()


class AccountExistsError(CspflowError):
    """An account with this email exists already; reset its password instead."""


class UnknownAccountError(InputError):
    """No account has this email; check the address with `cspflow user list`."""


class User(Base):
    """One console account. The password hash never leaves this module."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("role IN ('coordinator', 'auditor', 'administrator')", name="role"),
    )

    email: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    role: Mapped[str]
    areas: Mapped[str] = mapped_column(sa.Text)  # JSON list of area ids
    password_hash: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(default=False)
    # Carried in every session cookie; advancing it ends every session of the account.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")


class SignInFailure(Base):
    """Failed sign-ins to one sign-in name in the current window, and the lockout's end.

    Keyed by the name typed, whether or not an account has it, so a lockout says nothing about
    which names exist (OWASP Authentication Cheat Sheet, "Account lockout").
    """

    __tablename__ = "sign_in_failures"

    email: Mapped[str] = mapped_column(primary_key=True)
    failures: Mapped[int]
    first_failed_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class AnswerLinkRevocation(Base):
    """A partner task's answer links were revoked: links issued before `revoked_at` no longer work.

    Rows are only added, so the latest revocation wins and earlier ones stay as a record of who
    revoked what, when.
    """

    __tablename__ = "answer_link_revocations"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(index=True)
    revoked_at: Mapped[datetime]
    revoked_by: Mapped[str]


# --------------------------------------------------------------------------------------------
# Pure rules: passwords, areas, hashes
# --------------------------------------------------------------------------------------------


def check_password(password: str) -> None:
    """Refuse a password that is too short, too long, or one character repeated.

    NCSC guidance favours length over complexity rules, which push people to predictable
    substitutions; a repeated character is refused because it is long only in appearance.
    """
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InputError(
            f"the password has {len(password)} characters; use at least {PASSWORD_MIN_LENGTH} "
            "(three random words make a good one) and run the command again"
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InputError(
            f"the password has {len(password)} characters; use at most {PASSWORD_MAX_LENGTH} "
            "and run the command again"
        )
    if len(set(password)) == 1:
        raise InputError(
            "the password is one character repeated; choose one that is hard to guess "
            "(three random words make a good one) and run the command again"
        )


def check_account_areas(account: Account, directory: Directory) -> None:
    """Refuse an account whose areas are not all areas of the CSP directory.

    A coordinator for an area the directory does not know would see nothing and could be
    mistaken for one who serves a real area, so the typo is caught when the account is made.
    """
    known = [area.id for area in directory.areas]
    unknown = [area for area in account.areas if area not in known]
    if unknown:
        raise InputError(
            f"no area {', '.join(repr(a) for a in unknown)} in the CSP directory; known areas: "
            f"{', '.join(known)}: correct --area and run the command again"
        )


def hash_password(password: str) -> str:
    """Hash a password with argon2id (argon2-cffi's current defaults, RFC 9106)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Say whether `password` matches `password_hash`; a malformed hash matches nothing."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash no password is known for, made with the current parameters, once per process."""
    return hash_password("cspflow: a password nobody has, for unknown sign-in names")


def _normal_email(email: str) -> str:
    return email.strip().lower()


def _account(row: User) -> Account:
    return Account(
        email=row.email,
        name=row.name,
        role=Role(row.role),
        areas=tuple(json.loads(row.areas)),
        disabled=row.disabled,
    )


# --------------------------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------------------------


async def add_user(
    session_factory: SessionFactory,
    account: Account,
    password: str,
    *,
    at: datetime | None = None,
) -> Account:
    """Create an account with a password; refuse an email that has one already.

    Check its areas against the directory first (`check_account_areas`): the database does
    not know the directory.
    """
    check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    now = at or datetime.now(UTC)
    exists = AccountExistsError(
        f"an account for {account.email} exists already: to set a new password run "
        f"`cspflow user reset {account.email}`"
    )
    try:
        async with write_transaction(session_factory) as session:
            if await session.get(User, account.email) is not None:
                raise exists
            session.add(
                User(
                    email=account.email,
                    name=account.name,
                    role=account.role.value,
                    areas=json.dumps(list(account.areas)),
                    password_hash=password_hash,
                    created_at=now,
                    updated_at=now,
                    disabled=account.disabled,
                )
            )
    except IntegrityError:  # another process added it between our read and our insert
        raise exists from None
    return account


def _unknown(email: str) -> UnknownAccountError:
    return UnknownAccountError(
        f"no account for {email}: check the address with `cspflow user list`, or create one "
        "with `cspflow user add`"
    )


async def reset_password(
    session_factory: SessionFactory, email: str, password: str, *, at: datetime | None = None
) -> None:
    """Replace an account's password (the old one stops working at once)."""
    check_password(password)
    email = _normal_email(email)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with write_transaction(session_factory) as session:
        row = await session.get(User, email)
        if row is None:
            raise _unknown(email)
        row.password_hash = password_hash
        row.updated_at = at or datetime.now(UTC)
        # A reset is often because the password leaked: every session and access token made
        # with it ends, and a lockout from guessing it is lifted for the account's owner.
        row.session_generation += 1
        await revoke_account_tokens(session, email, "password reset", row.updated_at)
        await session.execute(sa.delete(SignInFailure).where(SignInFailure.email == email))


async def set_disabled(
    session_factory: SessionFactory, email: str, disabled: bool, *, at: datetime | None = None
) -> Account:
    """Disable an account (it can no longer sign in) or enable it again; return it."""
    email = _normal_email(email)
    async with write_transaction(session_factory) as session:
        row = await session.get(User, email)
        if row is None:
            raise _unknown(email)
        row.disabled = disabled
        row.updated_at = at or datetime.now(UTC)
        # Enabling again must not revive a session (or a copied cookie) from before, nor a
        # token: disabling revokes them for good.
        row.session_generation += 1
        if disabled:
            await revoke_account_tokens(session, email, "account disabled", row.updated_at)
        return _account(row)


async def authenticate(
    session_factory: SessionFactory, email: str, password: str
) -> Account | None:
    """Return the account if `password` is its password, else None.

    Unknown, disabled and wrong all give None, and an unknown email is checked against a
    dummy hash, so neither the answer nor the time it takes tells whether an email has an
    account (OWASP Authentication Cheat Sheet). A hash made with older parameters is
    replaced by one made with the current defaults.
    """
    email = _normal_email(email)
    async with session_factory() as session:
        row = await session.get(User, email)
    if row is None:
        await asyncio.to_thread(verify_password, _dummy_hash(), password)
        return None
    if not await asyncio.to_thread(verify_password, row.password_hash, password):
        return None
    if row.disabled:
        return None
    if _HASHER.check_needs_rehash(row.password_hash):
        new_hash = await asyncio.to_thread(hash_password, password)
        async with write_transaction(session_factory) as session:
            await session.execute(
                sa.update(User)
                .where(User.email == email, User.password_hash == row.password_hash)
                .values(password_hash=new_hash)
            )
    return _account(row)


async def get_account(session_factory: SessionFactory, email: str) -> Account | None:
    """Return the account for `email`, or None."""
    async with session_factory() as session:
        row = await session.get(User, _normal_email(email))
    return None if row is None else _account(row)


async def session_account(
    session_factory: SessionFactory, email: str
) -> tuple[Account, int] | None:
    """Return the account for `email` and its current session generation, or None."""
    async with session_factory() as session:
        row = await session.get(User, _normal_email(email))
    return None if row is None else (_account(row), row.session_generation)


async def end_sessions(session_factory: SessionFactory, email: str) -> None:
    """End every session of an account at once, on every browser (signing out)."""
    async with write_transaction(session_factory) as session:
        await session.execute(
            sa.update(User)
            .where(User.email == _normal_email(email))
            .values(session_generation=User.session_generation + 1)
        )


# --------------------------------------------------------------------------------------------
# Lockout after repeated failures
# --------------------------------------------------------------------------------------------


async def locked_until(
    session_factory: SessionFactory, email: str, now: datetime
) -> datetime | None:
    """When the lockout of sign-in name `email` ends, or None if it is not locked at `now`."""
    async with session_factory() as session:
        row = await session.get(SignInFailure, _normal_email(email))
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return row.locked_until


async def record_sign_in_failure(
    session_factory: SessionFactory,
    email: str,
    now: datetime,
    *,
    attempts: int,
    window: timedelta,
    lockout: timedelta,
) -> datetime | None:
    """Count one failed sign-in; lock the name when it reaches `attempts` within `window`.

    Returns the lockout's end when this failure locked it, else None. Counting per name, not
    per address, stops a guesser who spreads tries over many addresses (NCSC, "Password
    administration for system owners": limit the number of guesses).
    """
    email = _normal_email(email)
    async with write_transaction(session_factory) as session:
        row = await session.get(SignInFailure, email)
        if row is None:
            row = SignInFailure(email=email, failures=0, first_failed_at=now, locked_until=None)
            session.add(row)
        elif now - row.first_failed_at > window or (
            row.locked_until is not None and row.locked_until <= now
        ):
            row.failures, row.first_failed_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= attempts:
            row.locked_until = now + lockout
            return row.locked_until
    return None


async def clear_sign_in_failures(session_factory: SessionFactory, email: str) -> None:
    """Forget the failures of a name after a successful sign-in."""
    async with write_transaction(session_factory) as session:
        await session.execute(
            sa.delete(SignInFailure).where(SignInFailure.email == _normal_email(email))
        )


async def list_accounts(session_factory: SessionFactory) -> list[Account]:
    """List every account, by email."""
    async with session_factory() as session:
        rows = (await session.execute(sa.select(User).order_by(User.email))).scalars().all()
    return [_account(row) for row in rows]


# --------------------------------------------------------------------------------------------
# Answer links
# --------------------------------------------------------------------------------------------


async def revoke_answer_links(
    session_factory: SessionFactory, task_id: str, by: str, at: datetime
) -> None:
    """Revoke every answer link of a partner task issued up to `at` (a link was forwarded or
    leaked): the console refuses such a link, and a new one can be sent."""
    if not by:
        raise ValueError("a revocation must name who revoked: set CSPFLOW_USER")
    async with session_factory() as session, session.begin():
        session.add(AnswerLinkRevocation(task_id=task_id, revoked_at=at, revoked_by=by))


async def answer_links_revoked_at(session_factory: SessionFactory, task_id: str) -> datetime | None:
    """Return when a partner task's answer links were last revoked, or None if never."""
    query = (
        sa.select(AnswerLinkRevocation.revoked_at)
        .where(AnswerLinkRevocation.task_id == task_id)
        .order_by(AnswerLinkRevocation.revoked_at.desc())
        .limit(1)
    )
    async with session_factory() as session:
        return (await session.execute(query)).scalar_one_or_none()
