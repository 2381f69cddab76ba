"""Personal access tokens: how `cspflow` on a person's own machine signs in to the console's API.

Issue 13 ("for the terminal a `cspflow` that signs in to the same accounts: a personal access
token per account, stored with mode 0600, revocable, shown in the console"). A token is
`cspflow_<id>_<secret>`: the id (public, shown in lists and the access log) finds the row, and
the secret (32 random bytes) is stored only as its SHA-256 and compared in constant time, so a
copy of the records database gives nobody a working token. A random 256-bit secret needs no
slow hash: there is nothing to guess (OWASP Authentication Cheat Sheet; GitHub's tokens work the
same way). A token acts as its account, with its role and areas read afresh on every use; it
stops at revocation, when the account is disabled, and when its password is reset.

Not an activity: tokens are made by the CLI and checked by the console, never by a workflow.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from activities.access_log import AccessLogEntry
from activities.db import Base, SessionFactory, write_transaction
from schemas.accounts import AccessToken
from schemas.errors import InputError

TOKEN_PREFIX = "cspflow_"
"""Marks a cspflow token, so a leaked one is recognisable (and secret scanners can find it)."""

_TOKEN = re.compile(r"cspflow_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")

NAME_MAX_LENGTH = 80

TOKEN_VIEWS = ("token-created", "token-used", "token-refused", "token-revoked")
"""The access log's views for tokens: each is written with the token's id, never its secret."""


class UnknownTokenError(InputError):
    """No token has this id (or it is another account's); `cspflow token list` shows yours."""


class AccessTokenRow(Base):
    """One personal access token; the secret's SHA-256 only, never the secret."""

    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(index=True)
    name: Mapped[str]
    secret_sha256: Mapped[str]
    created_at: Mapped[datetime]
    created_by: Mapped[str]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: AccessTokenRow) -> AccessToken:
    return AccessToken(
        id=row.id,
        email=row.email,
        name=row.name,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


def check_token_name(name: str) -> str:
    """A token's name says where it is used ("laptop"), so a list can tell tokens apart."""
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH or not name.isprintable():
        raise InputError(
            f"give the token a name of 1 to {NAME_MAX_LENGTH} printable characters that says "
            "where it is used (e.g. --name laptop), and run the command again",
            code="schema_error",
            fields=("name",),
        )
    return name


async def create_token(
    session_factory: SessionFactory,
    email: str,
    name: str,
    *,
    by: str,
    at: datetime | None = None,
) -> tuple[AccessToken, str]:
    """Make a token for the account `email`; return it and the whole token, shown only once.

    The caller has checked that the account exists and that `by` may make it one (its own
    password, or an operator on the server).
    """
    name = check_token_name(name)
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = AccessTokenRow(
        id=token_id,
        email=email.strip().lower(),
        name=name,
        secret_sha256=_digest(secret),
        created_at=at or datetime.now(UTC),
        created_by=by,
        last_used_at=None,
        revoked_at=None,
        revoked_by=None,
    )
    async with write_transaction(session_factory) as session:
        session.add(row)
        session.add(
            _logged(row.email, "token-created", f"token {token_id} by {by}", row.created_at)
        )
    return _info(row), f"{TOKEN_PREFIX}{token_id}_{secret}"


def token_id_of(token: str) -> str | None:
    """The id part of a token as given, or None when it is not shaped like one."""
    found = _TOKEN.fullmatch(token.strip())
    return found.group(1) if found else None


async def verify_token(
    session_factory: SessionFactory, token: str, *, at: datetime | None = None
) -> AccessToken | None:
    """The live token `token` is, its last use moved to `at`; None if unknown, wrong or revoked.

    The secret is compared with `hmac.compare_digest`, so the time taken says nothing about
    how much of a guess was right. Whether the account may still act is the caller's check.
    """
    found = _TOKEN.fullmatch(token.strip())
    if found is None:
        return None
    token_id, secret = found.groups()
    async with write_transaction(session_factory) as session:
        row = await session.get(AccessTokenRow, token_id)
        if row is None:
            hmac.compare_digest(_digest(secret), _digest(""))  # the same work as a real check
            return None
        if not hmac.compare_digest(row.secret_sha256, _digest(secret)) or row.revoked_at:
            return None
        row.last_used_at = at or datetime.now(UTC)
        return _info(row)


async def token_owner(session_factory: SessionFactory, token: str) -> str | None:
    """The account a token with the right secret belongs to, revoked or not (for the access
    log: a revoked token tried again is the account's business, and its auditor's)."""
    found = _TOKEN.fullmatch(token.strip())
    if found is None:
        return None
    async with session_factory() as session:
        row = await session.get(AccessTokenRow, found.group(1))
    if row is None or not hmac.compare_digest(row.secret_sha256, _digest(found.group(2))):
        return None
    return row.email


async def list_tokens(
    session_factory: SessionFactory, email: str | None = None
) -> list[AccessToken]:
    """Every token of one account (or of all), newest first; never a secret."""
    query = sa.select(AccessTokenRow).order_by(AccessTokenRow.created_at.desc(), AccessTokenRow.id)
    if email is not None:
        query = query.where(AccessTokenRow.email == email.strip().lower())
    async with session_factory() as session:
        rows = (await session.execute(query)).scalars().all()
    return [_info(row) for row in rows]


async def revoke_token(
    session_factory: SessionFactory,
    token_id: str,
    *,
    by: str,
    email: str | None = None,
    at: datetime | None = None,
) -> AccessToken:
    """Revoke one token (of the account `email` only, when given); revoking twice is harmless."""
    async with write_transaction(session_factory) as session:
        row = await session.get(AccessTokenRow, token_id.strip())
        if row is None or (email is not None and row.email != email.strip().lower()):
            raise UnknownTokenError(
                f"no token {token_id!r} of yours: `cspflow token list` shows your tokens' ids",
                code="unknown_token",
                fields=("id",),
            )
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = at or datetime.now(UTC), by
            session.add(
                _logged(row.email, "token-revoked", f"token {row.id} by {by}", row.revoked_at)
            )
        return _info(row)


async def revoke_account_tokens(session: AsyncSession, email: str, by: str, at: datetime) -> None:
    """Revoke every live token of an account, inside the caller's transaction.

    A disabled account and a reset password (often because it leaked) must take the tokens
    made with it along, as they end its sessions.
    """
    revoked = await session.execute(
        sa.update(AccessTokenRow)
        .where(AccessTokenRow.email == email, AccessTokenRow.revoked_at.is_(None))
        .values(revoked_at=at, revoked_by=by)
        .returning(AccessTokenRow.id)
    )
    for (token_id,) in revoked.all():
        session.add(_logged(email, "token-revoked", f"token {token_id}: {by}", at))


def _logged(email: str, view: str, detail: str, at: datetime) -> AccessLogEntry:
    """An access-log row written in the same transaction as the change it records."""
    return AccessLogEntry(at=at, user=email, case_id=None, view=view, detail=detail)
