"""Record activities and report queries on real SQLite and PostgreSQL.

Each write runs twice with one key, as a Temporal retry would, and leaves one row; chair
reservations race from two engines (two workers) and never overfill a chair.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.db import (
    SCHEMA_HEAD,
    Base,
    Case,
    ChairAllocation,
    Decision,
    Notice,
    Recommendation,
    SessionFactory,
    Task,
    alembic_config,
    make_session_factory,
    migrate,
)
from activities.queries import community_trigger_figures, list_cases
from activities.records import (
    RecordActivities,
    claim_notice,
    mark_notice_failed,
    mark_notice_sent,
)
from schemas.records import (
    CaseRecord,
    ChairCandidate,
    DecisionRow,
    RecommendationRow,
    ReleaseChair,
    ReserveChair,
    TaskRow,
)
from tests.activities.attempts import Attempts

T0 = datetime(2025, 4, 2, 9, 30, tzinfo=UTC)
CT = "community-trigger"


def case(ref: str, **changes: Any) -> CaseRecord:
    fields: dict[str, Any] = {
        "case_id": f"ct-amber-valley-{ref}",
        "process": CT,
        "area": "amber-valley",
        "reference": ref,
        "received_on": date(2025, 4, 1),
        "policy": "amber-valley-ct-v1",
        "opened_at": T0,
        "opened_by": "coordinator@example.org",
        "stage": "threshold",
    }
    return CaseRecord(**{**fields, **changes})


async def run(activity_fn: Any, arg: Any) -> Any:
    """Run an activity method inside a real Temporal activity context (a first attempt)."""
    return await ActivityEnvironment().run(activity_fn, arg)


async def attempt_and_retry(activity_fn: Any, arg: Any, retry_arg: Any = None) -> tuple[Any, Any]:
    """Run attempt 1, then attempt 2 with attempt 1's heartbeat details, as a Temporal retry."""
    attempts = Attempts()
    first = await attempts.run(activity_fn, arg)
    second = await attempts.run(activity_fn, arg if retry_arg is None else retry_arg)
    assert attempts.attempt == 2
    return first, second


async def count(factory: SessionFactory, model: type[Base], *where: Any) -> int:
    async with factory() as session:
        query = sa.select(sa.func.count()).select_from(model).where(*where)
        return int((await session.execute(query)).scalar_one())


async def test_migrated_schema_matches_the_models(engine: AsyncEngine, records_url: str) -> None:
    """The migration creates exactly the tables the models describe, and a rerun is a no-op."""
    await migrate(records_url)

    def diff(connection: sa.Connection) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


