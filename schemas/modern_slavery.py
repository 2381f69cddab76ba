"""Modern Slavery Act 2015 s.52: an encounter with a possible victim, and the decision on it.

Modern Slavery Act 2015 s.52 (duty to notify the Secretary of State) and s.51 (presumption about
age); domain/statutory-reference.md §4 and domain/decision-rules.md §0 and §2 (M1-M5). The person
met is never named here: the encounter carries only what decides the duty and the route (the
body's legal kind, the nation, the date, reasonable grounds, how the age is known, the consent
outcome). The reasonable-grounds rationale is free text about people: it is recorded, never
decided on, and never goes into ids, search attributes, logs or email subjects.

Every yes/no field is a strict boolean: an encounter saying "yes", 1 or "true" where the schema
says boolean is refused, naming the field, rather than read as true.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, StrictBool, model_validator

from schemas.shared import BirthDate, CaseDate, FreeText, Model, Reference, Slug

# --------------------------------------------------------------------------------------------
# The encounter
# --------------------------------------------------------------------------------------------


class BodyKind(StrEnum):
    """The legal kind of the body that met the person (decision-rules §2 M1).

    Given by the body, never guessed from its name. The first eleven are the specified public
    authorities of MSA 2015 s.52(5)(a)-(k); the rest are not specified. A unitary council is
    given as what it is in law: a county council (e.g. one for a county with no district
    councils) or a district council (e.g. a city council for an area with no county council); a
    metropolitan borough council is a district council; in Wales a principal council is a county
    council or a county borough council (Local Government (Wales) Act 1994).
    """

    CHIEF_OFFICER_OF_POLICE = "chief_officer_of_police"
    BTP = "btp"
    NCA = "nca"
    COUNTY_COUNCIL = "county_council"
    COUNTY_BOROUGH_COUNCIL = "county_borough_council"
    DISTRICT_COUNCIL = "district_council"
    LONDON_BOROUGH_COUNCIL = "london_borough_council"
    GREATER_LONDON_AUTHORITY = "greater_london_authority"
    COMMON_COUNCIL_CITY_OF_LONDON = "common_council_city_of_london"
    COUNCIL_ISLES_OF_SCILLY = "council_isles_of_scilly"
    GLAA = "glaa"
    HOME_OFFICE = "home_office"
    POLICE_AND_CRIME_COMMISSIONER = "police_and_crime_commissioner"
    PARISH_OR_TOWN_COUNCIL = "parish_or_town_council"
    FIRE_AND_RESCUE_AUTHORITY = "fire_and_rescue_authority"
    NHS_TRUST = "nhs_trust"
    SCHOOL = "school"
    HOUSING_ASSOCIATION = "housing_association"
    CHARITY = "charity"
    PROBATION = "probation"
    MOD_POLICE = "mod_police"


class Nation(StrEnum):
    """Where the person was met; s.52 extends to England and Wales (statutory-reference §4.1)."""

    ENGLAND = "england"
    WALES = "wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern_ireland"


class AgeBasis(StrEnum):
    """How the person's age is known: exactly one of these (decision-rules §2 M3)."""

    DATE_OF_BIRTH = "date_of_birth"
    STATED_CHILD = "stated_child"
    AGE_UNCERTAIN = "age_uncertain"


class ConsentOutcome(StrEnum):
    """The outcome of the informed-consent discussion with an adult (statutory-reference §4.2)."""

    CONSENTS = "consents"
    DECLINES = "declines"
    LACKS_CAPACITY = "lacks_capacity"
    NOT_RECORDED = "not_recorded"


class EncounteringBody(Model):
    """The body that met the person: its legal kind and whether it is an NRM first responder."""

    kind: BodyKind = Field(
        description="The body's legal kind, as the body itself gives it: one of the s.52(5) "
        "specified authorities (chief_officer_of_police, btp, nca, county_council, "
        "county_borough_council, district_council, london_borough_council, "
        "greater_london_authority, common_council_city_of_london, council_isles_of_scilly, glaa) "
        "or a body that is not specified (home_office, police_and_crime_commissioner, "
        "parish_or_town_council, fire_and_rescue_authority, nhs_trust, school, "
        "housing_association, charity, probation, mod_police). A unitary council is a "
        "county_council or a district_council, as it is in law; a metropolitan borough council "
        "is a district_council."
    )
    first_responder: StrictBool = Field(
        description="True when the body is a National Referral Mechanism first responder "
        "organisation, which can refer a person into the NRM itself; a body that is not refers "
        "through one."
    )


