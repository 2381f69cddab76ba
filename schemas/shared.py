"""Types shared by every process: people acting, agencies, deadlines and processes.

Every model is frozen and forbids unknown fields, so a typo in an application file is an error
naming the field, not a silently dropped value (GOV.UK: say what is wrong and how to fix it).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from schemas.validation import shown

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,63}$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"{shown(value)} is not a valid identifier: use lower-case letters, digits and hyphens "
            "(for example 'amber-valley'), starting with a letter or digit, at most 63 characters"
        )
    return value


def _reference(value: str) -> str:
    if not _REFERENCE.match(value):
        raise ValueError(
            f"{shown(value)} is not a valid reference: use letters, digits and / _ . - only, "
            "at most 64 characters, and no personal details"
        )
    return value


Slug = Annotated[str, AfterValidator(_slug)]
"""A stable machine identifier (area, agency, chair): safe in ids and search attributes."""

Reference = Annotated[str, AfterValidator(_reference)]
"""A case or agency reference number: safe in ids and email subjects; never a name."""

# C0 control characters other than tab, line feed and carriage return, DEL, and the UTF-16
# surrogates a JSON "\\ud800" escape can smuggle into a str: PostgreSQL refuses NUL in text (so a
# record activity would retry for ever), the others corrupt terminals and mail, and a lone
# surrogate cannot be encoded as UTF-8 at all (the payload converter would fail).
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _free_text(value: str) -> str:
    found = _UNPRINTABLE.search(value)
    if found:
        char = found.group()
        what = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
        raise ValueError(
            f"{shown(value)} contains {what} (U+{ord(char):04X}) at character {found.start() + 1}: "
            "remove it; text may hold letters, digits, punctuation, tabs and line breaks only"
        )
    return value


PRINTABLE = AfterValidator(_free_text)
"""The check FreeText runs, for a bounded optional text or list item (see FreeText)."""

FreeText = Annotated[str, PRINTABLE]
"""Text a person typed (names, reasons, findings): any Unicode except control characters.

