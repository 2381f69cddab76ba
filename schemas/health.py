"""What the stall watch tells a coordinator about a case that cannot move on (starter/health.py).

Ids, dates and staff addresses only: the alert goes into the StallWatch workflow's history and a
coordinator's mail, and names no applicant, victim or subject.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.shared import EmailAddress, Model


class StallAlert(Model):
    """One case whose workflow, or one of its partner tasks' workflows, cannot move on."""

    case_id: str = Field(description="The case id.")
    case_reference: str = Field(description="The application reference, or the case id.")
    area: str = Field(description="The case's area.")
    since: datetime | None = Field(
        default=None, description="When the failing workflow task was first scheduled (UTC)."
    )
    workflows: tuple[str, ...] = Field(description="The stalled workflows: the case or its tasks.")
    attempts: int = Field(description="The most consecutive failures among them.")
    nondeterminism: bool = Field(description="True when a history no longer replays (TMPRL1100).")
    to: tuple[EmailAddress, ...] = Field(
        min_length=1, description="The area's coordinators (or its point of contact)."
    )

    @property
    def key(self) -> str:
        """The notice's idempotency key: one alert per case per run of failures."""
        since = self.since.strftime("%Y%m%dT%H%M%SZ") if self.since else "unknown"
        return f"{self.case_id}:cannot-move-on:{since}"
