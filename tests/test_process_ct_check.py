"""`cspflow check community-trigger` screens what the coordinator will assess (issue 12, defect 6).

The vulnerability override and the cumulative-impact assessment (ThresholdAssessment) may be
given in the application file under `assessment`; check applies the rules the `assess` step
applies, refusing an override the step would refuse, and start refuses it too.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from schemas.community_trigger import ThresholdDecision
from tests.test_cli import example_file, invoke, isolated  # noqa: F401 (autouse fixture)

OVERRIDE = {"officer": "Insp. Example", "role": "police-inspector"}


def application_file(tmp_path: Path, count: int, **changes: Any) -> Path:
    """The example application with its first `count` complaints and `changes`."""
    path = example_file(tmp_path)
    data = json.loads(path.read_text())
    data["complaints"] = data["complaints"][:count]
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def checked(path: Path, *args: str) -> ThresholdDecision:
    result = invoke("check", "community-trigger", "--file", str(path), "--json", *args)
    assert result.exit_code == 0, result.output
    return ThresholdDecision.model_validate_json(result.stdout)


def test_a_vulnerability_override_in_the_file_meets_the_threshold(tmp_path: Path) -> None:
    """One complaint, a vulnerable victim and an authorised officer's override: met (s.104(5))."""
    victims = [{"kind": "individual", "name": "Alex Example", "vulnerable": True}]
    plain = checked(application_file(tmp_path, 1, victims=victims))
    assert not plain.met
    path = application_file(
        tmp_path, 1, victims=victims, assessment={"vulnerability_override": OVERRIDE}
    )
    decision = checked(path)
    assert decision.met and not decision.statutory_met
    assert [r.rule for r in decision.local_rules if r.met] == ["vulnerability_override"]


def test_a_significant_cumulative_impact_in_the_file_meets_high_peaks_threshold(
    tmp_path: Path,
) -> None:
    """Two incidents (one reported too late to qualify) and an impact assessed as significant
    meet High Peak's cumulative-harm rule though its statutory test (2) is not met."""
    complaints = json.loads(application_file(tmp_path, 2).read_text())["complaints"]
    late = date.fromisoformat(complaints[0]["reported_on"]) - timedelta(days=60)
    complaints[0]["behaviour_on"] = late.isoformat()
    assert not checked(
        application_file(tmp_path, 2, complaints=complaints), "--area", "high-peak"
    ).met
    path = application_file(
        tmp_path, 2, complaints=complaints, assessment={"impact_significant": True}
    )
    decision = checked(path, "--area", "high-peak")
    assert decision.met and not decision.statutory_met
    assert [r.rule for r in decision.local_rules if r.met] == ["cumulative_harm"]


def test_an_override_the_assess_step_would_refuse_is_refused_by_check_and_start(
    tmp_path: Path,
) -> None:
    """An unauthorised role and no vulnerable victim: both reasons, the field, exit 2."""
    path = application_file(
        tmp_path, 1, assessment={"vulnerability_override": {**OVERRIDE, "role": "caretaker"}}
    )
    result = invoke("check", "community-trigger", "--file", str(path), "--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["fields"] == ["assessment.vulnerability_override"]
    assert "caretaker" in error["message"] and "vulnerable" in error["message"]
    started = invoke("start", "community-trigger", "--file", str(path))
    assert started.exit_code == 2 and "caretaker" in started.stderr
