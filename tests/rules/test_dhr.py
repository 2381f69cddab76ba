"""DHR screening: decision rules D1-D6 (DVCVA 2004 s.9(1); decision-rules.md §1)."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.dhr import DhrNotification, DhrPolicy, DhrRoute, DhrScreening, Limb
from schemas.errors import InputError
from workflows.rules.deadlines import end_of_period
from workflows.rules.dhr import decision_due, screen_notification

NOTIFIED = date(2025, 3, 15)
DIED = date(2025, 3, 10)

PARTNER: dict[str, Any] = {"pseudonym": "Kit", "relationship": "current_intimate_partner"}
FORMER: dict[str, Any] = {"pseudonym": "Kit", "relationship": "former_intimate_partner"}
LODGER: dict[str, Any] = {"pseudonym": "Lee", "relationship": "household_member"}
NEIGHBOUR: dict[str, Any] = {"pseudonym": "Sol", "relationship": "other"}


def relative(kind: str) -> dict[str, Any]:
    """A suspected perpetrator who is a relative of the given kind."""
    return {"pseudonym": "Ash", "relationship": "relative", "relative_kind": kind}


def data(**changes: Any) -> dict[str, Any]:
    """Return a notification's data: a homicide of a 34-year-old by a current partner, changed.

    `victim` changes are merged into the default victim rather than replacing it.
    """
    victim = {"pseudonym": "Robin", "age_at_death": 34, "care_and_support_needs": False}
    victim.update(changes.pop("victim", {}))
    fields: dict[str, Any] = {
        "area": "amber-valley",
        "notification_reference": "AV-DHR-1",
        "notified_on": NOTIFIED.isoformat(),
        "notified_by": {"agency": "derbyshire-police", "in_writing": True},
        "victim": victim,
        "date_of_death": DIED.isoformat(),
        "cause": "homicide",
        "domestic_abuse_concern": True,
        "perpetrators": [PARTNER],
        "circumstances": "Fictional circumstances for a test.",
    }
    fields.update(changes)
    return fields


def notification(**changes: Any) -> DhrNotification:
    """A valid notification built from `data(**changes)`."""
    return DhrNotification.model_validate(data(**changes))


def screen(**changes: Any) -> DhrScreening:
    """Screen the notification built from `data(**changes)`."""
    return screen_notification(notification(**changes))


def codes(screening: DhrScreening) -> list[str]:
    """The stable codes of the screening's findings, in order."""
    return [f.code for f in screening.findings]


# --------------------------------------------------------------------------------------------
# D1 Age
# --------------------------------------------------------------------------------------------


def test_a_victim_aged_16_on_the_day_of_death_is_in_scope() -> None:
    """D1: a victim whose 16th birthday is the day of death is aged 16 or over."""
    screening = screen(victim={"age_at_death": None, "date_of_birth": "2009-03-10"})
    assert screening.age == 16
    assert screening.aged_16_or_over is True
    assert screening.review_required


def test_a_victim_a_day_short_of_16_is_not_in_scope() -> None:
    """D1: a victim who would have turned 16 the day after the death was 15."""
    screening = screen(victim={"age_at_death": None, "date_of_birth": "2009-03-11"})
    assert screening.age == 15
    assert screening.aged_16_or_over is False
    assert not screening.review_required


def test_a_29_february_birth_is_17_on_28_february_of_a_common_year_by_the_reading() -> None:
    """D1 (reading): born 29 Feb 2008, on 28 Feb 2026 the victim was 17, named in the reason."""
    screening = screen(
        notified_on="2026-03-02",
        date_of_death="2026-02-28",
        victim={
            "age_at_death": None,
            "date_of_birth": "2008-02-29",
            "care_and_support_needs": True,
        },
    )
    assert screening.age == 17
    assert screening.consider_joint == (DhrRoute.CSPR,)
    assert "reading" in screening.reasons[0]
    assert "29 February" in screening.reasons[0]