class PersonAge(Model):
    """How the person's age is known: a date of birth, stated to be a child, or uncertain.

    Give `basis` and only what it needs: `date_of_birth` for date_of_birth,
    `reason_to_believe_under_18` for age_uncertain, nothing more for stated_child.
    """

    basis: AgeBasis = Field(
        description="date_of_birth when the date of birth is known; stated_child when the "
        "person is known to be under 18 without a date of birth; age_uncertain when their age "
        "is not known."
    )
    date_of_birth: BirthDate | None = Field(
        default=None, description="The person's date of birth: only with basis date_of_birth."
    )
    reason_to_believe_under_18: StrictBool | None = Field(
        default=None,
        description="Only with basis age_uncertain: true when there are reasonable grounds to "
        "believe the person may be under 18, so they are treated as a child until their age is "
        "assessed (MSA 2015 s.51).",
    )

    @model_validator(mode="after")
    def _exactly_what_the_basis_needs(self) -> Self:
        problems = []
        basis = self.basis
        if basis is AgeBasis.DATE_OF_BIRTH and self.date_of_birth is None:
            problems.append("date_of_birth is required with basis date_of_birth: give it")
        if basis is not AgeBasis.DATE_OF_BIRTH and self.date_of_birth is not None:
            problems.append(
                f"date_of_birth is only for basis date_of_birth, and basis is {basis.value}: "
                "leave date_of_birth out or set basis to date_of_birth"
            )
        if basis is AgeBasis.AGE_UNCERTAIN and self.reason_to_believe_under_18 is None:
            problems.append(
                "reason_to_believe_under_18 is required with basis age_uncertain: give true "
                "when there are reasonable grounds to believe the person may be under 18, "
                "else false"
            )
        if basis is not AgeBasis.AGE_UNCERTAIN and self.reason_to_believe_under_18 is not None:
            problems.append(
                f"reason_to_believe_under_18 is only for basis age_uncertain, and basis is "
                f"{basis.value}: leave it out or set basis to age_uncertain"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ModernSlaveryEncounter(Model):
    """A body's encounter with a person who may be a victim of slavery or human trafficking.

    What decides whether MSA 2015 s.52 requires a notification and what is sent (decision-rules
    §2 M1-M5). The person is never named: their age is known only as its basis.
    """

    body: EncounteringBody = Field(
        description="The body that met the person: legal kind and first responder status."
    )
    nation: Nation = Field(
        description="Where the person was met: england, wales, scotland or northern_ireland."
    )
    encountered_on: CaseDate = Field(
        description="The date of the encounter. A date of birth gives the age on this date."
    )
    reasonable_grounds: StrictBool = Field(
        description="True when the body has reasonable grounds to believe the person may be a "
        "victim of slavery or human trafficking (MSA 2015 s.52(1))."
    )
    reasonable_grounds_rationale: FreeText = Field(
        min_length=1,
        max_length=10_000,
        description="Why the body has, or has not, reasonable grounds: the indicators seen. "
        "Recorded for the officer's decision; the rules never read it. No names.",
    )
    age: PersonAge = Field(description="How the person's age is known.")
    trafficking_suspected: StrictBool = Field(
        description="True when human trafficking, rather than another form of slavery, is "
        "suspected. Recorded only: the age presumption applies either way (decision-rules §2 "
        "M3, a reading)."
    )
    consent_outcome: ConsentOutcome | None = Field(
        default=None,
        description="For an adult: the outcome of the informed-consent discussion about an NRM "
        "referral (consents, declines, lacks_capacity or not_recorded). Not needed for a child "
        "or a presumed child, who is referred without consent.",
    )

    @model_validator(mode="after")
    def _born_before_the_encounter(self) -> Self:
        born = self.age.date_of_birth
        if born is not None and born > self.encountered_on:
            raise ValueError(
                f"age.date_of_birth is after encountered_on ({self.encountered_on}): correct "
                "the dates"
            )
        return self


class DutyToNotifyCase(Model):
    """An encounter as a CSP area's body records it for the duty to notify: what `cspflow check
    modern-slavery` reads.

    The area and the body's own reference form the case id, `ms-{area}-{reference}`, so neither
    may hold a name or anything else that identifies the person (MSA 2015 s.52(3)).
    """

    area: Slug = Field(
        description="Area id from the directory of the CSP whose body met the person, e.g. "
        "'amber-valley'."
    )
    reference: Reference = Field(
        description="The body's own reference for this encounter, e.g. 'AV-MS-2025-004'. It "
        "forms the case id, so it holds no name or other personal detail, and it is not a police "
        "crime, incident or occurrence number (an anonymous notification may not carry one). "
        "One reference is one encounter."
    )
    encounter: ModernSlaveryEncounter = Field(
        description="The encounter: the body, where and when, reasonable grounds, how the "
        "person's age is known and, for an adult, the outcome of the consent discussion."
    )


# --------------------------------------------------------------------------------------------
# The decision (pure rule output: decision-rules §2 M1-M5)
# --------------------------------------------------------------------------------------------


class DutySource(StrEnum):
    """Why the body acts under the duty to notify, if it does (decision-rules §2 M2)."""

    STATUTE = "statute"
    HOME_OFFICE_POLICY = "home_office_policy"
    NONE = "none"


class AgeTreatment(StrEnum):
    """How the person is treated: adult, child, or presumed child under s.51 (M3)."""

    ADULT = "adult"
    CHILD = "child"
    PRESUMED_CHILD = "presumed_child"


class NotifyRoute(StrEnum):
    """What is sent, and by which route (decision-rules §2 M4)."""

    NRM_REFERRAL_CHILD = "nrm_referral_child"
    NRM_REFERRAL_CONSENT = "nrm_referral_consent"
    DTN_ANONYMOUS = "dtn_anonymous"
    MCA_BEST_INTERESTS = "mca_best_interests"
    REFER_VIA_FIRST_RESPONDER = "refer_via_first_responder"
    NONE = "none"


class DetailsCondition(StrEnum):
    """What must be recorded before identifying details may be sent (M4, Mental Capacity Act)."""

    BEST_INTERESTS_DECISION_TO_REFER = "best_interests_decision_to_refer_recorded"


class DutyToNotifyFinding(Model):
    """One step of the decision: the rule applied, a stable code and the reason for people."""

    rule: str = Field(description="The decision rule applied, M1 to M5 (decision-rules §2).")
    code: str = Field(description="A stable code for machines, e.g. 'specified_authority'.")
    reason: str = Field(description="The finding in words, naming any reading applied.")


class DutyToNotifyDecision(Model):
    """Whether MSA 2015 s.52 requires a notification, how the person is treated and what is sent.

    The engine proposes; the officer decides. Identifying details are never allowed by default:
    `identifying_details_allowed` is true only when they may be sent now, and
    `identifying_details_allowed_once` names what must first be recorded when they may be sent
    later (an adult lacking capacity: a best-interests decision to refer).
    """

    specified: bool = Field(description="M1: the body is a specified authority (s.52(5)).")
    s52_paragraph: str | None = Field(
        description="M1: the paragraph of s.52(5) that specifies the body, 'a' to 'k'; None "
        "when it is not specified."
    )
    duty_applies: bool = Field(
        description="M2: specified, met in England or Wales, and reasonable grounds."
    )
    duty_source: DutySource = Field(
        description="M2: statute when the duty applies; home_office_policy for the Home Office "
        "when met in England or Wales with reasonable grounds; otherwise none."
    )
    age: int | None = Field(
        description="M3: the person's age on the encounter date, when a date of birth is given."
    )
    age_treatment: AgeTreatment = Field(description="M3: adult, child or presumed_child.")
    age_assessment_required: bool = Field(
        description="M3: the person is presumed a child (s.51) until an age assessment."
    )
    route: NotifyRoute = Field(description="M4: what is sent, and by which route.")
    identifying_details_allowed: bool = Field(
        description="M4: identifying details of the person may be sent now (s.52(3) protects "
        "adults only; an adult's details go only with consent)."
    )
    identifying_details_allowed_once: DetailsCondition | None = Field(
        description="M4: when identifying details are not allowed now but will be once this is "
        "recorded: best_interests_decision_to_refer_recorded for an adult lacking capacity."
    )
    adult_safeguarding_referral: bool = Field(
        description="M4: an adult safeguarding referral is required (an adult lacking capacity)."
    )
    children_safeguarding_referral: bool = Field(
        description="M5: a children's safeguarding referral is required (a child or presumed "
        "child, reasonable grounds, England or Wales, whoever the body is)."
    )
    reasons: tuple[str, ...] = Field(description="Every finding in words, in rule order.")
    findings: tuple[DutyToNotifyFinding, ...] = Field(
        description="The same findings with their rule and a stable code each."
    )
