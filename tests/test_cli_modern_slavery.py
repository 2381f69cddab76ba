"""`cspflow example|schema|check modern-slavery`: the duty-to-notify decision (MSA 2015 s.52),
through the CLI.

A machine caller reads `--json`: the decision's fields on success, and on an input error
`{"error": {"code", "fields", "message"}}` on standard output with exit code 2. A person reads
the decision in words at 80 columns. Neither ever carries the person's date of birth or the
reasonable-grounds rationale (s.52(3); decision-rules §2).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from starter.cli import app
from starter.processes.modern_slavery import WIDTH

runner = CliRunner()


@pytest.fixture(autouse=True)
def terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh data folder, the shipped directory, and the 80 columns the view is written for."""
    monkeypatch.setenv("CSPFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CSPFLOW_DIRECTORY_FILE", raising=False)
    monkeypatch.setenv("COLUMNS", str(WIDTH))


def example(**encounter: Any) -> dict[str, Any]:
    """`cspflow example modern-slavery`'s file, with some of the encounter's fields replaced."""
    printed = runner.invoke(app, ["example", "modern-slavery"])
    assert printed.exit_code == 0, printed.output
    data: dict[str, Any] = json.loads(printed.stdout)
    return {**data, "encounter": {**data["encounter"], **encounter}}


def check(tmp_path: Path, data: dict[str, Any] | str, *extra: str) -> Any:
    path = tmp_path / "encounter.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return runner.invoke(app, ["check", "modern-slavery", "--file", str(path), *extra])


def personal_text(data: dict[str, Any]) -> list[str]:
    """What the output must never carry: the date of birth, as given and in words, and any
    sentence of the rationale."""
    encounter = data["encounter"]
    found = [s.strip() for s in encounter["reasonable_grounds_rationale"].split(".") if s.strip()]
    born = date.fromisoformat(encounter["age"]["date_of_birth"])
    return [*found, born.isoformat(), born.strftime("%d/%m/%Y"), f"{born.day} {born:%B %Y}"]


