"""Modern Slavery duty to notify: decision rules M1-M5 (MSA 2015 ss.51-52; decision-rules.md §2)."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.errors import InputError
from schemas.modern_slavery import (
    AgeTreatment,
    BodyKind,
    DetailsCondition,
    DutySource,
    DutyToNotifyDecision,
    ModernSlaveryEncounter,
    NotifyRoute,
)
from workflows.rules.ages import age_on
from workflows.rules.modern_slavery import (
    NON_DUTY_CONSENT_READING,
    NON_DUTY_LACKS_CAPACITY_READING,
    S52_5_PARAGRAPHS,
    TRAFFICKING_READING,
    decide_duty,
)

MET = date(2025, 6, 10)
ADULT_BORN = "1990-01-15"
RATIONALE = "Fictional indicators for a test: no documents, debt bondage, controlled movement."

# s.52(5), written out again here so that a change to the rules' data is caught.
SPECIFIED = {
    "chief_officer_of_police": "a",
    "btp": "b",
    "nca": "c",
    "county_council": "d",
    "county_borough_council": "e",
    "district_council": "f",
    "london_borough_council": "g",
    "greater_london_authority": "h",
    "common_council_city_of_london": "i",
    "council_isles_of_scilly": "j",
    "glaa": "k",
}
NOT_SPECIFIED = [
    "home_office",
    "police_and_crime_commissioner",
    "parish_or_town_council",
    "fire_and_rescue_authority",
    "nhs_trust",
    "school",
    "housing_association",
    "charity",
    "probation",
    "mod_police",
]
NON_DUTY = [kind for kind in NOT_SPECIFIED if kind != "home_office"]

ADULT: dict[str, Any] = {"basis": "date_of_birth", "date_of_birth": ADULT_BORN}
CHILD: dict[str, Any] = {"basis": "stated_child"}
PRESUMED: dict[str, Any] = {"basis": "age_uncertain", "reason_to_believe_under_18": True}
UNCERTAIN_ADULT: dict[str, Any] = {"basis": "age_uncertain", "reason_to_believe_under_18": False}


def born(day: str) -> dict[str, Any]:
    """A person's age given by their date of birth."""
    return {"basis": "date_of_birth", "date_of_birth": day}


def data(**changes: Any) -> dict[str, Any]:
    """Return an encounter's data: a district council (a first responder) in England meets an
    adult with reasonable grounds, trafficking suspected, who consents; changed by `changes`.

    `body` changes are merged into the default body rather than replacing it.
    """
    body = {"kind": "district_council", "first_responder": True}
    body.update(changes.pop("body", {}))
    fields: dict[str, Any] = {
        "body": body,
        "nation": "england",
        "encountered_on": MET.isoformat(),
        "reasonable_grounds": True,
        "reasonable_grounds_rationale": RATIONALE,
        "age": ADULT,
        "trafficking_suspected": True,
        "consent_outcome": "consents",
    }
    fields.update(changes)
    return fields


def encounter(**changes: Any) -> ModernSlaveryEncounter:
    """A valid encounter built from `data(**changes)`."""
    return ModernSlaveryEncounter.model_validate(data(**changes))


def decide(**changes: Any) -> DutyToNotifyDecision:
    """Decide the encounter built from `data(**changes)`."""
    return decide_duty(encounter(**changes))


def codes(decision: DutyToNotifyDecision) -> list[str]:
    """The stable codes of the decision's findings, in order."""
    return [f.code for f in decision.findings]


def text(decision: DutyToNotifyDecision) -> str:
    """Every reason of the decision, as one text."""
    return " ".join(decision.reasons)


# --------------------------------------------------------------------------------------------
# M1 Specified authority
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "letter"), SPECIFIED.items())
def test_each_specified_authority_gives_its_s52_5_paragraph(kind: str, letter: str) -> None:
    """M1: each of the eleven s.52(5) kinds is specified, with its paragraph letter named."""
    decision = decide(body={"kind": kind})
    assert decision.specified is True
    assert decision.s52_paragraph == letter
    assert decision.duty_applies is True
    assert decision.duty_source is DutySource.STATUTE
    assert f"s.52(5)({letter})" in decision.reasons[0]
    assert codes(decision)[0] == "specified_authority"