def test_a_29_february_birth_is_18_on_1_march_of_a_common_year() -> None:
    """D1: born 29 Feb 2008, on 1 Mar 2026 the victim was 18; no reading was needed."""
    screening = screen(
        notified_on="2026-03-02",
        date_of_death="2026-03-01",
        victim={
            "age_at_death": None,
            "date_of_birth": "2008-02-29",
            "care_and_support_needs": True,
        },
    )
    assert screening.age == 18
    assert screening.consider_joint == (DhrRoute.SAR,)
    assert "reading" not in screening.reasons[0]


def test_a_29_february_birth_turns_16_on_29_february_of_a_leap_year() -> None:
    """D1: born 29 Feb 2008, the victim was 15 on 28 Feb 2024 and 16 on 29 Feb 2024."""
    before = screen(
        notified_on="2024-03-01",
        date_of_death="2024-02-28",
        victim={"age_at_death": None, "date_of_birth": "2008-02-29"},
    )
    on = screen(
        notified_on="2024-03-01",
        date_of_death="2024-02-29",
        victim={"age_at_death": None, "date_of_birth": "2008-02-29"},
    )
    assert (before.age, before.review_required) == (15, False)
    assert (on.age, on.review_required) == (16, True)


def test_only_under_16_known_gives_no_age_and_not_16_or_over() -> None:
    """D1: the under-16 flag alone is enough: no age, not aged 16 or over."""
    screening = screen(victim={"age_at_death": None, "under_16": True})
    assert screening.age is None
    assert screening.aged_16_or_over is False
    assert codes(screening)[0] == "under_16"


def test_age_sources_that_agree_are_accepted() -> None:
    """D1: a date of birth, age at death and under-16 flag that agree give one age."""
    screening = screen(
        victim={"date_of_birth": "1990-06-01", "age_at_death": 34, "under_16": False}
    )
    assert screening.age == 34


def test_date_of_birth_and_age_at_death_that_disagree_are_inconsistent_age() -> None:
    """Errors: a date of birth giving 34 and an age at death of 35 is `inconsistent_age`."""
    with pytest.raises(InputError) as raised:
        screen(victim={"date_of_birth": "1990-06-01", "age_at_death": 35})
    assert raised.value.code == "inconsistent_age"
    assert raised.value.fields == ("victim.date_of_birth", "victim.age_at_death")
    assert "34" in str(raised.value) and "35" in str(raised.value)
    assert "1990" not in str(raised.value)


def test_an_under_16_flag_against_an_adult_age_is_inconsistent_age() -> None:
    """Errors: under_16 true with an age at death of 34 names both fields."""
    with pytest.raises(InputError) as raised:
        screen(victim={"age_at_death": 34, "under_16": True})
    assert raised.value.code == "inconsistent_age"
    assert raised.value.fields == ("victim.age_at_death", "victim.under_16")


def test_under_16_false_against_a_child_date_of_birth_is_inconsistent_age() -> None:
    """Errors: under_16 false with a date of birth giving 12 names both fields."""
    with pytest.raises(InputError) as raised:
        screen(victim={"age_at_death": None, "date_of_birth": "2012-06-01", "under_16": False})
    assert raised.value.code == "inconsistent_age"
    assert raised.value.fields == ("victim.date_of_birth", "victim.under_16")


def test_no_age_source_is_victim_age_missing() -> None:
    """Errors: no date of birth, age at death or under-16 flag is `victim_age_missing`."""
    with pytest.raises(InputError) as raised:
        screen(victim={"age_at_death": None})
    assert raised.value.code == "victim_age_missing"
    assert raised.value.fields == (
        "victim.date_of_birth",
        "victim.age_at_death",
        "victim.under_16",
    )
    error = raised.value.as_json()["error"]
    assert isinstance(error, dict)
    assert error["code"] == "victim_age_missing"


def test_under_16_false_alone_is_victim_age_missing() -> None:
    """Errors (reading): 'not under 16' alone cannot place the victim as 16-17 or 18+."""
    with pytest.raises(InputError) as raised:
        screen(victim={"age_at_death": None, "under_16": False})
    assert raised.value.code == "victim_age_missing"