Every free-text field of every input model uses it, so a NUL or an escape sequence is refused at
the edge, naming the field, instead of reaching the records database or a letter. An optional
field or a list item puts its length bounds before the check,
`Annotated[str, StringConstraints(max_length=40), PRINTABLE] | None`, so a value too long is told
"String should have at most 40 characters" (pydantic's generic length check otherwise).
"""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HTTPS_URL = re.compile(r"^https://[^\s/$.?#][^\s]*$")


def _sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise ValueError(
            f"{shown(value)} is not a SHA-256 digest: give the 64 lower-case hexadecimal "
            "characters that `sha256sum FILE` prints"
        )
    return value


def _https_url(value: str) -> str:
    if not _HTTPS_URL.match(value):
        raise ValueError(
            f"{shown(value)} is not a web address: give the https:// address where it is published"
        )
    return value


Sha256 = Annotated[str, PRINTABLE, AfterValidator(_sha256)]
"""A document's SHA-256 digest in lower-case hex: identifies a version without its content."""

HttpsUrl = Annotated[
    str, Field(min_length=10, max_length=500), PRINTABLE, AfterValidator(_https_url)
]
"""An https:// address (where a report is published)."""

EARLIEST_DATE = date(1990, 1, 1)
LATEST_DATE = date(2100, 12, 31)
"""The dates cspflow counts deadlines between: the bank-holiday tables (activities/calendar.py)
cover 1990-2100, and a date near year 9999 would overflow the working-day arithmetic inside a
workflow, failing its task for ever instead of refusing the input."""


def _dates_between(earliest: date, latest: date, what: str) -> AfterValidator:
    """A validator refusing a date outside [earliest, latest], naming the range and what to do."""

    def check(value: date) -> date:
        if not earliest <= value <= latest:
            raise ValueError(
                f"{value.isoformat()} is outside the {what} ({earliest} to {latest}): check "
                "the year and give the real date"
            )
        return value

    return AfterValidator(check)


CaseDate = Annotated[date, _dates_between(EARLIEST_DATE, LATEST_DATE, "dates cspflow works with")]
"""A date given as input (received, reported, due, meeting): between 1990 and 2100."""

EARLIEST_BIRTH = date(1880, 1, 1)
"""No one alive in the years cspflow works with (from 1990) was born before this."""

BirthDate = Annotated[
    date, _dates_between(EARLIEST_BIRTH, LATEST_DATE, "dates of birth cspflow accepts")
]
"""A date of birth (a DHR's victim, a person met under MSA 2015 s.52): from 1880, since a
person may have been born long before the dates a case is counted in."""

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(
            f"{shown(value)} is not an email address: give one in the form name@example.org"
        )
    return value


EmailAddress = Annotated[
    str,
    Field(max_length=254, examples=["name@example.org"], json_schema_extra={"format": "email"}),
    AfterValidator(_free_text),
    AfterValidator(_email),
]
"""An email address: something@somewhere.tld, said plainly when it is not one."""


class Model(BaseModel):
    """Base for every cspflow schema: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Process(StrEnum):
    """The statutory processes cspflow runs; the value is used in ids and search attributes."""

    COMMUNITY_TRIGGER = "community-trigger"
    DHR = "dhr"
    MODERN_SLAVERY = "modern-slavery"


class DeadlineState(StrEnum):
    """Whether a deadline is still open, was met, or was missed."""

    OPEN = "open"
    MET = "met"
    MISSED = "missed"
    CANCELLED = "cancelled"


class Deadline(Model):
    """One dated duty in a case, judged at the (possibly simulated) time the step happened."""

    name: str = Field(description="What must happen by the due date, e.g. 'acknowledgement'.")
    due: date = Field(description="The last day on which the step is on time.")
    basis: str = Field(
        description="How the due date was computed, e.g. '2 working days after 2025-03-03 "
        "(policy derbyshire-ct v1)'."
    )
    state: DeadlineState = DeadlineState.OPEN
    completed_on: date | None = Field(default=None, description="The day the step was done.")
    days_late: int = Field(default=0, description="Calendar days after the due date, 0 if on time.")


class DecisionRecord(Model):
    """A decision taken in a case: what, by whom, when, and why."""

    step: str = Field(description="The step decided, e.g. 'threshold'.")
    outcome: str = Field(description="What was decided, e.g. 'met' or 'not-met'.")
    decided_by: str = Field(description="The identity of the person who decided.")
    decided_at: datetime = Field(description="When the decision was recorded (workflow time).")
    reasons: tuple[str, ...] = Field(default=(), description="Every reason given.")


class StepSignature(Model):
    """The front's signature of one human step (issue 13: who did what cannot be forged).

    The console (or `cspflow` on the server) signs the case, the step, the input without this
    field, the acting account and role and the time with an Ed25519 key only it holds; the
    workflow checks it before anything is recorded (workflows/rules/signatures.py). Kept in the
    step's input, so the history carries the proof and an auditor can check it again.
    """

    key_id: str = Field(max_length=64, description="Which of the front's keys signed.")
    account: str = Field(max_length=254, description="The signed-in account that acted.")
    role: str = Field(max_length=64, description="Its role, e.g. coordinator or answer-link.")
    signed_at: datetime = Field(description="When the front signed the step (UTC).")
    signature: str = Field(max_length=200, description="Ed25519 signature, base64.")


class StepKey(Model):
    """One public key of the front that signs steps."""

    key_id: str = Field(max_length=64, description="Its id: the first 16 hex digits of SHA-256.")
    public_key: str = Field(max_length=200, description="The raw Ed25519 public key, base64.")


class StepKeys(Model):
    """The keys a workflow accepts step signatures from: the front's current and previous."""

    keys: tuple[StepKey, ...] = Field(description="Current key first, then earlier ones.")


class Acting(Model):
    """Who takes a human step. Filled in by the CLI from its configured identity."""

    by: FreeText = Field(
        min_length=1,
        max_length=120,
        title="Taken by",
        json_schema_extra={"what": "who is taking this step"},
        description="The identity of the person taking this step (the CLI's CSPFLOW_USER), "
        "recorded in the case history.",
    )
    # Not in the JSON Schema: no form, example or `cspflow schema` asks a person for it.
    signed: SkipJsonSchema[StepSignature | None] = Field(
        default=None,
        description="The front's signature of this step, added when it is sent; a workflow "
        "started by this release refuses a step without a valid one.",
    )