@pytest.mark.parametrize("kind", NON_DUTY)
def test_each_body_not_specified_has_no_duty(kind: str) -> None:
    """M1/M2: a body not in s.52(5) (other than the Home Office) has no letter and no duty."""
    decision = decide(body={"kind": kind})
    assert decision.specified is False
    assert decision.s52_paragraph is None
    assert decision.duty_applies is False
    assert decision.duty_source is DutySource.NONE
    assert codes(decision)[0] == "not_specified"
    assert "no_duty" in codes(decision)
    assert "the body is not specified" in text(decision)


def test_the_specified_list_is_data_covering_every_legal_kind_once() -> None:
    """M1: the data maps every legal kind: the eleven specified to 'a'-'k', the rest to None."""
    assert set(S52_5_PARAGRAPHS) == set(BodyKind)
    assert {k.value: v for k, v in S52_5_PARAGRAPHS.items() if v is not None} == SPECIFIED
    assert sorted(k.value for k, v in S52_5_PARAGRAPHS.items() if v is None) == sorted(
        NOT_SPECIFIED
    )
    assert {kind.value for kind in BodyKind} == set(SPECIFIED) | set(NOT_SPECIFIED)


def test_a_unitary_or_metropolitan_council_is_given_as_a_county_or_district_council() -> None:
    """M1: there is no 'unitary' or 'metropolitan' kind; the field says how to give them."""
    with pytest.raises(ValidationError):
        encounter(body={"kind": "unitary_council"})
    with pytest.raises(ValidationError):
        encounter(body={"kind": "metropolitan_borough_council"})
    described = ModernSlaveryEncounter.model_json_schema()["$defs"]["EncounteringBody"]
    words = described["properties"]["kind"]["description"]
    assert "unitary council is a county_council or a district_council" in words
    assert "metropolitan borough council is a district_council" in words


# --------------------------------------------------------------------------------------------
# M2 Duty applies, Home Office policy, nations, reasonable grounds
# --------------------------------------------------------------------------------------------


def test_the_home_office_acts_under_the_duty_by_policy() -> None:
    """M2: the Home Office, in England or Wales with reasonable grounds: policy, not statute."""
    decision = decide(body={"kind": "home_office"}, consent_outcome="declines")
    assert decision.specified is False
    assert decision.s52_paragraph is None
    assert decision.duty_applies is False
    assert decision.duty_source is DutySource.HOME_OFFICE_POLICY
    assert codes(decision)[:2] == ["not_specified_complies_by_policy", "duty_by_home_office_policy"]
    assert decision.route is NotifyRoute.DTN_ANONYMOUS


def test_the_home_office_routes_a_child_and_an_adult_lacking_capacity_as_under_duty() -> None:
    """M4: a body acting by policy routes as one acting under the duty."""
    child = decide(body={"kind": "home_office", "first_responder": False}, age=CHILD)
    assert child.route is NotifyRoute.NRM_REFERRAL_CHILD
    mca = decide(body={"kind": "home_office"}, consent_outcome="lacks_capacity")
    assert mca.route is NotifyRoute.MCA_BEST_INTERESTS
    assert NON_DUTY_LACKS_CAPACITY_READING not in text(mca)


def test_the_home_office_with_consent_not_recorded_is_consent_outcome_missing() -> None:
    """M4: an adult met by a body acting by policy needs a consent outcome too."""
    with pytest.raises(InputError) as raised:
        decide(body={"kind": "home_office"}, consent_outcome="not_recorded")
    assert raised.value.code == "consent_outcome_missing"
    assert NON_DUTY_CONSENT_READING not in str(raised.value)


@pytest.mark.parametrize(
    ("nation", "grounds"), [("scotland", True), ("england", False), ("wales", False)]
)
def test_the_home_office_outside_the_conditions_has_no_duty_source(
    nation: str, grounds: bool
) -> None:
    """M2: the Home Office's policy covers only England or Wales with reasonable grounds."""
    decision = decide(body={"kind": "home_office"}, nation=nation, reasonable_grounds=grounds)
    assert decision.duty_source is DutySource.NONE
    assert decision.route is NotifyRoute.NONE


def test_the_duty_applies_in_wales() -> None:
    """M2: s.52 extends to Wales: a county borough council there is under the duty."""
    decision = decide(nation="wales", body={"kind": "county_borough_council"})
    assert decision.duty_applies is True
    assert decision.route is NotifyRoute.NRM_REFERRAL_CONSENT