# --------------------------------------------------------------------------------------------
# D2 Limbs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("perpetrator", [PARTNER, FORMER])
def test_a_current_or_former_intimate_partner_meets_limb_a(perpetrator: dict[str, Any]) -> None:
    """D2: a current or former intimate partner (no time limit) meets limb (a)."""
    screening = screen(perpetrators=[perpetrator])
    assert screening.limbs_met == (Limb.A,)
    assert "limb_a_intimate_partner" in codes(screening)


def test_a_blood_relative_meets_limb_a_without_a_reading() -> None:
    """D2: a blood relative meets limb (a) on the statute's words alone."""
    screening = screen(perpetrators=[relative("blood")])
    assert screening.limbs_met == (Limb.A,)
    assert "reading" not in screening.reasons[1]


@pytest.mark.parametrize(
    "kind", ["marriage_or_civil_partnership", "step", "adoptive", "former_in_law"]
)
def test_in_laws_step_adoptive_and_former_in_laws_meet_limb_a_by_the_named_reading(
    kind: str,
) -> None:
    """D2 (reading): every other relative kind meets limb (a), naming FLA 1996 s.63(1)."""
    screening = screen(perpetrators=[relative(kind)])
    assert screening.limbs_met == (Limb.A,)
    assert screening.review_required
    reason = screening.reasons[1]
    assert "reading" in reason and "s.63(1)" in reason


def test_a_household_member_meets_limb_b() -> None:
    """D2: a member of the same household (a lodger, a live-in carer) meets limb (b)."""
    screening = screen(perpetrators=[LODGER])
    assert screening.limbs_met == (Limb.B,)
    assert screening.review_required


def test_other_meets_neither_limb_and_no_review_is_required() -> None:
    """D2: 'other' (e.g. a tenant of a separate flat) meets no limb, so D4 fails."""
    screening = screen(perpetrators=[NEIGHBOUR])
    assert screening.limbs_met == ()
    assert screening.death_link_met
    assert not screening.review_required
    assert screening.route is DhrRoute.NONE
    assert "no_limb_other" in codes(screening)


def test_limbs_met_lists_each_limb_met_by_any_perpetrator_once_in_order() -> None:
    """D2: limbs met by different perpetrators are listed together, (a) before (b)."""
    screening = screen(perpetrators=[LODGER, NEIGHBOUR, PARTNER, relative("step")])
    assert screening.limbs_met == (Limb.A, Limb.B)


def test_reasons_name_perpetrators_by_role_never_by_pseudonym() -> None:
    """Privacy: the reasons say 'the suspected perpetrator (current intimate partner)'."""
    screening = screen()
    assert "The suspected perpetrator (current intimate partner)" in " ".join(screening.reasons)
    many = screen(perpetrators=[PARTNER, LODGER])
    text = " ".join(many.reasons)
    assert "Suspected perpetrator 2 (member of the same household)" in text
    for name in ("Kit", "Lee", "Robin", "Fictional"):
        assert name not in text


# --------------------------------------------------------------------------------------------
# D3 Death link
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("concern", [True, False])
def test_a_homicide_with_a_perpetrator_is_linked_whatever_the_abuse_concern(
    concern: bool,
) -> None:
    """D3: a homicide is linked when a perpetrator is listed, abuse concern or not."""
    screening = screen(domestic_abuse_concern=concern)
    assert screening.death_link_met
    assert screening.review_required


@pytest.mark.parametrize("cause", ["suicide", "unexplained"])
def test_a_suicide_or_unexplained_death_with_abuse_concern_is_linked(cause: str) -> None:
    """D3: a suicide or unexplained death is linked with abuse concern and a perpetrator."""
    screening = screen(cause=cause, domestic_abuse_concern=True)
    assert screening.death_link_met
    assert screening.review_required
    assert "link_abuse_concern" in codes(screening)


