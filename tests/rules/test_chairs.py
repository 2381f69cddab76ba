"""Ranking independent chairs for a review (statutory-reference.md §1.3 item 5)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from schemas.directory import IndependentChair, UnavailablePeriod
from schemas.records import ChairLoad
from schemas.shared import Process
from workflows.rules.chairs import ChairCase, rank_independent_chairs

ON = date(2025, 5, 1)
CASE = ChairCase(
    area="amber-valley",
    neighbouring_areas=("erewash", "south-derbyshire"),
    involved_agencies=("derbyshire-police", "amber-valley-council"),
    case_reference="AV-2025-014",
    process=Process.COMMUNITY_TRIGGER,
)


def chair(ident: str, **changes: object) -> IndependentChair:
    """Return an eligible chair from Erewash with room for three cases, with changes."""
    fields: dict[str, object] = {
        "id": ident,
        "name": f"Chair {ident}",
        "email": f"{ident}@example.org",
        "organisation": "erewash-council",
        "home_area": "erewash",
        "processes": (Process.COMMUNITY_TRIGGER,),
        "max_active_cases": 3,
    }
    fields.update(changes)
    return IndependentChair.model_validate(fields)


def load(ident: str, active: int, last: datetime | None = None) -> ChairLoad:
    """Return a chair's load."""
    return ChairLoad(chair_id=ident, active_cases=active, last_allocated_at=last)


def ranked(
    chairs: list[IndependentChair],
    loads: dict[str, ChairLoad] | None = None,
    *,
    on: date = ON,
    neighbouring: bool = True,
) -> list[str]:
    """Return the candidate chair ids in order."""
    ranking = rank_independent_chairs(CASE, chairs, loads or {}, on, neighbouring)
    return [c.chair_id for c in ranking.candidates]


def reason_for(
    ident: str,
    chairs: list[IndependentChair],
    loads: dict[str, ChairLoad] | None = None,
    *,
    neighbouring: bool = True,
) -> str:
    """Return the reason line for one chair."""
    ranking = rank_independent_chairs(CASE, chairs, loads or {}, ON, neighbouring)
    return next(r for r in ranking.reasons if ident in r)


def test_eligible_chair_is_a_candidate_with_its_capacity() -> None:
    """A trained, independent, available chair with room is offered, with its maximum."""
    ranking = rank_independent_chairs(CASE, [chair("c-1", max_active_cases=4)], {}, ON, True)
    assert [(c.chair_id, c.max_active_cases) for c in ranking.candidates] == [("c-1", 4)]
    assert ranking.reasons == (
        "1. c-1: eligible; 0 of 4 active cases, never allocated; "
        "home area erewash (a neighbouring area)",
    )


def test_chair_not_trained_for_the_process_is_excluded() -> None:
    """A chair without the process among those trained for is excluded, with the reason."""
    untrained = chair("c-1").model_copy(update={"processes": ()})
    assert ranked([untrained]) == []
    assert "not trained for community-trigger" in reason_for("c-1", [untrained])


def test_chair_working_for_an_involved_agency_is_excluded() -> None:
    """A chair employed by an agency under review is not independent."""
    chairs = [chair("c-1", organisation="derbyshire-police")]
    assert ranked(chairs) == []
    assert "works for derbyshire-police, an agency involved" in reason_for("c-1", chairs)


def test_chair_from_the_case_area_is_excluded_when_a_neighbour_is_wanted() -> None:
    """With chair_from_neighbouring_area, a chair from the case's own area is excluded."""
    chairs = [chair("c-1", home_area="amber-valley")]
    assert ranked(chairs, neighbouring=True) == []
    assert "is the case's own area" in reason_for("c-1", chairs)


def test_chair_from_the_case_area_is_eligible_when_no_neighbour_is_required() -> None:
    """Without that policy, a chair from the case's own area may be offered."""
    assert ranked([chair("c-1", home_area="amber-valley")], neighbouring=False) == ["c-1"]


def test_declared_conflict_with_an_involved_agency_excludes() -> None:
    """A conflict declared with an agency in the case excludes the chair."""
    chairs = [chair("c-1", conflicts=("amber-valley-council",))]
    assert ranked(chairs) == []
    assert "conflict with involved agency amber-valley-council" in reason_for("c-1", chairs)


def test_declared_conflict_with_the_case_area_excludes() -> None:
    """A conflict declared with the case's area excludes the chair."""
    chairs = [chair("c-1", conflicts=("amber-valley",))]
    assert ranked(chairs) == []
    assert "conflict with area amber-valley" in reason_for("c-1", chairs)


def test_declared_conflict_with_the_case_reference_excludes() -> None:
    """A conflict declared with this case's reference excludes the chair."""
    chairs = [chair("c-1", conflicts=("AV-2025-014",))]
    assert ranked(chairs) == []
    assert "conflict with case AV-2025-014" in reason_for("c-1", chairs)


def test_unrelated_conflict_does_not_exclude() -> None:
    """A conflict with some other agency or case leaves the chair eligible."""
    assert ranked([chair("c-1", conflicts=("bolsover-council", "BO-2024-001"))]) == ["c-1"]


