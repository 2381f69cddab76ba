"""Local review procedures: the part of each process a CSP sets for itself, named and versioned.

The statute fixes the Community Trigger's shape (ASB, Crime and Policing Act 2014 s.104) but sets
no durations; every number here is local practice ([LOCAL] in domain/statutory-reference.md §1.6)
with the default's source beside it. A policy is recorded on every case when it opens, so a later
edit of the policy file never changes a running case and any decision can be explained later.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, StrictBool, field_validator, model_validator

from schemas.shared import EmailAddress, FreeText, Model, Slug


class HateSingleIncidentRule(Model):
    """Local rule: one hate-related incident within a window meets the threshold (§1.4)."""

    enabled: StrictBool = False
    window_months: int = Field(
        default=6,
        ge=1,
        le=12,
        description="The application must come within this many months beginning with the "
        "hate-related behaviour (default 6; Oxford uses 3).",
    )


class MultiComplainantRule(Model):
    """Local rule: several different complainants about one problem (§1.4; South Bucks, Wales)."""

    enabled: StrictBool = False
    min_complainants: int = Field(default=5, ge=2, le=50, description="Distinct complainants.")
    window_months: int = Field(
        default=6, ge=1, le=12, description="Window ending with the application."
    )


class VulnerabilityOverrideRule(Model):
    """Local rule: a named senior officer may find the threshold met to protect a vulnerable victim
    (§1.4; Lincolnshire)."""

    enabled: StrictBool = False
    authorised_roles: tuple[FreeText, ...] = Field(
        default=("community-safety-manager", "police-inspector"),
        description="Roles whose holders may give a vulnerability override.",
    )


class CumulativeHarmRule(Model):
    """Local rule: significant cumulative impact of several incidents (§1.4; Plymouth)."""

    enabled: StrictBool = False
    min_incidents: int = Field(default=2, ge=1, le=50, description="Distinct incidents needed.")
    window_months: int = Field(
        default=6, ge=1, le=12, description="Window ending with the application."
    )


class LocalRules(Model):
    """The discretionary threshold rules an area has switched on (s.104(5))."""

    hate_single_incident: HateSingleIncidentRule = HateSingleIncidentRule()
    multi_complainant: MultiComplainantRule = MultiComplainantRule()
    vulnerability_override: VulnerabilityOverrideRule = VulnerabilityOverrideRule()
    cumulative_harm: CumulativeHarmRule = CumulativeHarmRule()

    def enabled_names(self) -> tuple[str, ...]:
        """Return the names of the enabled rules, in a fixed order."""
        return tuple(
            name
            for name in (
                "hate_single_incident",
                "multi_complainant",
                "vulnerability_override",
                "cumulative_harm",
            )
            if getattr(self, name).enabled
        )


class Timescales(Model):
    """Every local deadline of the Community Trigger, in England and Wales working days.

    None of these is statutory (domain/statutory-reference.md §0.2, §1.6).
    """

    acknowledgement: int = Field(
        default=2,
        ge=0,
        le=60,
        description="Acknowledge the applicant within this many working days of receipt "
        "(Richmond, Westminster, South Bucks: 2).",
    )
    information_request: int = Field(
        default=14,
        ge=1,
        le=120,
        description="Relevant bodies return case information within this many working days of "
        "the request (Richmond: 14).",
    )
    threshold_decision: int = Field(
        default=10,
        ge=1,
        le=120,
        description="Decide the threshold within this many working days of receipt "
        "(East Herts 14, Richmond 21; issue default 10).",
    )
    decision_notice: int = Field(
        default=2,
        ge=0,
        le=30,
        description="Tell the applicant the threshold decision within this many working days "
        "of the decision.",
    )
    meeting_scheduled: int = Field(
        default=10,
        ge=1,
        le=120,
        description="Set the review meeting date within this many working days of the chair "
        "being allocated.",
    )
    papers_before_meeting: int = Field(
        default=2,
        ge=0,
        le=20,
        description="Circulate papers at least this many working days before the meeting "
        "(Richmond: 2).",
    )
    review_record: int = Field(
        default=3,
        ge=1,
        le=30,
        description="Record the panel's findings within this many working days of the meeting.",
    )
    outcome_letter: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Send the outcome letter within this many working days of the meeting "
        "(Richmond 7, Birmingham 10; issue default 5).",
    )
    appeal_window: int = Field(
        default=20,
        ge=1,
        le=120,
        description="The applicant may ask for the handling to be looked at again within this "
        "many working days of the decision or outcome letter (Birmingham: 20).",
    )
    appeal_decision: int = Field(
        default=15,
        ge=1,
        le=120,
        description="The escalation body decides within this many working days of the request "
        "(East Herts: 15).",
    )
    consent: int = Field(
        default=10,
        ge=1,
        le=120,
        description="Expected time to obtain a victim's consent for a third-party application.",
    )


class Reminders(Model):
    """When partner tasks and coordinator steps are chased (local practice)."""

    before_due: tuple[int, ...] = Field(
        default=(3, 1),
        description="Send reminders this many working days before a due date.",
    )
    escalation_interval: int = Field(
        default=2,
        ge=1,
        le=30,
        description="After a due date passes, repeat the overdue notice and escalation every "
        "this many working days until answered.",
    )
    max_escalations: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Stop repeating overdue notices after this many (the case still shows it "
        "as overdue).",
    )

    @field_validator("before_due")
    @classmethod
    def _positive_and_sorted(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(n < 1 or n > 60 for n in value):
            raise ValueError("each reminder offset must be between 1 and 60 working days")
        return tuple(sorted(set(value), reverse=True))


class EscalationBody(Model):
    """Where a dissatisfied applicant's request goes (Sch 4 para 3), e.g. the PCC's office."""

    name: FreeText = Field(
        description="Public name, e.g. 'Office of the Derbyshire Police and Crime Commissioner'."
    )
    email: EmailAddress = Field(description="Address that receives escalations.")


class CommunityTriggerPolicy(Model):
    """An area's Community Trigger review procedure (s.104(2)-(5), Sch 4), named and versioned."""

    name: Slug = Field(description="Policy name, e.g. 'derbyshire-ct'.")
    version: int = Field(ge=1, description="Increase on every change; cases record the version.")
    follows: FreeText = Field(
        default="ASBCPA 2014 s.104 and Sch 4; Home Office statutory guidance July 2025",
        description="Which statute and guidance version this procedure follows.",
    )
    threshold_complaints: int = Field(
        default=3,
        description="Qualifying complaints that make the threshold met (s.104(4)): three unless "
        "the procedure sets fewer.",
    )
    deduplicate_incidents: StrictBool = Field(
        default=True,
        description="Count one incident reported to several agencies once (Lincolnshire, Three "
        "Rivers, Ashfield).",
    )
    local_rules: LocalRules = LocalRules()
    timescales: Timescales = Timescales()
    reminders: Reminders = Reminders()
    chair_from_neighbouring_area: StrictBool = Field(
        default=True,
        description="Allocate an independent chair from another district, as the Derbyshire "
        "districts do for one another (seed 004, para 2.8).",
    )
    escalation_body: EscalationBody = Field(description="Who looks at a case again (Sch 4 para 3).")

    @field_validator("threshold_complaints")
    @classmethod
    def _no_higher_than_three(cls, value: int) -> int:
        if value < 1 or value > 3:
            raise ValueError(
                f"threshold_complaints is {value}: the threshold must be 1, 2 or 3 qualifying "
                "complaints (s.104(4); Explanatory Notes para 231: 'no higher than three')"
            )
        return value

    @property
    def label(self) -> str:
        """The policy as recorded on a case: 'name v3'."""
        return f"{self.name} v{self.version}"

    @model_validator(mode="after")
    def _override_needs_roles(self) -> Self:
        rule = self.local_rules.vulnerability_override
        if rule.enabled and not rule.authorised_roles:
            raise ValueError(
                "local_rules.vulnerability_override is enabled with no authorised_roles: name at "
                "least one role"
            )
        return self