@pytest.mark.parametrize("nation", ["scotland", "northern_ireland"])
@pytest.mark.parametrize("age", [ADULT, CHILD, PRESUMED])
def test_in_scotland_or_northern_ireland_nothing_is_sent(nation: str, age: dict[str, Any]) -> None:
    """M2/M4/M5: outside England and Wales no duty, no route and no referral, even for a child."""
    decision = decide(nation=nation, age=age, body={"kind": "chief_officer_of_police"})
    assert decision.specified is True
    assert decision.s52_paragraph == "a"
    assert decision.duty_applies is False
    assert decision.duty_source is DutySource.NONE
    assert decision.route is NotifyRoute.NONE
    assert decision.identifying_details_allowed is False
    assert decision.children_safeguarding_referral is False
    assert decision.adult_safeguarding_referral is False
    assert {"outside_england_and_wales", "route_none_outside_england_and_wales"} <= set(
        codes(decision)
    )
    assert "own legislation" in text(decision)


@pytest.mark.parametrize("age", [ADULT, CHILD, PRESUMED])
@pytest.mark.parametrize("consent", [None, "not_recorded", "declines", "lacks_capacity"])
def test_without_reasonable_grounds_nothing_is_sent(age: dict[str, Any], consent: str) -> None:
    """M2/M4/M5: no reasonable grounds: no duty, nothing sent, no referral and no error."""
    decision = decide(reasonable_grounds=False, age=age, consent_outcome=consent)
    assert decision.duty_applies is False
    assert decision.route is NotifyRoute.NONE
    assert decision.identifying_details_allowed is False
    assert decision.children_safeguarding_referral is False
    assert decision.adult_safeguarding_referral is False
    assert {"no_reasonable_grounds", "route_none_no_reasonable_grounds"} <= set(codes(decision))
    assert "there are no reasonable grounds" in text(decision)


def test_the_rationale_is_never_read_or_repeated() -> None:
    """M2: the decision turns on the yes/no; the rationale text never appears in the reasons."""
    one = decide(reasonable_grounds_rationale="Some indicators.")
    other = decide(reasonable_grounds_rationale=RATIONALE)
    assert one == other
    assert "indicators" not in text(one)


# --------------------------------------------------------------------------------------------
# M3 Age treatment
# --------------------------------------------------------------------------------------------


def test_a_person_is_an_adult_on_their_18th_birthday() -> None:
    """M3: born 10 June 2007, on 10 June 2025 the person is 18: an adult."""
    decision = decide(age=born("2007-06-10"))
    assert decision.age == 18
    assert decision.age_treatment is AgeTreatment.ADULT
    assert decision.route is NotifyRoute.NRM_REFERRAL_CONSENT
    assert "adult_by_date_of_birth" in codes(decision)


def test_a_person_is_a_child_the_day_before_their_18th_birthday() -> None:
    """M3: born 11 June 2007, on 10 June 2025 the person is 17: a child."""
    decision = decide(age=born("2007-06-11"), consent_outcome=None)
    assert decision.age == 17
    assert decision.age_treatment is AgeTreatment.CHILD
    assert decision.route is NotifyRoute.NRM_REFERRAL_CHILD
    assert decision.children_safeguarding_referral is True
    assert "child_by_date_of_birth" in codes(decision)


def test_a_29_february_birth_is_17_on_28_february_of_a_common_year_by_the_reading() -> None:
    """M3 (reading, §0): born 29 Feb 2008, on 28 Feb 2026 the person is 17, the reading named."""
    decision = decide(encountered_on="2026-02-28", age=born("2008-02-29"), consent_outcome=None)
    assert decision.age == 17
    assert decision.age_treatment is AgeTreatment.CHILD
    reason = next(f.reason for f in decision.findings if f.rule == "M3")
    assert "reading" in reason and "29 February" in reason


def test_a_29_february_birth_is_18_on_1_march_of_a_common_year() -> None:
    """M3: born 29 Feb 2008, on 1 Mar 2026 the person is 18; no reading was needed."""
    decision = decide(encountered_on="2026-03-01", age=born("2008-02-29"))
    assert decision.age == 18
    assert decision.age_treatment is AgeTreatment.ADULT
    reason = next(f.reason for f in decision.findings if f.rule == "M3")
    assert "reading" not in reason


