"""`cspflow audit replay --from DIR`: stored and exported histories replay with no server, and a
deliberately non-deterministic change is caught with the point of divergence named."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from typer.testing import CliRunner

from starter.audit.replay import (
    ReplayReport,
    describe_divergence,
    export_histories,
    load_histories,
    replay_histories,
)
from starter.cli import app
from tests.audit.divergent import FetchesHolidaysFirst, PausesBeforeOpening
from tests.conftest import KEYRING
from workflows.partner_task import PartnerTaskWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"
STORED = sorted(p for p in HISTORIES.glob("*.json") if "keys" not in p.name)
# A whole Community Trigger case whose first command was scheduling the area's setup (event 5).
CASE_HISTORY = HISTORIES / "community-trigger-full-v1.0.json"

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test key ring, a fresh data folder, and no running dev system."""
    monkeypatch.setenv("CSPFLOW_PAYLOAD_KEYS", KEYRING.to_json())
    monkeypatch.setenv("CSPFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "400")


def replay_cli(*args: str) -> Any:
    return runner.invoke(app, ["audit", "replay", *args])


def stored_case() -> WorkflowHistory:
    return next(h for h in load_histories(HISTORIES) if h.workflow_id == CASE_HISTORY.stem)


def one_case(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    folder.mkdir(parents=True)
    shutil.copy(CASE_HISTORY, folder / "ct-north-FULL-1.json")
    return folder


def test_every_stored_history_replays_cleanly_from_the_folder() -> None:
    """`audit replay --from tests/histories` replays each stored history and exits 0."""
    result = replay_cli("--from", str(HISTORIES))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "replayed cleanly" in line]
    assert len(lines) == len(STORED)
    for path in STORED:
        assert any(line.startswith(f"{path.stem} (") for line in lines), path.name
    assert f"Replayed {len(STORED)} histories against this release: {len(STORED)} cleanly" in (
        result.stdout
    )


async def test_an_extra_timer_before_the_first_activity_is_named_as_the_divergence() -> None:
    """A release that sleeps before its first activity diverges at event 5, and says so."""
    [report] = await replay_histories(
        [stored_case()], KEYRING, workflows=[PausesBeforeOpening, PartnerTaskWorkflow]
    )
    assert not report.ok
    assert report.workflow_type == "CommunityTrigger"
    assert report.event_id == 5 and report.event_type == "ActivityTaskScheduled"
    assert report.divergence is not None
    assert "event 5" in report.divergence
    assert "'community_trigger_setup'" in report.divergence
    assert "started a timer" in report.divergence
    assert report.raw_error is not None and "Nondeterminism" in report.raw_error


async def test_a_different_first_activity_is_named_with_both_activities() -> None:
    """Scheduling another activity first names the one recorded and the one the code chose."""
    [report] = await replay_histories(
        [stored_case()], KEYRING, workflows=[FetchesHolidaysFirst, PartnerTaskWorkflow]
    )
    assert not report.ok and report.event_id == 5
    assert report.divergence is not None
    assert "'community_trigger_setup'" in report.divergence
    assert "'bank_holidays' instead" in report.divergence


def test_the_command_exits_1_and_names_the_divergence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a non-deterministic release, `audit replay` prints the divergence and exits 1."""
    monkeypatch.setattr(
        "starter.audit.replay.registered_workflows",
        lambda: [PausesBeforeOpening, PartnerTaskWorkflow],
    )
    junit = tmp_path / "replay.xml"
    result = replay_cli("--from", str(one_case(tmp_path)), "--junit", str(junit))
    assert result.exit_code == 1, result.output
    assert "ct-north-FULL-1 (CommunityTrigger" in result.stdout
    assert "DIVERGED: at event 5" in result.stdout
    assert "workflow.patched" in result.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and "event 5" in (failure.get("message") or "")

    as_json = replay_cli("--from", str(one_case(tmp_path / "again")), "--json")
    assert as_json.exit_code == 1
    results = json.loads(as_json.stdout)
    assert results["diverged"] == 1 and results["clean"] == 0
    assert results["reports"][0]["event_id"] == 5


def test_exported_histories_replay_from_the_folder_with_junit_output(tmp_path: Path) -> None:
    """Histories written by export_histories replay with --from; JUnit has one case each."""
    histories = load_histories(HISTORIES)
    written = export_histories(histories, tmp_path / "exported")
    assert sorted(p.name for p in written) == sorted(f"{p.stem}.json" for p in STORED)
    junit = tmp_path / "replay.xml"
    result = replay_cli("--from", str(tmp_path / "exported"), "--junit", str(junit), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["clean"] == len(STORED)
    root = ET.parse(junit).getroot()
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(STORED)
    assert not root.findall(".//failure")
    assert {c.get("classname") for c in cases} == {
        "replay.CommunityTrigger",
        "replay.PartnerTask",
        "replay.DomesticHomicideReview",
    }


def test_a_workflow_with_several_runs_is_exported_one_file_per_run(tmp_path: Path) -> None:
    """Runs of one workflow id (continue-as-new) get numbered files that load under that id."""
    renamed = [WorkflowHistory("ct-north-LONG-1", h.events) for h in load_histories(HISTORIES)[:2]]
    written = export_histories(renamed, tmp_path)
    assert [p.name for p in written] == ["ct-north-LONG-1.run-1.json", "ct-north-LONG-1.run-2.json"]
    assert [h.workflow_id for h in load_histories(tmp_path)] == ["ct-north-LONG-1"] * 2


async def test_a_history_without_its_key_is_reported_not_replayed() -> None:
    """Without the key the payloads were encrypted with, the report says which setting to fix."""
    [report] = await replay_histories([stored_case()], None)
    assert not report.ok and report.event_id is None
    assert report.divergence is not None and "CSPFLOW_PAYLOAD_KEYS" in report.divergence


def test_from_refuses_a_folder_without_histories(tmp_path: Path) -> None:
    """A folder holding no history is bad input (exit 2), naming the command that writes them."""
    (tmp_path / "keys.json").write_text('{"current": "k1"}')
    result = replay_cli("--from", str(tmp_path))
    assert result.exit_code == 2
    assert "cspflow audit export" in result.stderr


@pytest.mark.parametrize(
    ("inner", "event_id", "words"),
    [
        (
            "No command scheduled for event HistoryEvent(id: 5, ActivityTaskScheduled)",
            5,
            "did nothing there",
        ),
        (
            "Child workflow machine does not handle this event: HistoryEvent(id: 5, "
            "ActivityTaskScheduled)",
            5,
            "started a child workflow instead",
        ),
        (
            "Non-deprecated patch marker encountered for change ct-victim-consultation-v2, but "
            "there is no corresponding change command!",
            None,
            "patch 'ct-victim-consultation-v2'",
        ),
    ],
)
def test_sdk_core_nondeterminism_messages_are_put_in_plain_words(
    inner: str, event_id: int | None, words: str
) -> None:
    """Each sdk-core message names the event (where it has one) and what the code did."""
    raw = (
        "Workflow activation completion failed: Failure { failure: Some(Failure { message: "
        f'"[TMPRL1100] Nondeterminism error: {inner}", source: "" }}) }}'
    )
    found, sentence = describe_divergence(raw, stored_case())
    assert found == event_id
    assert words in sentence
    if event_id is not None:
        assert "activity 'community_trigger_setup'" in sentence


def test_report_is_json_serialisable() -> None:
    """A report round-trips through JSON, as `--json` prints it."""
    report = ReplayReport(
        workflow_id="ct-north-1", run_id="r", workflow_type="CommunityTrigger", ok=True
    )
    assert ReplayReport.model_validate_json(report.model_dump_json()) == report