def test_the_example_round_trips_to_an_anonymous_duty_to_notify_report(tmp_path: Path) -> None:
    """The example encounter (a district council, England, an adult who declines) checks as the
    statutory duty discharged by an anonymous report, with no identifying details."""
    data = example()
    result = check(tmp_path, data, "--json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["duty_applies"] and decision["duty_source"] == "statute"
    assert decision["s52_paragraph"] == "f"
    assert decision["age_treatment"] == "adult"
    assert decision["route"] == "dtn_anonymous"
    assert decision["identifying_details_allowed"] is False
    assert decision["reasons"]
    assert data["reference"] == "AV-MS-EXAMPLE-001"


def test_the_human_view_says_the_duty_the_route_and_the_details_in_80_columns(
    tmp_path: Path,
) -> None:
    """Without --json the decision is written in words, every line within 80 columns."""
    result = check(tmp_path, example())
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Duty to notify: applies, by statute" in out
    assert "s.52(5)(f)" in out
    assert "anonymous Duty to Notify report" in out
    assert "Identifying details: none may be sent" in out
    assert "Safeguarding referrals: none required" in out
    assert "dtn_anonymous" not in out and "duty_source" not in out
    assert WIDTH == 80 and max(len(line) for line in out.splitlines()) <= WIDTH


@pytest.mark.parametrize("as_json", [True, False])
def test_the_output_carries_no_date_of_birth_or_rationale(tmp_path: Path, as_json: bool) -> None:
    """Neither view repeats the person's date of birth (in any form) or the rationale."""
    data = example()
    result = check(tmp_path, data, *(["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    for text in personal_text(data):
        assert text not in result.output


def test_a_child_is_referred_into_the_nrm_with_a_childrens_safeguarding_referral(
    tmp_path: Path,
) -> None:
    """A stated child takes the child NRM route, without consent, and the children's
    safeguarding referral (M4, M5), in JSON and in words."""
    data = example(age={"basis": "stated_child"}, consent_outcome=None)
    result = check(tmp_path, data, "--json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["age_treatment"] == "child"
    assert decision["route"] == "nrm_referral_child"
    assert decision["identifying_details_allowed"] is True
    assert decision["children_safeguarding_referral"] is True
    words = check(tmp_path, data).stdout
    assert "refer the child into the National Referral Mechanism" in words
    assert "children's safeguarding referral" in words


def test_an_adult_lacking_capacity_waits_for_a_best_interests_decision(tmp_path: Path) -> None:
    """The view names the Mental Capacity Act condition on sending identifying details."""
    result = check(tmp_path, example(consent_outcome="lacks_capacity"))
    assert result.exit_code == 0, result.output
    assert "not until a best-interests decision to refer" in result.stdout
    assert "an adult safeguarding referral" in result.stdout


@pytest.mark.parametrize(
    ("data", "extra", "code", "field"),
    [
        (example, ("--area", "atlantis"), "unknown_area", "--area"),
        (lambda: {**example(), "area": "atlantis"}, (), "unknown_area", "area"),
        (
            lambda: example(consent_outcome="not_recorded"),
            (),
            "consent_outcome_missing",
            "encounter.consent_outcome",
        ),
        (
            lambda: example(reasonable_grounds="yes"),
            (),
            "schema_error",
            "encounter.reasonable_grounds",
        ),
        (lambda: {**example(), "officer": "x"}, (), "schema_error", "officer"),
    ],
    ids=["area-option", "area-field", "consent", "strict-boolean", "unknown-field"],
)
def test_an_input_error_is_a_stable_code_and_its_fields_on_stdout(
    tmp_path: Path, data: Any, extra: tuple[str, ...], code: str, field: str
) -> None:
    """Each class of input error exits 2 with its code and the field at fault, as JSON."""
    result = check(tmp_path, data(), "--json", *extra)
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == code
    assert field in error["fields"]
    assert error["message"]
    if code == "unknown_area":
        assert "amber-valley" in error["message"]


def test_a_duplicate_key_is_refused_as_every_process_refuses_it(tmp_path: Path) -> None:
    """A file giving one key twice is refused before validation, naming the key, not read as
    its last value: the CLI's reader refuses it for every process with code invalid_input."""
    text = json.dumps(example()).replace('"area": "amber-valley"', '"area": "x", "area": "y"', 1)
    result = check(tmp_path, text, "--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "invalid_input"
    assert "the key 'area' appears twice" in error["message"]


def test_a_reference_holds_no_personal_details(tmp_path: Path) -> None:
    """The reference forms the case id, so a space or '@' is refused at the edge."""
    result = check(tmp_path, {**example(), "reference": "Jane Smith"}, "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert (error["code"], error["fields"]) == ("schema_error", ["reference"])


def test_schema_says_booleans_are_booleans() -> None:
    """The published schema types every yes/no answer as a JSON boolean."""
    result = runner.invoke(app, ["schema", "modern-slavery"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    encounter = schema["$defs"]["ModernSlaveryEncounter"]["properties"]
    assert encounter["reasonable_grounds"]["type"] == "boolean"
    assert schema["additionalProperties"] is False


def test_the_case_id_is_ms_area_reference() -> None:
    """Case ids say what they are: 'ms-{area}-{reference}', '/' made safe."""
    from starter.processes.modern_slavery import ms_example
    from starter.registry import process

    definition = process("modern-slavery")
    made = definition.example("AV/MS/7", ms_example().encounter.encountered_on)
    assert definition.case_id(made) == "ms-amber-valley-AV-MS-7"


def test_modern_slavery_cannot_be_started_yet_and_says_what_can(tmp_path: Path) -> None:
    """Until the duty's workflow lands, `start modern-slavery` refuses and points to `check`."""
    path = tmp_path / "encounter.json"
    path.write_text(json.dumps(example()))
    result = runner.invoke(app, ["start", "modern-slavery", "--file", str(path)])
    assert result.exit_code == 2
    assert "cspflow check modern-slavery" in result.stderr
    assert result.stdout == ""