def test_a_29_february_birth_is_a_year_older_on_29_february_of_a_leap_year() -> None:
    """M3: born 29 Feb 2008, the person is 15 on 28 Feb 2024 and 16 on 29 Feb 2024."""
    before = decide(encountered_on="2024-02-28", age=born("2008-02-29"))
    on = decide(encountered_on="2024-02-29", age=born("2008-02-29"))
    assert (before.age, on.age) == (15, 16)


def test_a_stated_child_is_a_child_referred_without_consent() -> None:
    """M3/M4/M5: a stated child: NRM child referral, details allowed, children's referral."""
    decision = decide(age=CHILD, consent_outcome=None)
    assert decision.age is None
    assert decision.age_treatment is AgeTreatment.CHILD
    assert decision.age_assessment_required is False
    assert decision.route is NotifyRoute.NRM_REFERRAL_CHILD
    assert decision.identifying_details_allowed is True
    assert decision.children_safeguarding_referral is True
    assert decision.adult_safeguarding_referral is False
    assert "stated_child" in codes(decision)


@pytest.mark.parametrize("trafficking", [True, False])
def test_age_uncertain_with_reason_to_believe_under_18_is_a_presumed_child(
    trafficking: bool,
) -> None:
    """M3 (s.51): presumed child with an age assessment, trafficking suspected or not."""
    decision = decide(age=PRESUMED, trafficking_suspected=trafficking, consent_outcome="declines")
    assert decision.age_treatment is AgeTreatment.PRESUMED_CHILD
    assert decision.age_assessment_required is True
    assert decision.route is NotifyRoute.NRM_REFERRAL_CHILD
    assert decision.identifying_details_allowed is True
    assert decision.children_safeguarding_referral is True
    assert "presumed_child" in codes(decision)
    assert "consent_not_needed_for_a_child" in codes(decision)


@pytest.mark.parametrize(
    ("consent", "noted"),
    [
        (None, False),
        ("not_recorded", False),
        ("consents", True),
        ("declines", True),
        ("lacks_capacity", True),
    ],
)
def test_a_childs_consent_outcome_never_changes_the_route(consent: str | None, noted: bool) -> None:
    """M4: a child needs no consent: any outcome, or none, gives the same referral; one that
    was recorded is noted as deciding nothing, and a missing one is no error."""
    decision = decide(age=CHILD, consent_outcome=consent)
    assert decision.route is NotifyRoute.NRM_REFERRAL_CHILD
    assert decision.identifying_details_allowed is True
    assert decision.adult_safeguarding_referral is False
    assert ("consent_not_needed_for_a_child" in codes(decision)) is noted


def test_the_trafficking_reading_is_named_only_where_it_decides() -> None:
    """M3 (reading): without suspected trafficking the presumption rests on the named reading."""
    without = decide(age=PRESUMED, trafficking_suspected=False)
    with_trafficking = decide(age=PRESUMED, trafficking_suspected=True)
    assert TRAFFICKING_READING in text(without)
    assert "reading" not in text(with_trafficking)


def test_age_uncertain_without_reason_to_believe_under_18_is_an_adult() -> None:
    """M3: age uncertain without reason to believe under 18: an adult, no age assessment."""
    decision = decide(age=UNCERTAIN_ADULT, consent_outcome="declines")
    assert decision.age is None
    assert decision.age_treatment is AgeTreatment.ADULT
    assert decision.age_assessment_required is False
    assert decision.route is NotifyRoute.DTN_ANONYMOUS
    assert decision.children_safeguarding_referral is False
    assert "adult_age_uncertain" in codes(decision)


# --------------------------------------------------------------------------------------------
# M4 Route: a body under the duty, each consent outcome
# --------------------------------------------------------------------------------------------


def test_an_adult_who_consents_is_referred_with_identifying_details() -> None:
    """M4: duty, adult consents: NRM referral, identifying details allowed."""
    decision = decide(consent_outcome="consents")
    assert decision.route is NotifyRoute.NRM_REFERRAL_CONSENT
    assert decision.identifying_details_allowed is True
    assert decision.identifying_details_allowed_once is None
    assert decision.adult_safeguarding_referral is False
    assert decision.children_safeguarding_referral is False