@pytest.mark.parametrize("cause", ["suicide", "unexplained"])
def test_a_suicide_or_unexplained_death_without_abuse_concern_is_not_linked(cause: str) -> None:
    """D3: without a domestic abuse concern a suicide or unexplained death is not linked."""
    screening = screen(cause=cause, domestic_abuse_concern=False)
    assert not screening.death_link_met
    assert not screening.review_required
    assert screening.route is DhrRoute.NONE
    assert "no_link_no_abuse_concern" in codes(screening)


@pytest.mark.parametrize("cause", ["homicide", "suicide", "unexplained"])
def test_no_perpetrator_means_no_link_and_no_limb_on_current_information(cause: str) -> None:
    """D3: with no suspected perpetrator the death is not linked, whatever the cause."""
    screening = screen(cause=cause, perpetrators=[])
    assert not screening.death_link_met
    assert screening.limbs_met == ()
    assert not screening.review_required
    assert {"no_perpetrator", "no_link_no_perpetrator"} <= set(codes(screening))


# --------------------------------------------------------------------------------------------
# D4 Review required
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["none", "charged", "acquitted", "convicted"])
@pytest.mark.parametrize("deceased", [False, True])
def test_charge_status_and_a_dead_perpetrator_never_change_the_review(
    status: str, deceased: bool
) -> None:
    """D4: charged, acquitted, convicted or dead, the review is still required."""
    screening = screen(perpetrators=[{**FORMER, "charge_status": status, "deceased": deceased}])
    assert screening.review_required
    assert ("charge_status_disregarded" in codes(screening)) == (status != "none" or deceased)


def test_a_required_review_says_why_in_one_finding() -> None:
    """D4: the finding names age, link and the limb met."""
    screening = screen()
    assert "review_required" in codes(screening)
    assert "limb (a) is met" in " ".join(screening.reasons)


def test_a_review_not_required_says_every_test_that_failed() -> None:
    """D4: under 16, not linked and no limb are all named when all fail."""
    screening = screen(victim={"age_at_death": 12}, perpetrators=[])
    reason = next(f.reason for f in screening.findings if f.code == "review_not_required")
    assert "under 16" in reason and "not linked" in reason and "no limb" in reason


# --------------------------------------------------------------------------------------------
# D5 Route and joint reviews
# --------------------------------------------------------------------------------------------


def test_a_linked_death_of_a_child_under_16_goes_to_a_cspr() -> None:
    """D5: under 16 and linked: a Child Safeguarding Practice Review."""
    screening = screen(victim={"age_at_death": 14}, perpetrators=[relative("blood")])
    assert not screening.review_required
    assert screening.route is DhrRoute.CSPR
    assert screening.consider_joint == ()


def test_a_linked_death_known_only_as_under_16_goes_to_a_cspr() -> None:
    """D5: the under-16 flag alone is enough for the CSPR route."""
    screening = screen(victim={"age_at_death": None, "under_16": True})
    assert screening.route is DhrRoute.CSPR


def test_a_child_under_16_whose_death_is_not_linked_has_no_route() -> None:
    """D5: under 16 without a link: no statutory review on current information."""
    screening = screen(victim={"age_at_death": 14}, perpetrators=[])
    assert screening.route is DhrRoute.NONE


def test_an_adult_with_care_needs_and_no_limb_goes_to_a_sar() -> None:
    """D5: 18 or over with care and support needs, linked, no limb: a SAR."""
    screening = screen(
        victim={"age_at_death": 70, "care_and_support_needs": True}, perpetrators=[NEIGHBOUR]
    )
    assert screening.route is DhrRoute.SAR


def test_an_adult_without_care_needs_and_no_limb_has_no_route() -> None:
    """D5: 18 or over without care needs, no limb met: no statutory review."""
    screening = screen(victim={"age_at_death": 70}, perpetrators=[NEIGHBOUR])
    assert screening.route is DhrRoute.NONE


def test_a_17_year_old_with_care_needs_and_no_limb_has_no_route() -> None:
    """D5: a SAR needs 18 or over, and a CSPR under 16: a 17-year-old gets neither."""
    screening = screen(
        victim={"age_at_death": 17, "care_and_support_needs": True}, perpetrators=[NEIGHBOUR]
    )
    assert screening.route is DhrRoute.NONE


