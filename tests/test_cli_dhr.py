"""`cspflow example|schema|check dhr`: the screening contract of issue 14, through the CLI.

A machine caller reads `--json`: the screening's fields on success, and on an input error
`{"error": {"code", "fields", "message"}}` on standard output with exit code 2, so the class of
error and the field at fault need no parsing of the wording.
"""

from __future__ import annotations

import json
from datetime import date
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