def test_schema_head_names_the_newest_migration(records_url: str) -> None:
    """migrate() skips alembic when the database is at SCHEMA_HEAD, so it must be the head."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(records_url)).get_current_head()
    assert head == SCHEMA_HEAD, f"set activities.db.SCHEMA_HEAD to {head!r}"


async def test_a_database_at_the_head_is_left_alone_and_an_older_one_upgraded(
    engine: AsyncEngine, records_url: str
) -> None:
    """A second migrate() finds the head and changes nothing; one a revision behind upgrades."""
    await migrate(records_url)
    async with engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0002'"))
        await conn.execute(sa.text("DROP TABLE answer_link_revocations"))
        await conn.execute(sa.text("DROP TABLE sign_in_failures"))
        await conn.execute(sa.text("DROP TABLE users"))
        await conn.execute(sa.text("DROP TABLE access_tokens"))
        await conn.execute(sa.text("ALTER TABLE cases DROP COLUMN deadlines"))
    await migrate(records_url)
    async with engine.connect() as conn:
        version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).all()
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert version == [(SCHEMA_HEAD,)]
    assert {"users", "sign_in_failures", "access_tokens"} <= set(tables)
    async with engine.connect() as conn:
        columns = await conn.run_sync(lambda c: sa.inspect(c).get_columns("cases"))
    assert "deadlines" in {column["name"] for column in columns}


async def test_record_case_twice_leaves_one_row(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """A retried case write (attempt 2) leaves one row."""
    await attempt_and_retry(records.record_case, case("CT-1"))
    assert await count(session_factory, Case) == 1


async def test_record_case_updates_only_the_columns_given(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """A later write changes the stage and leaves earlier facts that it does not mention."""
    await run(records.record_case, case("CT-1", threshold_met=True, next_deadline=date(2025, 4, 9)))
    await run(
        records.record_case,
        case("CT-1", stage="review", review_carried_out=True, next_deadline=date(2025, 4, 9)),
    )

    [row] = await list_cases(session_factory)
    assert (row.stage, row.threshold_met, row.review_carried_out) == ("review", True, True)
    assert row.next_deadline == date(2025, 4, 9)
    assert row.opened_at == T0 and row.opened_at.tzinfo is not None
    assert row.updated_at.utcoffset() == timedelta(0)


async def test_record_case_without_a_next_deadline_clears_it(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """No next deadline means none is open (a closed case), so the column is emptied."""
    await run(records.record_case, case("CT-1", next_deadline=date(2025, 4, 9)))
    await run(records.record_case, case("CT-1", stage="closed"))
    [row] = await list_cases(session_factory)
    assert row.next_deadline is None
    assert await list_cases(session_factory, overdue_on=date(2025, 5, 1)) == []


async def test_timestamps_are_stored_as_utc(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """A time given with an offset comes back as the same instant in UTC."""
    bst = timezone(timedelta(hours=1))
    await run(records.record_case, case("CT-1", opened_at=datetime(2025, 4, 2, 10, 30, tzinfo=bst)))
    [row] = await list_cases(session_factory)
    assert row.opened_at == T0 and row.opened_at.utcoffset() == timedelta(0)


async def test_second_case_with_one_reference_is_refused_without_retry(
    records: RecordActivities,
) -> None:
    """A second start of one application is refused, not retried for ever."""
    await run(records.record_case, case("CT-1"))
    with pytest.raises(ApplicationError) as refused:
        await run(records.record_case, case("CT-1", case_id="ct-amber-valley-CT-1-again"))
    assert refused.value.non_retryable and refused.value.type == "DuplicateCase"


async def test_record_decision_twice_leaves_one_row(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """A retried decision write is ignored by its idempotency key; the first write stands."""
    row = DecisionRow(
        idempotency_key="ct-amber-valley-CT-1:threshold:1",
        case_id="ct-amber-valley-CT-1",
        step="threshold",
        outcome="met",
        decided_by="coordinator@example.org",
        decided_at=T0,
        reasons=("three qualifying complaints", "no response to two"),
    )
    await attempt_and_retry(
        records.record_decision, row, row.model_copy(update={"outcome": "not-met"})
    )

    async with session_factory() as session:
        [stored] = (await session.execute(sa.select(Decision))).scalars().all()
    assert stored.outcome == "met"
    assert stored.reasons == ["three qualifying complaints", "no response to two"]


async def test_record_task_twice_leaves_one_row_with_the_latest_state(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """A partner task's row follows the task: requested, then answered late."""
    row = TaskRow(
        task_id="ct-amber-valley-CT-1.task.information.police",
        case_id="ct-amber-valley-CT-1",
        agency="police",
        kind="information",
        requested_on=date(2025, 4, 2),
        due=date(2025, 4, 9),
        state="open",
    )
    await attempt_and_retry(records.record_task, row)
    assert await count(session_factory, Task) == 1
    answered = row.model_copy(update={"state": "met", "answered_on": date(2025, 4, 11)})
    await run(records.record_task, answered.model_copy(update={"days_late": 2}))

    async with session_factory() as session:
        [stored] = (await session.execute(sa.select(Task))).scalars().all()
    assert (stored.state, stored.answered_on, stored.days_late) == ("met", date(2025, 4, 11), 2)