@pytest.mark.parametrize("age", [16, 17])
def test_a_dhr_for_a_16_or_17_year_old_considers_a_joint_cspr(age: int) -> None:
    """D5: with a DHR for a victim aged 16 or 17, consider a joint CSPR."""
    screening = screen(victim={"age_at_death": age, "care_and_support_needs": True})
    assert screening.route is DhrRoute.DHR
    assert screening.consider_joint == (DhrRoute.CSPR,)


def test_a_dhr_for_an_adult_with_care_needs_considers_a_joint_sar() -> None:
    """D5: with a DHR for a victim 18 or over with care and support needs, consider a SAR."""
    screening = screen(victim={"age_at_death": 18, "care_and_support_needs": True})
    assert screening.route is DhrRoute.DHR
    assert screening.consider_joint == (DhrRoute.SAR,)


def test_a_dhr_for_an_adult_without_care_needs_considers_no_joint_review() -> None:
    """D5: with a DHR for an adult without care needs, no joint review is listed."""
    screening = screen(victim={"age_at_death": 40})
    assert screening.route is DhrRoute.DHR
    assert screening.consider_joint == ()


# --------------------------------------------------------------------------------------------
# D6 Decision due
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notified", "due"),
    [
        ("2025-03-15", date(2025, 4, 14)),
        ("2025-01-31", date(2025, 2, 28)),
        ("2024-01-31", date(2024, 2, 29)),
        ("2025-01-29", date(2025, 2, 28)),
        ("2024-01-29", date(2024, 2, 28)),
        ("2025-03-31", date(2025, 4, 30)),
        ("2025-12-20", date(2026, 1, 19)),
    ],
)
def test_the_decision_is_due_on_the_last_day_of_the_month_beginning_with_notification(
    notified: str, due: date
) -> None:
    """D6: statutory-reference §0.2's worked month ends, from the notification date."""
    screening = screen(notified_on=notified, date_of_death="2024-01-01")
    assert screening.decision_due == due
    assert str(due) in screening.reasons[-1]


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

notified_days = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 11, 30))
relationships = st.sampled_from(
    [
        PARTNER,
        FORMER,
        LODGER,
        NEIGHBOUR,
        *(
            relative(k)
            for k in ("blood", "marriage_or_civil_partnership", "step", "adoptive", "former_in_law")
        ),
    ]
)


@given(notified=notified_days)
def test_the_decision_is_due_within_a_month_and_never_before_notification(notified: date) -> None:
    """D6: the due date is after the notification, on or before the same day next month."""
    due = decision_due(notified)
    assert notified < due
    assert due == end_of_period(notified, 1)
    assert due - notified <= timedelta(days=30)
    assert due - notified >= timedelta(days=27)


@given(year=st.integers(1990, 2099))
def test_notification_on_31_january_is_due_on_the_last_day_of_february(year: int) -> None:
    """D6: one month beginning 31 January ends 28 February, or 29 February in a leap year."""
    due = decision_due(date(year, 1, 31))
    assert due.month == 2
    assert (due + timedelta(days=1)).month == 3


@given(
    perpetrators=st.lists(relationships, min_size=1, max_size=4),
    statuses=st.lists(
        st.tuples(st.sampled_from(["none", "charged", "acquitted", "convicted"]), st.booleans()),
        min_size=4,
        max_size=4,
    ),
    cause=st.sampled_from(["homicide", "suicide", "unexplained"]),
    concern=st.booleans(),
    age=st.integers(0, 110),
    care=st.booleans(),
)
def test_d4_and_the_route_never_depend_on_charge_status_or_a_perpetrator_s_death(
    perpetrators: list[dict[str, Any]],
    statuses: list[tuple[str, bool]],
    cause: str,
    concern: bool,
    age: int,
    care: bool,
) -> None:
    """D4: any charge status or deceased flag gives the same decision as none and alive."""
    people = [{**p, "pseudonym": f"P{i}"} for i, p in enumerate(perpetrators)]
    changed = [
        {**p, "charge_status": status, "deceased": dead}
        for p, (status, dead) in zip(people, statuses, strict=False)
    ]
    common = {
        "cause": cause,
        "domestic_abuse_concern": concern,
        "victim": {"age_at_death": age, "care_and_support_needs": care},
    }
    plain = screen(perpetrators=people, **common)
    charged = screen(perpetrators=changed, **common)
    for field in (
        "aged_16_or_over",
        "limbs_met",
        "death_link_met",
        "review_required",
        "route",
        "consider_joint",
    ):
        assert getattr(plain, field) == getattr(charged, field)