def test_an_adult_who_declines_gets_an_anonymous_notification() -> None:
    """M4: duty, adult declines: anonymous Duty to Notify report, no identifying details."""
    decision = decide(consent_outcome="declines")
    assert decision.route is NotifyRoute.DTN_ANONYMOUS
    assert decision.identifying_details_allowed is False
    assert decision.identifying_details_allowed_once is None
    assert decision.adult_safeguarding_referral is False
    assert "s.52(3)" in text(decision)


def test_an_adult_lacking_capacity_goes_to_a_best_interests_decision() -> None:
    """M4: duty, adult lacks capacity: MCA best interests, details only once a decision to refer
    is recorded, and an adult safeguarding referral."""
    decision = decide(consent_outcome="lacks_capacity")
    assert decision.route is NotifyRoute.MCA_BEST_INTERESTS
    assert decision.identifying_details_allowed is False
    assert (
        decision.identifying_details_allowed_once
        is DetailsCondition.BEST_INTERESTS_DECISION_TO_REFER
    )
    assert decision.model_dump(mode="json")["identifying_details_allowed_once"] == (
        "best_interests_decision_to_refer_recorded"
    )
    assert decision.adult_safeguarding_referral is True
    assert decision.children_safeguarding_referral is False


@pytest.mark.parametrize("consent", ["not_recorded", None])
def test_an_adult_under_the_duty_without_a_consent_outcome_is_an_input_error(
    consent: str | None,
) -> None:
    """M4: duty, adult, consent not recorded (or not given): `consent_outcome_missing`."""
    with pytest.raises(InputError) as raised:
        decide(consent_outcome=consent)
    assert raised.value.code == "consent_outcome_missing"
    assert raised.value.fields == ("consent_outcome",)
    message = str(raised.value)
    assert "consents, declines or lacks_capacity" in message
    assert ADULT_BORN not in message
    assert raised.value.as_json()["error"] == {
        "code": "consent_outcome_missing",
        "fields": ["consent_outcome"],
        "message": message,
    }


@pytest.mark.parametrize("first_responder", [True, False])
def test_a_duty_body_refers_a_child_itself_whether_or_not_a_first_responder(
    first_responder: bool,
) -> None:
    """M4: under the duty a child goes to the NRM; a body that is not a first responder is told
    the referral goes through one."""
    decision = decide(
        body={"kind": "greater_london_authority", "first_responder": first_responder}, age=CHILD
    )
    assert decision.route is NotifyRoute.NRM_REFERRAL_CHILD
    assert ("referral_through_first_responder" in codes(decision)) is not first_responder


# --------------------------------------------------------------------------------------------
# M4 Route: a body not under the duty; first responder or not
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_responder", "expected"),
    [(True, NotifyRoute.NRM_REFERRAL_CHILD), (False, NotifyRoute.REFER_VIA_FIRST_RESPONDER)],
)
@pytest.mark.parametrize("age", [CHILD, PRESUMED])
def test_a_non_duty_body_refers_a_child_itself_only_as_a_first_responder(
    first_responder: bool, expected: NotifyRoute, age: dict[str, Any]
) -> None:
    """M4/M5: no duty, child or presumed child: NRM referral as a first responder, else via one;
    a children's safeguarding referral either way."""
    decision = decide(body={"kind": "nhs_trust", "first_responder": first_responder}, age=age)
    assert decision.duty_source is DutySource.NONE
    assert decision.route is expected
    assert decision.identifying_details_allowed is True
    assert decision.children_safeguarding_referral is True


@pytest.mark.parametrize(
    ("first_responder", "expected"),
    [(True, NotifyRoute.NRM_REFERRAL_CONSENT), (False, NotifyRoute.REFER_VIA_FIRST_RESPONDER)],
)
def test_a_non_duty_body_refers_a_consenting_adult_itself_only_as_a_first_responder(
    first_responder: bool, expected: NotifyRoute
) -> None:
    """M4: no duty, adult consents: NRM referral as a first responder, else via one."""
    decision = decide(body={"kind": "charity", "first_responder": first_responder})
    assert decision.route is expected
    assert decision.identifying_details_allowed is True
    assert decision.children_safeguarding_referral is False


@pytest.mark.parametrize("first_responder", [True, False])
def test_a_non_duty_body_sends_nothing_for_an_adult_who_declines(first_responder: bool) -> None:
    """M4: no duty, adult declines: nothing is sent, and no anonymous report either."""
    decision = decide(
        body={"kind": "school", "first_responder": first_responder}, consent_outcome="declines"
    )
    assert decision.route is NotifyRoute.NONE
    assert decision.identifying_details_allowed is False
    assert "route_none_declined" in codes(decision)


