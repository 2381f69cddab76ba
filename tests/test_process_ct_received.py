"""Received dates at the edge: none in the future, and a late entry only with a reason shown
beside the figures (issue 12, defect 10)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from activities.db import Case, Decision, make_engine, make_session_factory, migrate
from activities.queries import community_trigger_figures
from tests.test_cli import example_file, invoke, isolated  # noqa: F401 (autouse fixture)
from workflows.rules.community_trigger import figures_already_due


def shifted_file(tmp_path: Path, days: int, **changes: Any) -> Path:
    """The example application with every date moved by `days`."""
    path = example_file(tmp_path)
    data = json.loads(path.read_text())

    def move(value: str) -> str:
        return (date.fromisoformat(value) + timedelta(days=days)).isoformat()

    data["received_on"] = move(data["received_on"])
    for complaint in data["complaints"]:
        complaint["behaviour_on"] = move(complaint["behaviour_on"])
        complaint["reported_on"] = move(complaint["reported_on"])
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_future_received_date_is_refused_by_check_and_start(tmp_path: Path) -> None:
    """An application cannot have been received after today."""
    path = shifted_file(tmp_path, 200)
    result = invoke("check", "community-trigger", "--file", str(path), "--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "future_date" and error["fields"] == ["received_on"]
    assert "in the future" in error["message"]
    started = invoke("start", "community-trigger", "--file", str(path))
    assert started.exit_code == 2 and "in the future" in started.stderr


def test_a_received_date_whose_figures_are_due_needs_a_late_entry_reason(tmp_path: Path) -> None:
    """A date in a financial year already ended changes published figures: say why, or no."""
    path = shifted_file(tmp_path, -800)
    result = invoke("check", "community-trigger", "--file", str(path), "--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "late_entry_reason_required"
    assert error["fields"] == ["late_entry_reason"]
    path = shifted_file(tmp_path, -800, late_entry_reason="Paper form found in the post room")
    assert invoke("check", "community-trigger", "--file", str(path)).exit_code == 0


def test_figures_are_due_once_the_financial_year_has_ended() -> None:
    """31 March 2026 ends the year 2025-26: its figures are due from 1 April 2026."""
    assert not figures_already_due(date(2026, 3, 31), date(2026, 3, 31))
    assert figures_already_due(date(2026, 3, 31), date(2026, 4, 1))
    assert not figures_already_due(date(2026, 4, 1), date(2027, 3, 31))
    assert figures_already_due(date(2025, 4, 1), date(2026, 4, 1))


async def recorded_late_entries(isolated: Path) -> dict[str, int]:  # noqa: F811
    """Three Erewash applications received in May 2025, two entered after March 2026."""
    url = f"sqlite+aiosqlite:///{isolated / 'data' / 'records.db'}"
    (isolated / "data").mkdir(exist_ok=True)
    await migrate(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    async with sessions() as session, session.begin():
        for reference, opened, reason in (
            ("L-1", datetime(2025, 5, 2, tzinfo=UTC), None),
            ("L-2", now, "Paper form found in the post room"),
            ("L-3", now, None),
        ):
            case_id = f"ct-erewash-{reference}"
            session.add(
                Case(
                    case_id=case_id, process="community-trigger", area="erewash",
                    reference=reference, received_on=date(2025, 5, 1), policy="derbyshire-ct v1",
                    opened_at=opened, opened_by="c@example.org", stage="threshold",
                    updated_at=opened,
                )
            )  # fmt: skip
            if reason:
                session.add(
                    Decision(
                        idempotency_key=f"{case_id}:decision-late-entry:1", case_id=case_id,
                        step="late-entry", outcome="entered late", decided_by="c@example.org",
                        decided_at=opened, reasons=[reason],
                    )
                )  # fmt: skip
    figures = await community_trigger_figures(sessions, "erewash", 2025)
    await engine.dispose()
    return figures


def test_late_entries_are_counted_beside_the_figures(isolated: Path) -> None:  # noqa: F811
    """The year's figures say how many applications were entered after they were due, and how
    many of those have their reason recorded; `cspflow report` prints it under the table."""
    figures = asyncio.run(recorded_late_entries(isolated))
    assert figures["applications"] == 3
    assert (figures["late_entries"], figures["late_entries_with_reason"]) == (2, 1)
    result = invoke("report", "community-trigger", "--area", "erewash", "--year", "2025")
    assert result.exit_code == 0, result.output
    assert "2 late entries" in result.stdout and "1 with a recorded reason" in result.stdout
