"""The account page: who you are, and your personal access tokens, each of which you can revoke.

Issue 13: tokens are "revocable, shown in the console". A token is made with `cspflow token
create` (the password asked again) or by an administrator (`cspflow user token EMAIL`); the page
never shows a secret, only each token's name, id, when it was made and last used. Revoking is a
POST with the session's anti-forgery token (starter.web.auth.signed_in), written to the access
log with the account.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from activities.access_tokens import UnknownTokenError, list_tokens, revoke_token
from schemas.accounts import Account
from starter.web.auth import signed_in
from starter.web.rendering import console_of, message, page, redirect_to


@signed_in
async def account_page(request: Request, account: Account) -> Response:
    """The signed-in account and its tokens, newest first."""
    listed = await list_tokens(console_of(request).sessions, account.email)
    flash = request.session.pop("flash", None)
    return page(
        request,
        "account.html.j2",
        account=account,
        title="Your account",
        nav="/account",
        tokens=listed,
        flash=flash if isinstance(flash, dict) else None,
    )


@signed_in
async def revoke_account_token(request: Request, account: Account) -> Response:
    """Revoke one of the account's own tokens (another account's is not found)."""
    token_id = request.path_params["token_id"]
    try:
        info = await revoke_token(
            console_of(request).sessions, token_id, by=account.email, email=account.email
        )
    except UnknownTokenError:
        return message(request, "Page not found", status_code=404, account=account)
    request.session["flash"] = {"text": f"The token “{info.name}” no longer works."}
    return redirect_to("/account")