async def test_record_recommendation_twice_leaves_one_row(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """A recommendation is keyed by case and number; a later write changes its state."""
    row = RecommendationRow(
        case_id="ct-amber-valley-CT-1",
        index=1,
        to_body="amber-valley-council",
        action="Install CCTV at the underpass",
        due=date(2025, 6, 30),
    )
    await attempt_and_retry(records.record_recommendation, row)
    assert await count(session_factory, Recommendation) == 1
    await run(records.record_recommendation, row.model_copy(update={"state": "done"}))

    async with session_factory() as session:
        [stored] = (await session.execute(sa.select(Recommendation))).scalars().all()
    assert (stored.idx, stored.state) == (1, "done")


async def test_claim_notice_twice_returns_the_first_row_and_sent_stays_sent(
    session_factory: SessionFactory,
) -> None:
    """A retried send finds the row it claimed; once sent, a failure report cannot undo it."""
    claim: dict[str, Any] = {
        "key": "ct-amber-valley-CT-1:acknowledge:1",
        "case_id": "ct-amber-valley-CT-1",
        "template": "community-trigger/acknowledgement",
        "template_version": 1,
        "recipients": ["applicant@example.org"],
        "subject": "Your ASB Case Review application CT-1",
        "message_id": "<ct-amber-valley-CT-1.acknowledge.1@cspflow.example.org>",
        "created_at": T0,
    }
    first = await claim_notice(session_factory, content_sha256="a" * 64, **claim)
    again = await claim_notice(session_factory, content_sha256="b" * 64, **claim)
    assert first == again and again.status == "pending" and not again.sent
    assert again.recipients == ("applicant@example.org",) and again.content_sha256 == "a" * 64

    await mark_notice_failed(session_factory, claim["key"], "451 try again later")
    assert (await claim_notice(session_factory, content_sha256="a" * 64, **claim)).status == (
        "failed"
    )
    await mark_notice_sent(session_factory, claim["key"], T0)
    await mark_notice_sent(session_factory, claim["key"], T0 + timedelta(minutes=5))
    await mark_notice_failed(session_factory, claim["key"], "late report of an earlier attempt")

    row = await claim_notice(session_factory, content_sha256="a" * 64, **claim)
    assert row.sent and row.sent_at == T0 and row.error is None
    assert await count(session_factory, Notice) == 1


def reserve(case_id: str, *chairs: tuple[str, int]) -> ReserveChair:
    return ReserveChair(
        case_id=case_id,
        candidates=tuple(ChairCandidate(chair_id=c, max_active_cases=n) for c, n in chairs),
        allocated_at=T0,
        allocated_by="coordinator@example.org",
    )


async def test_reserve_chair_twice_returns_the_same_chair(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """A retried reservation (attempt 2) gets the chair it already holds and takes no second
    place: with one place each, a retry that missed its own reservation would get chair-b."""
    request = reserve("case-1", ("chair-a", 1), ("chair-b", 1))
    first, again = await attempt_and_retry(records.reserve_chair, request)
    assert first.chair_id == again.chair_id == "chair-a"
    assert await count(session_factory, ChairAllocation) == 1


async def test_reserve_chair_skips_full_chairs_and_release_frees_a_place(
    records: RecordActivities,
) -> None:
    """A full chair is passed over and named; releasing a case frees its place."""
    assert (await run(records.reserve_chair, reserve("case-1", ("chair-a", 1)))).chair_id
    second = await run(records.reserve_chair, reserve("case-2", ("chair-a", 1), ("chair-b", 1)))
    assert (second.chair_id, second.skipped_at_capacity) == ("chair-b", ("chair-a",))
    third = await run(records.reserve_chair, reserve("case-3", ("chair-a", 1), ("chair-b", 1)))
    assert (third.chair_id, third.skipped_at_capacity) == (None, ("chair-a", "chair-b"))

    release = ReleaseChair(case_id="case-1", released_at=T0 + timedelta(days=30))
    await attempt_and_retry(
        records.release_chair, release, release.model_copy(update={"released_at": T0})
    )
    loads = await run(records.chair_loads, ["chair-a", "chair-b", "chair-c"])
    assert [(load.chair_id, load.active_cases) for load in loads] == [
        ("chair-a", 0),
        ("chair-b", 1),
        ("chair-c", 0),
    ]
    assert loads[0].last_allocated_at == T0 and loads[2].last_allocated_at is None

    fourth = await run(records.reserve_chair, reserve("case-4", ("chair-a", 1), ("chair-b", 1)))
    assert fourth.chair_id == "chair-a"


async def test_concurrent_reservations_never_exceed_a_chair_capacity(
    engine: AsyncEngine, other_engine: AsyncEngine, session_factory: SessionFactory
) -> None:
    """Six cases in two workers race for two one-place chairs: two win, four are told none."""
    workers = [
        RecordActivities(make_session_factory(engine)),
        RecordActivities(make_session_factory(other_engine)),
    ]
    ranked = [("chair-a", 1), ("chair-b", 1)]
    requests = [
        # Half rank the chairs the other way round, so lock ordering is exercised too.
        reserve(f"case-{n}", *(ranked if n % 2 else ranked[::-1]))
        for n in range(6)
    ]
    results = await asyncio.gather(
        *(run(workers[n % 2].reserve_chair, request) for n, request in enumerate(requests))
    )

    allocated = sorted(r.chair_id for r in results if r.chair_id is not None)
    assert allocated == ["chair-a", "chair-b"]
    for result in results:
        if result.chair_id is None:
            assert sorted(result.skipped_at_capacity) == ["chair-a", "chair-b"]
    for chair_id in ("chair-a", "chair-b"):
        assert (
            await count(session_factory, ChairAllocation, ChairAllocation.chair_id == chair_id) == 1
        )


async def test_figures_count_a_financial_year_by_day_received(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """The s.104 figures count 1 April to 31 March; a below-threshold review was carried out."""
    for record in (
        case("OLD", received_on=date(2025, 3, 31), threshold_met=True),
        case(
            "A",
            received_on=date(2025, 4, 1),
            threshold_met=True,
            review_carried_out=True,
            recommendations=2,
        ),
        case(
            "B",
            received_on=date(2025, 10, 1),
            threshold_met=False,
            review_carried_out=True,
            recommendations=0,
        ),
        case("C", received_on=date(2026, 3, 31), threshold_met=False, review_carried_out=False),
        case("D", received_on=date(2026, 1, 5), stage="threshold"),
        case("NEXT", received_on=date(2026, 4, 1), threshold_met=False),
        case("X", case_id="ct-erewash-X", area="erewash", threshold_met=False),
        case(
            "Y",
            case_id="dhr-amber-valley-Y",
            process="domestic-homicide-review",
            review_carried_out=True,
        ),
    ):
        await run(records.record_case, record)

    figures = await community_trigger_figures(session_factory, "amber-valley", 2025)
    assert figures == {
        "applications": 4,
        "threshold_not_met": 2,
        "reviews_carried_out": 2,
        "reviews_with_recommendations": 1,
        "late_entries": 0,  # every case here was opened (T0) before its year ended
        "late_entries_with_reason": 0,
    }
    assert (await community_trigger_figures(session_factory, "amber-valley", 2024))[
        "applications"
    ] == 1


async def test_list_cases_filters_and_finds_overdue(
    records: RecordActivities, session_factory: SessionFactory
) -> None:
    """Filters combine; a case is overdue only when open and its deadline is before the day."""
    for record in (
        case("LATE", next_deadline=date(2025, 4, 8)),
        case("DUE-TODAY", next_deadline=date(2025, 4, 9), stage="review"),
        case(
            "CLOSED",
            next_deadline=date(2025, 4, 3),
            stage="closed",
            closed_at=T0,
            closed_reason="withdrawn",
        ),
        case("NO-DEADLINE"),
        case("ELSEWHERE", case_id="ct-erewash-E", area="erewash", next_deadline=date(2025, 4, 1)),
    ):
        await run(records.record_case, record)

    def refs(rows: list[Any]) -> list[str]:
        return [row.reference for row in rows]

    assert refs(await list_cases(session_factory, area="amber-valley")) == [
        "CLOSED",
        "LATE",
        "DUE-TODAY",
        "NO-DEADLINE",
    ]
    assert refs(await list_cases(session_factory, stage="review")) == ["DUE-TODAY"]
    assert refs(await list_cases(session_factory, process="dhr")) == []
    overdue = await list_cases(session_factory, overdue_on=date(2025, 4, 9))
    assert refs(overdue) == ["ELSEWHERE", "LATE"]
    assert refs(
        await list_cases(
            session_factory, process=CT, area="amber-valley", overdue_on=date(2025, 4, 9)
        )
    ) == ["LATE"]