@pytest.mark.parametrize("first_responder", [True, False])
def test_a_non_duty_body_with_an_adult_lacking_capacity_follows_the_mca_by_the_reading(
    first_responder: bool,
) -> None:
    """M4 (reading): no duty, adult lacks capacity: the same MCA route, the reading named."""
    decision = decide(
        body={"kind": "housing_association", "first_responder": first_responder},
        consent_outcome="lacks_capacity",
    )
    assert decision.route is NotifyRoute.MCA_BEST_INTERESTS
    assert decision.identifying_details_allowed is False
    assert decision.identifying_details_allowed_once is not None
    assert decision.adult_safeguarding_referral is True
    assert NON_DUTY_LACKS_CAPACITY_READING in text(decision)
    assert ("referral_through_first_responder" in codes(decision)) is not first_responder


def test_a_non_duty_body_with_consent_not_recorded_is_an_input_error_by_the_reading() -> None:
    """M4 (reading): no duty, adult, consent not recorded: the same error, the reading named."""
    with pytest.raises(InputError) as raised:
        decide(body={"kind": "probation"}, consent_outcome="not_recorded")
    assert raised.value.code == "consent_outcome_missing"
    assert NON_DUTY_CONSENT_READING in str(raised.value)


# --------------------------------------------------------------------------------------------
# M5 Children's safeguarding referral for every body
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*SPECIFIED, *NOT_SPECIFIED])
@pytest.mark.parametrize("age", [CHILD, PRESUMED])
def test_every_body_makes_a_childrens_safeguarding_referral(kind: str, age: dict[str, Any]) -> None:
    """M5: every child or presumed child with reasonable grounds in England: whoever the body."""
    decision = decide(body={"kind": kind}, age=age)
    assert decision.children_safeguarding_referral is True
    assert codes(decision)[-1] == "children_safeguarding_referral"


def test_an_adult_gets_no_childrens_safeguarding_referral_finding() -> None:
    """M5: an adult has no children's safeguarding referral and no M5 finding."""
    decision = decide()
    assert decision.children_safeguarding_referral is False
    assert all(f.rule != "M5" for f in decision.findings)


# --------------------------------------------------------------------------------------------
# Reasons: roles, never personal data
# --------------------------------------------------------------------------------------------


def test_reasons_name_roles_and_never_the_date_of_birth() -> None:
    """Privacy: the reasons name the body's kind and the age, never the date of birth."""
    decision = decide(age=born("2007-06-11"), consent_outcome=None)
    assert "The body is a district council" in decision.reasons[0]
    assert "2007" not in text(decision)
    assert "The person was 17" in text(decision)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

ages = st.one_of(
    st.sampled_from([CHILD, PRESUMED, UNCERTAIN_ADULT]),
    st.dates(min_value=date(1930, 1, 1), max_value=MET).map(lambda d: born(d.isoformat())),
)


IN_SCOPE_NATIONS = ["england", "wales"]
NATIONS = [*IN_SCOPE_NATIONS, "scotland", "northern_ireland"]


@st.composite
def encounters(draw: st.DrawFn, *, in_scope: bool = False) -> dict[str, Any]:
    """An encounter's data: any body, age and consent outcome; any nation and grounds, or with
    `in_scope` England or Wales with reasonable grounds (where every route can be reached)."""
    return data(
        body={
            "kind": draw(st.sampled_from(list(BodyKind))).value,
            "first_responder": draw(st.booleans()),
        },
        nation=draw(st.sampled_from(IN_SCOPE_NATIONS if in_scope else NATIONS)),
        reasonable_grounds=True if in_scope else draw(st.booleans()),
        age=draw(ages),
        trafficking_suspected=draw(st.booleans()),
        consent_outcome=draw(
            st.sampled_from([None, "consents", "declines", "lacks_capacity", "not_recorded"])
        ),
    )


def decide_or_none(fields: dict[str, Any]) -> DutyToNotifyDecision | None:
    """The decision, or None when the rules refuse it as `consent_outcome_missing`."""
    try:
        return decide_duty(ModernSlaveryEncounter.model_validate(fields))
    except InputError as error:
        assert error.code == "consent_outcome_missing"
        return None


