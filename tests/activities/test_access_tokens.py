"""Personal access tokens on real SQLite and PostgreSQL: hashed, checked, revoked (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from activities.access_log import list_access
from activities.access_tokens import (
    AccessTokenRow,
    UnknownTokenError,
    create_token,
    list_tokens,
    revoke_token,
    verify_token,
)
from activities.accounts import add_user, reset_password, set_disabled
from activities.db import SessionFactory
from schemas.accounts import Account, Role

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 12, 14, 9, 30, tzinfo=UTC)
JO = Account(email="jo@north.example.org", name="Jo", role=Role.COORDINATOR, areas=("north",))


async def test_a_token_is_stored_as_a_hash_and_works_until_revoked(
    session_factory: SessionFactory,
) -> None:
    """The secret is never stored; the token works, a changed secret does not, nor a revoked one."""
    await add_user(session_factory, JO, PASSWORD)
    info, token = await create_token(session_factory, JO.email, "laptop", by=JO.email, at=T0)
    async with session_factory() as session:
        stored = (await session.execute(sa.select(AccessTokenRow))).scalars().one()
    secret = token.split("_", 2)[2]  # cspflow_<id>_<secret>; the secret may itself hold "_"
    assert len(secret) >= 40 and secret not in repr(vars(stored))
    assert info.id in token and stored.secret_sha256 != token

    used = await verify_token(session_factory, token, at=T0 + timedelta(hours=1))
    assert used is not None and used.email == JO.email
    assert (await list_tokens(session_factory, JO.email))[0].last_used_at == T0 + timedelta(hours=1)
    assert await verify_token(session_factory, token[:-2] + "xx") is None
    assert await verify_token(session_factory, "not a token") is None

    with pytest.raises(UnknownTokenError):
        await revoke_token(session_factory, info.id, by="x", email="someone@else.example.org")
    await revoke_token(session_factory, info.id, by=JO.email, at=T0 + timedelta(hours=2))
    assert await verify_token(session_factory, token) is None
    logged = await list_access(session_factory, user=JO.email)
    assert [(e.view, e.detail) for e in logged if info.id in (e.detail or "")] == [
        ("token-created", f"token {info.id} by {JO.email}"),
        ("token-revoked", f"token {info.id} by {JO.email}"),
    ]


@pytest.mark.parametrize("how", ["disable", "reset"])
async def test_disabling_an_account_or_resetting_its_password_revokes_its_tokens(
    session_factory: SessionFactory, how: str
) -> None:
    """A disabled account or a reset (perhaps leaked) password takes every token with it."""
    await add_user(session_factory, JO, PASSWORD)
    _, token = await create_token(session_factory, JO.email, "laptop", by=JO.email)
    if how == "disable":
        await set_disabled(session_factory, JO.email, True)
        await set_disabled(session_factory, JO.email, False)
    else:
        await reset_password(session_factory, JO.email, "another long passphrase")
    assert await verify_token(session_factory, token) is None
    [listed] = await list_tokens(session_factory, JO.email)
    assert listed.revoked_at is not None