def test_chair_unavailable_on_the_day_is_excluded_including_period_ends() -> None:
    """Unavailable periods include their first and last days."""
    away = (UnavailablePeriod(start=date(2025, 4, 20), end=ON),)
    chairs = [chair("c-1", unavailable=away)]
    assert ranked(chairs) == []
    assert ranked(chairs, on=date(2025, 4, 20)) == []
    assert ranked(chairs, on=date(2025, 5, 2)) == ["c-1"]
    assert "unavailable from 2025-04-20 to 2025-05-01" in reason_for("c-1", chairs)


def test_chair_at_capacity_is_excluded() -> None:
    """A chair whose active cases reach the maximum is not offered the case."""
    chairs = [chair("c-1", max_active_cases=2)]
    assert ranked(chairs, {"c-1": load("c-1", 2)}) == []
    assert "at capacity (2 of 2 active cases)" in reason_for("c-1", chairs, {"c-1": load("c-1", 2)})
    assert ranked(chairs, {"c-1": load("c-1", 1)}) == ["c-1"]


def test_every_exclusion_reason_is_given_together() -> None:
    """A chair excluded on several grounds has all of them in its line."""
    chairs = [
        chair(
            "c-1",
            organisation="derbyshire-police",
            home_area="amber-valley",
            conflicts=("AV-2025-014",),
        )
    ]
    line = reason_for("c-1", chairs)
    assert line.startswith("c-1: excluded; ")
    assert line.count(";") == 3


def test_fewest_active_cases_ranks_first() -> None:
    """The chair with fewer active cases is offered first."""
    chairs = [chair("a"), chair("b")]
    assert ranked(chairs, {"a": load("a", 2), "b": load("b", 1)}) == ["b", "a"]


def test_never_allocated_ranks_before_recently_allocated() -> None:
    """On equal load, a chair never allocated comes before one allocated before."""
    chairs = [chair("a"), chair("b")]
    loads = {"a": load("a", 0, datetime(2025, 1, 1, tzinfo=UTC))}
    assert ranked(chairs, loads) == ["b", "a"]


def test_longest_since_allocation_ranks_first() -> None:
    """On equal load, the chair allocated longest ago comes first."""
    chairs = [chair("a"), chair("b")]
    loads = {
        "a": load("a", 1, datetime(2025, 3, 1, tzinfo=UTC)),
        "b": load("b", 1, datetime(2025, 1, 1, tzinfo=UTC)),
    }
    assert ranked(chairs, loads) == ["b", "a"]


def test_chair_id_breaks_a_tie() -> None:
    """With equal load and history, chair ids decide the order."""
    assert ranked([chair("zed"), chair("amy"), chair("kim")]) == ["amy", "kim", "zed"]


def test_one_reason_line_per_chair_eligible_first() -> None:
    """Every chair has one line: eligible in rank order, then the excluded."""
    chairs = [chair("x", organisation="derbyshire-police"), chair("b"), chair("a")]
    reasons = rank_independent_chairs(CASE, chairs, {"b": load("b", 1)}, ON, True).reasons
    assert len(reasons) == 3
    assert reasons[0].startswith("1. a: eligible")
    assert reasons[1].startswith("2. b: eligible; 1 of 3 active cases")
    assert reasons[2].startswith("x: excluded")


def test_no_eligible_chair_says_what_to_do() -> None:
    """When nobody is eligible, the reasons say so and how to proceed."""
    ranking = rank_independent_chairs(
        CASE, [chair("c-1", organisation="derbyshire-police")], {}, ON, True
    )
    assert ranking.candidates == ()
    assert any(r.startswith("no chair is eligible") for r in ranking.reasons)


chair_specs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),  # active cases
        st.one_of(st.none(), st.integers(min_value=1, max_value=5)),  # month last allocated
        st.sampled_from(["erewash", "amber-valley", "south-derbyshire"]),
        st.booleans(),  # works for the police
    ),
    min_size=1,
    max_size=8,
)


@given(chair_specs, st.randoms(use_true_random=False))
def test_shuffling_the_chairs_gives_the_same_ranking(
    specs: list[tuple[int, int | None, str, bool]], rnd: random.Random
) -> None:
    """The ranking and its reasons depend on the chairs, not on the order they are listed."""
    chairs = [
        chair(
            f"c-{n}",
            home_area=home,
            organisation="derbyshire-police" if police else "erewash-council",
        )
        for n, (_, _, home, police) in enumerate(specs)
    ]
    loads = {
        f"c-{n}": load(
            f"c-{n}", active, None if month is None else datetime(2025, month, 1, tzinfo=UTC)
        )
        for n, (active, month, _, _) in enumerate(specs)
    }
    first = rank_independent_chairs(CASE, chairs, loads, ON, True)
    shuffled = list(chairs)
    rnd.shuffle(shuffled)
    assert rank_independent_chairs(CASE, shuffled, loads, ON, True) == first
    actives = [loads[c.chair_id].active_cases for c in first.candidates]
    assert actives == sorted(actives)