@given(fields=encounters())
def test_nothing_is_sent_without_reasonable_grounds_in_england_or_wales(
    fields: dict[str, Any],
) -> None:
    """M2/M4/M5: without reasonable grounds, or outside England and Wales, nothing is sent,
    nothing is refused and the duty never applies."""
    decision = decide_or_none(fields)
    in_scope = fields["reasonable_grounds"] and fields["nation"] in ("england", "wales")
    if in_scope:
        return
    assert decision is not None
    assert decision.duty_applies is False
    assert decision.duty_source is DutySource.NONE
    assert decision.route is NotifyRoute.NONE
    assert decision.identifying_details_allowed is False
    assert decision.identifying_details_allowed_once is None
    assert decision.children_safeguarding_referral is False
    assert decision.adult_safeguarding_referral is False


@given(fields=encounters())
def test_the_duty_applies_exactly_when_specified_in_england_or_wales_with_grounds(
    fields: dict[str, Any],
) -> None:
    """M2: duty_applies iff specified and England or Wales and reasonable grounds."""
    decision = decide_or_none(fields)
    if decision is None:
        return
    specified = fields["body"]["kind"] in SPECIFIED
    in_scope = fields["reasonable_grounds"] and fields["nation"] in ("england", "wales")
    assert decision.specified == specified
    assert decision.duty_applies == (specified and in_scope)
    assert (decision.duty_source is DutySource.HOME_OFFICE_POLICY) == (
        fields["body"]["kind"] == "home_office" and in_scope
    )


@given(fields=encounters(in_scope=True))
def test_identifying_details_are_never_allowed_on_an_anonymous_notification(
    fields: dict[str, Any],
) -> None:
    """M4 (s.52(3)): dtn_anonymous never allows identifying details, now or later; an adult's
    details go only with consent."""
    decision = decide_or_none(fields)
    if decision is None:
        return
    if decision.route is NotifyRoute.DTN_ANONYMOUS:
        assert decision.identifying_details_allowed is False
        assert decision.identifying_details_allowed_once is None
    if decision.age_treatment is AgeTreatment.ADULT and decision.identifying_details_allowed:
        assert fields["consent_outcome"] == "consents"


@given(fields=encounters(in_scope=True))
def test_every_child_or_presumed_child_in_scope_gets_a_childrens_referral(
    fields: dict[str, Any],
) -> None:
    """M5: a child or presumed child with reasonable grounds in England or Wales always gets a
    children's safeguarding referral and an NRM route, never an error."""
    decision = decide_or_none(fields)
    age = fields["age"]
    child_like = age in (CHILD, PRESUMED) or (
        age["basis"] == "date_of_birth"
        and age_on(date.fromisoformat(age["date_of_birth"]), MET) < 18
    )
    if child_like:
        assert decision is not None
        assert decision.children_safeguarding_referral is True
        assert decision.route in (
            NotifyRoute.NRM_REFERRAL_CHILD,
            NotifyRoute.REFER_VIA_FIRST_RESPONDER,
        )
    elif decision is not None:
        assert decision.children_safeguarding_referral is False


@given(fields=encounters())
def test_the_route_never_depends_on_whether_trafficking_is_suspected(
    fields: dict[str, Any],
) -> None:
    """M3 (reading): flipping trafficking_suspected changes no outcome, only the reasons."""
    flipped = {**fields, "trafficking_suspected": not fields["trafficking_suspected"]}
    one, other = decide_or_none(fields), decide_or_none(flipped)
    assert (one is None) == (other is None)
    if one is None or other is None:
        return
    ignore = {"reasons", "findings"}
    assert one.model_dump(exclude=ignore) == other.model_dump(exclude=ignore)


@given(fields=encounters(in_scope=True))
def test_the_adult_safeguarding_referral_is_exactly_the_best_interests_route(
    fields: dict[str, Any],
) -> None:
    """M4: an adult safeguarding referral iff an adult lacking capacity is in scope; the reasons
    are the findings' reasons in rule order."""
    decision = decide_or_none(fields)
    if decision is None:
        return
    assert decision.adult_safeguarding_referral == (
        decision.route is NotifyRoute.MCA_BEST_INTERESTS
    )
    assert decision.reasons == tuple(f.reason for f in decision.findings)
    rules = [f.rule for f in decision.findings]
    assert rules == sorted(rules)


