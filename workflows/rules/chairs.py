"""Independent chairs: who may chair a review, and in what order they are offered it.

The July 2025 guidance recommends that ASB Case Reviews have independent chairs
(domain/statutory-reference.md §1.3 item 5, [SG*]); independence means the chair works for none
of the agencies whose handling is reviewed and has declared no conflict with the case. Some areas
take a chair from a neighbouring district (Derbyshire; CommunityTriggerPolicy
.chair_from_neighbouring_area). Ranking is pure: the chairs' current loads and the day are
parameters, and the same inputs always give the same ranking, whatever order the chairs come in,
so a replayed workflow proposes the same chair. The reservation itself is an activity
(schemas.records.ReserveChair), which skips a candidate that filled up meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from schemas.directory import IndependentChair
from schemas.records import ChairCandidate, ChairLoad
from schemas.shared import Model, Process, Reference, Slug


class ChairCase(Model):
    """What about a case decides who may chair it: its area, the agencies involved, its ref."""

    area: Slug
    neighbouring_areas: tuple[Slug, ...] = ()
    involved_agencies: tuple[Slug, ...] = ()
    case_reference: Reference
    process: Process


class ChairRanking(Model):
    """The eligible chairs in the order to offer the case, and a reason line for every chair."""

    candidates: tuple[ChairCandidate, ...]
    reasons: tuple[str, ...]


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _exclusions(
    case: ChairCase,
    chair: IndependentChair,
    load: ChairLoad | None,
    on: date,
    from_neighbouring_area: bool,
) -> list[str]:
    """Return every reason `chair` may not chair `case` on `on` (empty when eligible)."""
    why: list[str] = []
    if case.process not in chair.processes:
        why.append(f"not trained for {case.process.value}")
    if any(_same(chair.organisation, agency) for agency in case.involved_agencies):
        why.append(f"works for {chair.organisation}, an agency involved in the case")
    if from_neighbouring_area and chair.home_area == case.area:
        why.append(
            f"home area {chair.home_area} is the case's own area and the policy asks for a chair "
            "from a neighbouring area"
        )
    for conflict in chair.conflicts:
        if any(_same(conflict, agency) for agency in case.involved_agencies):
            why.append(f"declared a conflict with involved agency {conflict}")
        elif _same(conflict, case.area):
            why.append(f"declared a conflict with area {conflict}")
        elif _same(conflict, case.case_reference):
            why.append(f"declared a conflict with case {conflict}")
    for period in chair.unavailable:
        if period.start <= on <= period.end:
            why.append(f"unavailable from {period.start} to {period.end}")
    active = load.active_cases if load is not None else 0
    if active >= chair.max_active_cases:
        why.append(f"at capacity ({active} of {chair.max_active_cases} active cases)")
    return why


def _rank_key(chair: IndependentChair, load: ChairLoad | None) -> tuple[int, bool, datetime, str]:
    """Fewest active cases, then longest since last allocated (never first), then id."""
    active = load.active_cases if load is not None else 0
    last = load.last_allocated_at if load is not None else None
    # The never-allocated sort first on the flag, so datetime.min never meets a real time.
    return (active, last is not None, last or datetime.min, chair.id)


def _eligible_line(
    rank: int, case: ChairCase, chair: IndependentChair, load: ChairLoad | None
) -> str:
    active = load.active_cases if load is not None else 0
    last = load.last_allocated_at if load is not None else None
    when = f"last allocated {last.date()}" if last is not None else "never allocated"
    if chair.home_area == case.area:
        home = f"home area {chair.home_area} (the case's own area)"
    elif chair.home_area in case.neighbouring_areas:
        home = f"home area {chair.home_area} (a neighbouring area)"
    else:
        home = f"home area {chair.home_area} (not listed as a neighbouring area)"
    return (
        f"{rank}. {chair.id}: eligible; {active} of {chair.max_active_cases} active cases, "
        f"{when}; {home}"
    )


def rank_independent_chairs(
    case: ChairCase,
    chairs: Sequence[IndependentChair],
    loads: Mapping[str, ChairLoad],
    on: date,
    from_neighbouring_area: bool,
) -> ChairRanking:
    """Rank the chairs who may independently chair `case` on `on`, giving every chair's reason.

    A chair is excluded when not trained for the process; when working for an agency involved in
    the case (independence, §1.3); when from the case's own area and the policy wants a
    neighbouring area's chair; when they declared a conflict with an involved agency, the area or
    the case; when unavailable on `on` (periods are inclusive); or when at capacity (a chair with
    no recorded load has no active cases and was never allocated). The eligible are ordered by
    fewest active cases, then longest since last allocated (never allocated first), then chair id,
    spreading work fairly and deterministically.
    """
    eligible: list[tuple[tuple[int, bool, datetime, str], IndependentChair]] = []
    excluded: list[str] = []
    for chair in sorted(chairs, key=lambda c: c.id):
        load = loads.get(chair.id)
        why = _exclusions(case, chair, load, on, from_neighbouring_area)
        if why:
            excluded.append(f"{chair.id}: excluded; " + "; ".join(why))
        else:
            eligible.append((_rank_key(chair, load), chair))
    eligible.sort(key=lambda item: item[0])
    ordered = [chair for _, chair in eligible]
    reasons = [
        _eligible_line(rank, case, chair, loads.get(chair.id))
        for rank, chair in enumerate(ordered, start=1)
    ]
    if not ordered:
        reasons.append("no chair is eligible: add or free a chair, or override with a named chair")
    return ChairRanking(
        candidates=tuple(
            ChairCandidate(chair_id=chair.id, max_active_cases=chair.max_active_cases)
            for chair in ordered
        ),
        reasons=tuple(reasons + excluded),
    )