@given(
    perpetrators=st.lists(relationships, max_size=3),
    cause=st.sampled_from(["homicide", "suicide", "unexplained"]),
    concern=st.booleans(),
    age=st.integers(0, 110),
    care=st.booleans(),
)
def test_d4_is_exactly_age_and_link_and_a_limb(
    perpetrators: list[dict[str, Any]], cause: str, concern: bool, age: int, care: bool
) -> None:
    """D4/D5: review required iff 16+, linked and a limb met; then the route is always dhr."""
    people = [{**p, "pseudonym": f"P{i}"} for i, p in enumerate(perpetrators)]
    screening = screen(
        perpetrators=people,
        cause=cause,
        domestic_abuse_concern=concern,
        victim={"age_at_death": age, "care_and_support_needs": care},
    )
    linked = bool(people) and (cause == "homicide" or concern)
    assert screening.death_link_met == linked
    assert screening.review_required == (age >= 16 and linked and bool(screening.limbs_met))
    assert (screening.route is DhrRoute.DHR) == screening.review_required
    if screening.route is not DhrRoute.DHR:
        assert screening.consider_joint == ()
    assert screening.reasons == tuple(f.reason for f in screening.findings)


# --------------------------------------------------------------------------------------------
# The schema: strict booleans, relative kinds, dates, case id
# --------------------------------------------------------------------------------------------


def test_the_json_schema_gives_every_yes_no_field_as_boolean() -> None:
    """Schema: booleans are JSON booleans, so forms and machine callers send true or false."""
    schema = DhrNotification.model_json_schema()
    defs = schema["$defs"]
    assert schema["properties"]["domestic_abuse_concern"]["type"] == "boolean"
    assert defs["Notifier"]["properties"]["in_writing"]["type"] == "boolean"
    assert defs["DhrVictim"]["properties"]["care_and_support_needs"]["type"] == "boolean"
    assert {"type": "boolean"} in defs["DhrVictim"]["properties"]["under_16"]["anyOf"]
    assert defs["SuspectedPerpetrator"]["properties"]["deceased"]["type"] == "boolean"


@pytest.mark.parametrize("value", ["yes", 1, "true", 0, "no", "1"])
@pytest.mark.parametrize(
    "path",
    [
        ("domestic_abuse_concern",),
        ("notified_by", "in_writing"),
        ("victim", "care_and_support_needs"),
        ("victim", "under_16"),
        ("perpetrators", 0, "deceased"),
    ],
)
def test_a_yes_no_field_refuses_anything_but_true_or_false(
    value: object, path: tuple[str | int, ...]
) -> None:
    """Schema: "yes", 1 or "true" where a boolean is due is refused, naming the field."""
    fields = copy.deepcopy(data())
    holder: Any = fields
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = value
    with pytest.raises(ValidationError) as raised:
        DhrNotification.model_validate(fields)
    assert [e["loc"] for e in raised.value.errors()] == [path]


def test_the_age_at_death_refuses_a_number_in_a_string() -> None:
    """Schema: age_at_death is a whole number, not "34"."""
    with pytest.raises(ValidationError):
        notification(victim={"age_at_death": "34"})