# --------------------------------------------------------------------------------------------
# The schema: strict booleans, exactly one age basis, extra fields, dates
# --------------------------------------------------------------------------------------------


def test_the_json_schema_gives_every_yes_no_field_as_boolean() -> None:
    """Schema: booleans are JSON booleans, so forms and machine callers send true or false."""
    schema = ModernSlaveryEncounter.model_json_schema()
    defs = schema["$defs"]
    assert schema["properties"]["reasonable_grounds"]["type"] == "boolean"
    assert schema["properties"]["trafficking_suspected"]["type"] == "boolean"
    assert defs["EncounteringBody"]["properties"]["first_responder"]["type"] == "boolean"
    assert {"type": "boolean"} in defs["PersonAge"]["properties"]["reason_to_believe_under_18"][
        "anyOf"
    ]


@pytest.mark.parametrize("value", ["yes", 1, "true", 0, "no", "1"])
@pytest.mark.parametrize(
    ("path", "age"),
    [
        (("reasonable_grounds",), ADULT),
        (("trafficking_suspected",), ADULT),
        (("body", "first_responder"), ADULT),
        (("age", "reason_to_believe_under_18"), PRESUMED),
    ],
)
def test_a_yes_no_field_refuses_anything_but_true_or_false(
    value: object, path: tuple[str, ...], age: dict[str, Any]
) -> None:
    """Schema: "yes", 1 or "true" where a boolean is due is refused, naming the field."""
    fields = copy.deepcopy(data(age=age))
    holder: Any = fields
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = value
    with pytest.raises(ValidationError) as raised:
        ModernSlaveryEncounter.model_validate(fields)
    assert [e["loc"] for e in raised.value.errors()] == [path]


@pytest.mark.parametrize("where", [(), ("body",), ("age",)], ids=["encounter", "body", "age"])
def test_an_unknown_field_is_refused(where: tuple[str, ...]) -> None:
    """Schema: extra fields are forbidden at every level, so a typo is named, not dropped."""
    fields = copy.deepcopy(data())
    holder: Any = fields
    for part in where:
        holder = holder[part]
    holder["name"] = "Fictional Person"
    with pytest.raises(ValidationError) as raised:
        ModernSlaveryEncounter.model_validate(fields)
    assert [e["loc"] for e in raised.value.errors()] == [(*where, "name")]


@pytest.mark.parametrize(
    ("age", "message"),
    [
        ({"basis": "date_of_birth"}, "date_of_birth is required"),
        ({"basis": "stated_child", "date_of_birth": ADULT_BORN}, "date_of_birth is only for"),
        ({"basis": "age_uncertain"}, "reason_to_believe_under_18 is required"),
        (
            {
                "basis": "age_uncertain",
                "reason_to_believe_under_18": True,
                "date_of_birth": "2010-01-01",
            },
            "date_of_birth is only for",
        ),
        (
            {"basis": "stated_child", "reason_to_believe_under_18": False},
            "reason_to_believe_under_18 is only for",
        ),
        ({"date_of_birth": ADULT_BORN}, "basis"),
    ],
)
def test_the_age_is_given_exactly_one_way(age: dict[str, Any], message: str) -> None:
    """Schema: a basis, and only what that basis needs: never two ways at once, never none."""
    with pytest.raises(ValidationError, match=message):
        encounter(age=age)


@pytest.mark.parametrize(
    ("field", "value"),
    [("nation", "great_britain"), ("consent_outcome", "maybe"), ("age", {"basis": "guessed"})],
)
def test_values_outside_the_enums_are_refused(field: str, value: object) -> None:
    """Schema: nation, consent outcome and age basis take only their listed values."""
    with pytest.raises(ValidationError):
        encounter(**{field: value})


def test_a_birth_after_the_encounter_is_refused() -> None:
    """Schema: a date of birth after the encounter date is bad input, not an age."""
    with pytest.raises(ValidationError, match=r"age\.date_of_birth is after encountered_on"):
        encounter(age=born("2025-06-11"))


def test_an_empty_rationale_is_refused() -> None:
    """Schema: reasonable grounds are recorded with their rationale, yes or no."""
    with pytest.raises(ValidationError):
        encounter(reasonable_grounds_rationale="  ")
