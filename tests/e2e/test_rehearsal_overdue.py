"""Issue 12, defect 4, as it was seen: the rehearsal steps through the `cspflow` command.

Start, `decide --confirm`, `meeting --on`, `clock advance --to` the day after the met
meeting-date deadline: the case is not listed by `cases --overdue`, its next deadline is the next
open one, and once closed it has none.
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.e2e.test_cli_rehearsal import CASE_ID, System, rehearsal_time, system  # noqa: F401


def test_cases_overdue_lists_no_case_whose_due_deadlines_were_all_met(
    system: System,  # noqa: F811
) -> None:
    """The rehearsal of the report, with the dates moved to today's."""
    application = system.run("example", "community-trigger").stdout
    (system.cwd / "application.json").write_text(application)
    system.run("start", "community-trigger", "--file", "application.json")
    system.wait_for(
        "the proposal", lambda: system.json("status", CASE_ID).get("proposed_threshold")
    )
    system.run("decide", CASE_ID, "--confirm")
    status = system.wait_for(
        "the meeting stage",
        lambda: (s := system.json("status", CASE_ID))["stage"] == "meeting" and s,
    )
    meeting_date = next(d for d in status["deadlines"] if d["name"] == "meeting-date")
    meeting_due = date.fromisoformat(meeting_date["due"])
    meeting_on = meeting_due + timedelta(days=35)
    meeting_on += timedelta(days=(1 - meeting_on.weekday()) % 7)  # a Tuesday
    system.run("meeting", CASE_ID, "--on", meeting_on.isoformat())
    system.wait_for(
        "the papers deadline",
        lambda: any(
            d["name"] == "meeting-papers" for d in system.json("status", CASE_ID)["deadlines"]
        ),
    )
    system.run("clock", "advance", "--to", (meeting_due + timedelta(days=1)).isoformat())
    today = rehearsal_time(system).date()
    assert today > meeting_due

    status = system.json("status", CASE_ID)
    open_dues = [date.fromisoformat(d["due"]) for d in status["deadlines"] if d["state"] == "open"]
    open_dues += [
        date.fromisoformat(t["due"]) for t in status["tasks"] if t["state"] in ("open", "overdue")
    ]
    expected = min(open_dues)
    [row] = [r for r in system.json("cases") if r["case_id"] == CASE_ID]
    assert row["next_deadline"] == expected.isoformat()
    overdue = [r["case_id"] for r in system.json("cases", "--overdue")]
    assert (CASE_ID in overdue) == (expected < today)

    system.run("close", CASE_ID, "--reason", "withdrawn")
    row = system.wait_for(
        "the case to close",
        lambda: next(
            (r for r in system.json("cases") if r["case_id"] == CASE_ID and r["closed_at"]), None
        ),
    )
    assert row["next_deadline"] is None
    assert CASE_ID not in [r["case_id"] for r in system.json("cases", "--overdue")]
