"""Answer links: a signed address that lets one agency answer one partner task, with no account.

Partner agencies (police, health, housing providers) will not hold an account to answer one
request (issue 6), so every partner-task email carries a link to an answer page for that task
alone. The link is a bearer credential, so it is:

- signed, so a changed character makes it worthless. The token is itsdangerous's
  `URLSafeTimedSerializer` with its defaults: `<payload>.<timestamp>.<signature>`, where the
  payload is the JSON `{"task": <task id>}` in URL-safe base64 (readable by anyone holding the
  link: it is signed, not encrypted), the timestamp is the issuing second, and the signature is
  HMAC-SHA1 over `<payload>.<timestamp>` with a key derived from the console's key
  (CSPFLOW_WEB_SECRET_KEY) and the salt `cspflow.answer-link.v1` as SHA-1(salt + "signer" +
  key). SHA-1's collision weakness does not carry over to HMAC (RFC 6151 §3); moving to
  HMAC-SHA256 would refuse every link already mailed, so it needs a new salt and a period in
  which both are accepted;
- scoped: it names one task id and nothing else, and carries no personal data;
- expiring: at the latest `answer_link_days` after it was issued, and in effect when the task
  closes, because the answer page refuses a task that is no longer open;
- revocable: a coordinator's revocation refuses every link of that task issued before it, and a
  new link can then be issued.

The notice activity issues links when it renders a partner-task email, so the key never enters a
workflow history; the web console verifies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_SALT = "cspflow.answer-link.v1"


class LinkProblem(StrEnum):
    """Why a link cannot be used; each has its own page saying what to do."""

    TAMPERED = "tampered"
    EXPIRED = "expired"
    REVOKED = "revoked"
    CLOSED = "closed"


class AnswerLinkRefused(Exception):
    """The link cannot be used to answer; `problem` says why."""

    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class AnswerLink:
    """A verified link: the task it opens and when it was issued."""

    task_id: str
    issued_at: datetime


def _serializer(secret: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def issue_answer_token(secret: bytes, task_id: str) -> str:
    """Sign a token that opens the answer page of `task_id` (issued now)."""
    return _serializer(secret).dumps({"task": task_id})


def answer_url(base_url: str, token: str) -> str:
    """The answer page's address for a token."""
    return f"{base_url.rstrip('/')}/answer/{token}"


def verify_answer_token(
    secret: bytes,
    token: str,
    max_age: timedelta,
    revoked_at: datetime | None = None,
) -> AnswerLink:
    """Return the task a token opens, or raise AnswerLinkRefused saying why it cannot.

    `revoked_at` is the latest revocation of the task's links: a link issued at or before it is
    refused. (Check the task id's revocation with `answer_links_revoked_at` after this call.)
    """
    serializer = _serializer(secret)
    try:
        payload, issued = serializer.loads(
            token, max_age=int(max_age.total_seconds()), return_timestamp=True
        )
    except SignatureExpired:
        raise AnswerLinkRefused(LinkProblem.EXPIRED) from None
    except BadSignature:
        raise AnswerLinkRefused(LinkProblem.TAMPERED) from None
    task_id = payload.get("task") if isinstance(payload, dict) else None
    if not isinstance(task_id, str) or ".task." not in task_id:
        raise AnswerLinkRefused(LinkProblem.TAMPERED)
    issued_at = issued.astimezone(UTC)
    if revoked_at is not None and issued_at <= revoked_at:
        raise AnswerLinkRefused(LinkProblem.REVOKED)
    return AnswerLink(task_id=task_id, issued_at=issued_at)


def token_task_id(secret: bytes, token: str) -> str | None:
    """The task id a correctly signed token names, whatever its age (for revocation checks)."""
    try:
        payload = _serializer(secret).loads(token)
    except BadSignature:
        return None
    task_id = payload.get("task") if isinstance(payload, dict) else None
    return task_id if isinstance(task_id, str) else None
