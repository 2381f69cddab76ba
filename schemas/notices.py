"""Notices: one rendered template sent to named recipients, exactly once.

The idempotency key is computed by the workflow (`{workflow_id}:{step}:{n}`), so it is recorded in
history and the same on every attempt; the Message-ID derives from it (GOV.UK Notify's pattern).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from schemas.shared import EmailAddress, Model


class NoticeRequest(Model):
    """Render `template` at `template_version` with `context` and send it once."""

    idempotency_key: str = Field(min_length=3, max_length=300)
    case_id: str
    template: str = Field(description="Template name, e.g. 'community-trigger/acknowledgement'.")
    template_version: int = Field(default=1, ge=1)
    to: tuple[EmailAddress, ...] = Field(min_length=1)
    cc: tuple[EmailAddress, ...] = ()
    context: dict[str, Any] = Field(
        default_factory=dict, description="Placeholders; an empty one refuses the send."
    )
    sent_at: datetime = Field(description="Workflow time of the send, used as the Date header.")


class NoticeResult(Model):
    """What was sent (or found already sent)."""

    idempotency_key: str
    message_id: str
    subject: str
    content_sha256: str
    already_sent: bool
