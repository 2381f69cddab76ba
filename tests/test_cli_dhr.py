"""`cspflow example|schema|check dhr`: the screening contract of issue 14, through the CLI.

A machine caller reads `--json`: the screening's fields on success, and on an input error
`{"error": {"code", "fields", "message"}}` on standard output with exit code 2, so the class of
error and the field at fault need no parsing of the wording.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from starter.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CSPFLOW_DIRECTORY_FILE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def example(**victim: Any) -> dict[str, Any]:
    result = runner.invoke(app, ["example", "dhr"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    data["victim"].update(victim)
    return data


def check(tmp_path: Path, data: dict[str, Any], *extra: str) -> Any:
    path = tmp_path / "notification.json"
    path.write_text(json.dumps(data))
    return runner.invoke(app, ["check", "dhr", "--file", str(path), "--json", *extra])


def test_the_example_requires_a_review_and_json_has_every_field(tmp_path: Path) -> None:
    """The example notification screens as a DHR with every field the issue names."""
    result = check(tmp_path, example())
    assert result.exit_code == 0, result.output
    screening = json.loads(result.stdout)
    assert {
        "aged_16_or_over",
        "age",
        "limbs_met",
        "death_link_met",
        "review_required",
        "route",
        "consider_joint",
        "decision_due",
        "reasons",
    } <= set(screening)
    assert screening["route"] == "dhr" and screening["limbs_met"] == ["a"]
    notified = date.fromisoformat(example()["notified_on"])
    assert date.fromisoformat(screening["decision_due"]) > notified


@pytest.mark.parametrize(
    ("victim", "code", "field"),
    [
        ({"age_at_death": 70}, "inconsistent_age", "victim.age_at_death"),
        ({"date_of_birth": None}, "victim_age_missing", "victim.date_of_birth"),
        ({"care_and_support_needs": "yes"}, "schema_error", "victim.care_and_support_needs"),
    ],
)
def test_an_input_error_is_a_stable_code_and_its_fields_on_stdout(
    tmp_path: Path, victim: dict[str, Any], code: str, field: str
) -> None:
    """Each class of input error exits 2 with its code and the field at fault, as JSON."""
    data = example(**victim)
    data["victim"] = {k: v for k, v in data["victim"].items() if v is not None}
    result = check(tmp_path, data)
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == code
    assert field in error["fields"]
    assert error["message"]


def test_an_unknown_area_is_named_with_its_code(tmp_path: Path) -> None:
    """--area naming no area of the directory is `unknown_area`, not a screening."""
    result = check(tmp_path, example(), "--area", "atlantis")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "unknown_area"


def test_schema_says_booleans_are_booleans() -> None:
    """The published schema types every yes/no answer as a JSON boolean."""
    result = runner.invoke(app, ["schema", "dhr"])
    schema = json.loads(result.stdout)
    assert schema["properties"]["domestic_abuse_concern"]["type"] == "boolean"


def test_a_dhr_can_be_started_and_its_steps_are_offered() -> None:
    """With its workflow registered, `start dhr` is allowed and every step has a verb."""
    from starter.registry import startable

    definition = startable("dhr")
    assert definition.status_model is not None
    verbs = {s.verb for s in definition.steps}
    assert {"decide", "declare", "terms", "sign-off", "submit-qa", "publish", "close"} <= verbs


async def _record_a_review_with_a_late_imr(records_url: str, today: date) -> None:
    """Write, with the real record activities, a review notified 30 days ago and an IMR late."""
    from temporalio.testing import ActivityEnvironment

    from activities.db import make_engine, make_session_factory, migrate
    from activities.records import RecordActivities
    from schemas.records import CaseRecord, DeadlineRow, DecisionRow, TaskRow

    await migrate(records_url)
    engine = make_engine(records_url)
    records = RecordActivities(make_session_factory(engine))
    case_id = "dhr-amber-valley-AV-DHR-7"
    notified = today - timedelta(days=30)
    opened = datetime.combine(notified, datetime.min.time(), UTC)
    writes: list[tuple[Any, Any]] = [
        (
            records.record_case,
            CaseRecord(
                case_id=case_id,
                process="dhr",
                area="amber-valley",
                reference="AV-DHR-7",
                received_on=notified,
                policy="amber-valley-dhr-v1",
                opened_at=opened,
                opened_by="coordinator@example.org",
                stage="agency-reports",
                next_deadline=today - timedelta(days=2),
                deadlines=(
                    DeadlineRow(
                        name="review-decision",
                        due=today - timedelta(days=20),
                        state="missed",
                        completed_on=today - timedelta(days=15),
                        days_late=5,
                    ),
                    DeadlineRow(
                        name="completion-target", due=today - timedelta(days=2), state="open"
                    ),
                    DeadlineRow(name="dac-copy", due=today + timedelta(days=2), state="open"),
                ),
            ),
        ),
        *(
            (
                records.record_decision,
                DecisionRow(
                    idempotency_key=f"{case_id}:decision-{step}:{n}",
                    case_id=case_id,
                    step=step,
                    outcome=outcome,
                    decided_by="coordinator@example.org",
                    decided_at=opened,
                ),
            )
            for n, (step, outcome) in enumerate(
                (("proposal", "dhr"), ("review-decision", "review")), 1
            )
        ),
        (
            records.record_task,
            TaskRow(
                task_id=f"{case_id}.task.imr.amber-valley-council",
                case_id=case_id,
                agency="amber-valley-council",
                kind="imr",
                requested_on=notified,
                due=today - timedelta(days=3),
                state="overdue",
            ),
        ),
    ]
    try:
        for activity_fn, arg in writes:
            await ActivityEnvironment().run(activity_fn, arg)
    finally:
        await engine.dispose()


def test_report_dhr_json_counts_the_year_and_lists_open_reviews(tmp_path: Path) -> None:
    """`report dhr --format json` gives the year's counts and each open review's hold-ups."""
    from starter.settings import Settings

    today = date.today()
    asyncio.run(_record_a_review_with_a_late_imr(Settings().records_url, today))
    year = today.year if today.month >= 4 else today.year - 1

    result = runner.invoke(
        app, ["report", "dhr", "--area", "amber-valley", "--year", str(year), "--format", "json"]
    )

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["process"], data["period_start"]) == ("dhr", f"{year}-04-01")
    assert data["decided_to_review"] == data["decided_to_review_dhr"] == 1
    assert data["decided_not_to_review"] == data["qa_submissions"] == 0
    assert data["open_cases"] == [
        {
            "reference": "AV-DHR-7",
            "notified_on": (today - timedelta(days=30)).isoformat(),
            "age_days": "30",
            "stage": "Waiting for chronologies and IMRs",
            "missed_deadlines": "Decide whether to hold a review (due "
            f"{(today - timedelta(days=20)).isoformat()}, done 5 days late, on "
            f"{(today - timedelta(days=15)).isoformat()}); Complete the review (due "
            f"{(today - timedelta(days=2)).isoformat()}, 2 days late)",
            "late_agencies": f"Amber Valley Borough Council (IMR, due "
            f"{(today - timedelta(days=3)).isoformat()}, 3 days late)",
        }
    ]
    table = runner.invoke(app, ["report", "dhr", "--area", "amber-valley", "--year", str(year)])
    assert table.exit_code == 0, table.output
    assert "Decisions to hold a review" in table.stdout and "AV-DHR-7" in table.stdout