def test_a_relative_needs_a_relative_kind_and_no_one_else_may_have_one() -> None:
    """Schema: relative_kind is required for a relative and refused for any other relationship."""
    with pytest.raises(ValidationError, match="relative_kind is required"):
        notification(perpetrators=[{"pseudonym": "Ash", "relationship": "relative"}])
    with pytest.raises(ValidationError, match="relative_kind is only for a relative"):
        notification(perpetrators=[{**PARTNER, "relative_kind": "blood"}])


def test_a_death_after_the_notification_or_a_birth_after_the_death_is_refused() -> None:
    """Schema: a death after its notification, or a birth after the death, is bad input."""
    with pytest.raises(ValidationError, match="date_of_death"):
        notification(date_of_death="2025-03-16")
    with pytest.raises(ValidationError, match=r"victim\.date_of_birth is after date_of_death"):
        notification(victim={"date_of_birth": "2025-03-11", "age_at_death": None})


def test_a_date_of_birth_before_1990_is_accepted() -> None:
    """Schema: victims born long before 1990 (the earliest case date) can be notified."""
    screening = screen(victim={"age_at_death": None, "date_of_birth": "1931-05-02"})
    assert screening.age == 93


def test_two_perpetrators_may_not_share_a_pseudonym() -> None:
    """Schema: each suspected perpetrator has their own pseudonym, so reasons tell them apart."""
    with pytest.raises(ValidationError, match="same pseudonym"):
        notification(perpetrators=[PARTNER, {**LODGER, "pseudonym": "kit"}])


def test_the_case_id_holds_the_area_and_reference_only() -> None:
    """Case id: 'dhr-{area}-{reference}', a '/' made safe, no pseudonym."""
    assert notification(notification_reference="AV/DHR/2025/1").case_id == (
        "dhr-amber-valley-AV-DHR-2025-1"
    )


# --------------------------------------------------------------------------------------------
# The policy
# --------------------------------------------------------------------------------------------


def test_the_dhr_policy_defaults_follow_the_guidance() -> None:
    """Policy: IMRs in 8 weeks, six-month target, reminders at 4 and 5 months, s.19 not in force."""
    policy = DhrPolicy(name="derbyshire-dhr", version=1)
    assert policy.imr_due_weeks == 8
    assert policy.completion_target_months == 6
    assert policy.completion_reminder_months == (4, 5)
    assert policy.darr_commencement is None
    assert policy.label == "derbyshire-dhr v1"
    assert policy.review_name(date(2030, 1, 1)) == "Domestic Homicide Review"


def test_the_darr_name_applies_from_its_commencement_date() -> None:
    """Policy: VPA 2024 s.19 renames the review from the commencement date set, not before."""
    policy = DhrPolicy(name="derbyshire-dhr", version=2, darr_commencement=date(2026, 10, 1))
    assert not policy.darr_in_force(date(2026, 9, 30))
    assert policy.review_name(date(2026, 10, 1)) == "Domestic Abuse Related Death Review"


def test_the_secretary_of_state_copy_counts_from_the_day_the_report_is_completed() -> None:
    """VPA 2024 s.19: a report completed on or after commencement also goes to the Secretary of
    State; one completed the day before does not; no commencement date, never."""
    from workflows.rules.dhr import secretary_of_state_copy_required

    policy = DhrPolicy(name="derbyshire-dhr", version=2, darr_commencement=date(2026, 10, 1))
    assert secretary_of_state_copy_required(date(2026, 10, 1), policy)
    assert not secretary_of_state_copy_required(date(2026, 9, 30), policy)
    assert not secretary_of_state_copy_required(date(2099, 1, 1), DhrPolicy(name="x", version=1))


def test_a_reminder_at_or_after_the_completion_target_is_refused() -> None:
    """Policy: reminders come before the target; they are kept in order without repeats."""
    with pytest.raises(ValidationError, match="before completion_target_months"):
        DhrPolicy(name="x", version=1, completion_reminder_months=(4, 6))
    policy = DhrPolicy(name="x", version=1, completion_reminder_months=(5, 3, 5))
    assert policy.completion_reminder_months == (3, 5)
