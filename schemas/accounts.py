"""Accounts for the web console: who may sign in, and what each role may read and do.

Issue 6 ("Sign-in with accounts from the directory"). Three roles, following the people the
Community Trigger procedure names (README, "A case from the command line"):

* a **coordinator** runs cases in the areas they serve, and only there: a coordinator for one
  district has no business reading another district's applicants (UK GDPR Art. 5(1)(c), data
  minimisation);
* an **auditor** reads every area and changes nothing, so a review of who decided what can
  never itself alter a case;
* an **administrator** manages accounts and may act in every area.

The password hash is not part of an account: it never leaves `activities.accounts`, so no view,
log line or JSON output built from an `Account` can carry it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from schemas.shared import EmailAddress, Model, Slug


class Role(StrEnum):
    """What an account may do; the value is stored in the records database."""

    COORDINATOR = "coordinator"
    AUDITOR = "auditor"
    ADMINISTRATOR = "administrator"


AccountEmail = Annotated[EmailAddress, AfterValidator(str.lower)]
"""A sign-in address, lower-cased: mail domains and, in practice, mailboxes ignore case, so
'Jo.Bloggs@Council.gov.uk' and 'jo.bloggs@council.gov.uk' must be one account, not two."""


class Account(Model):
    """A person who signs in to the web console, with their role and the areas they serve."""

    email: AccountEmail = Field(
        description="Sign-in address, stored lower-case; also the identity recorded on steps."
    )
    name: str = Field(min_length=1, max_length=120, description="Display name, e.g. 'Jo Bloggs'.")
    role: Role = Field(description="coordinator, auditor or administrator.")
    areas: tuple[Slug, ...] = Field(
        default=(),
        description="Areas a coordinator serves (at least one); empty for auditors and "
        "administrators, who see every area.",
    )
    disabled: bool = Field(
        default=False, description="A disabled account cannot sign in; its history stays."
    )

    @model_validator(mode="after")
    def _areas_fit_the_role(self) -> Self:
        if self.role is Role.COORDINATOR and not self.areas:
            raise ValueError(
                "a coordinator must serve at least one area: give one or more areas "
                "(e.g. --area amber-valley)"
            )
        if self.role is not Role.COORDINATOR and self.areas:
            raise ValueError(
                f"an {self.role.value} sees every area, so areas must be empty "
                f"(got {', '.join(self.areas)}): remove them"
            )
        if len(set(self.areas)) != len(self.areas):
            raise ValueError(f"areas {', '.join(self.areas)} name an area twice: list each once")
        return self

    def can_read(self, area: str) -> bool:
        """Say whether this account may read the cases of `area`.

        Auditors and administrators read every area: an audit must be able to follow any
        case. A coordinator reads only the areas they serve (data minimisation, UK GDPR
        Art. 5(1)(c)). A disabled account reads nothing.
        """
        if self.disabled:
            return False
        if self.role is Role.COORDINATOR:
            return area in self.areas
        return True

    def can_act(self, area: str) -> bool:
        """Say whether this account may take a step (start, decide, extend) in `area`.

        Auditors never act: their review must not be able to change what it reviews. A
        coordinator acts only in the areas they serve; an administrator acts everywhere. A
        disabled account does nothing.
        """
        if self.disabled:
            return False
        if self.role is Role.COORDINATOR:
            return area in self.areas
        return self.role is Role.ADMINISTRATOR

    def readable_areas(self, all_areas: Iterable[str]) -> tuple[str, ...]:
        """Return those of `all_areas` (in their order) this account may read.

        The console lists cases of these areas only, so a coordinator never sees so much as
        the existence of another area's case.
        """
        return tuple(area for area in all_areas if self.can_read(area))


class AccessToken(Model):
    """A personal access token, as lists show it: never its secret (issue 13)."""

    id: str = Field(description="The token's public id: name it to revoke it.")
    email: AccountEmail = Field(description="The account the token acts as.")
    name: str = Field(description="Where the token is used, e.g. 'laptop'.")
    created_at: datetime = Field(description="When it was made.")
    created_by: str = Field(description="Who made it: the account itself or an operator.")
    last_used_at: datetime | None = Field(default=None, description="Its latest use, if any.")
    revoked_at: datetime | None = Field(default=None, description="When it stopped working.")
    revoked_by: str | None = Field(default=None, description="Who revoked it.")
