"""The `cspflow` command without Temporal: examples, schemas, screening, procedures, figures.

Everything here runs in-process through Typer's CliRunner against a fresh data folder; commands
that need Temporal are only driven as far as the point where they must refuse bad input before
connecting (the Temporal address points at a closed port, so a connection attempt would show).
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from schemas.community_trigger import Application, ThresholdDecision
from schemas.partner_task import RESPONSE_EXAMPLES, RESPONSE_MODELS
from starter import dev
from starter.cli import app
from starter.processes.community_trigger import community_trigger_example
from starter.settings import Settings

runner = CliRunner()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder, no running dev system, and a Temporal address nobody answers."""
    monkeypatch.setenv("CSPFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CSPFLOW_TEMPORAL_ADDRESS", f"127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("CSPFLOW_USER", "coordinator@example.org")
    monkeypatch.delenv("CSPFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps table cells at the terminal's width
    # `cspflow dev` configures logging to the stderr CliRunner closes afterwards; later tests
    # that log would then write to a closed file.
    monkeypatch.setattr("starter.logs.configure_logging", lambda *args, **kwargs: None)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def example_file(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(invoke("example", "community-trigger").stdout)
    data.update(changes)
    path = tmp_path / "application.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_example_is_a_valid_application_received_today() -> None:
    """`cspflow example community-trigger` prints an application that validates, dated today."""
    result = invoke("example", "community-trigger")
    assert result.exit_code == 0, result.output
    application = Application.model_validate_json(result.stdout)
    assert application.received_on == date.today()
    assert application.area == "amber-valley"
    assert application.application_reference == "AV-EXAMPLE-001"
    assert len(application.complaints) >= 3


def test_example_takes_a_reference() -> None:
    """--reference changes the application reference, so several example cases can be started."""
    result = invoke("example", "community-trigger", "--reference", "AV-2025-0042")
    assert Application.model_validate_json(result.stdout).application_reference == "AV-2025-0042"


def test_unknown_process_is_refused_with_the_known_ones() -> None:
    """A process name that does not exist is bad input, and the known ones are listed."""
    result = invoke("example", "channel-panel")
    assert result.exit_code == 2
    assert all(name in result.stderr for name in ("community-trigger", "dhr", "modern-slavery"))


def _properties_without_description(schema: dict[str, Any]) -> list[str]:
    defs = schema.get("$defs", {})

    def described(prop: dict[str, Any]) -> bool:
        if prop.get("description"):
            return True
        ref = prop.get("$ref") or next(
            (p.get("$ref") for p in prop.get("anyOf", []) + prop.get("allOf", []) if "$ref" in p),
            None,
        )
        return bool(ref and defs.get(ref.rsplit("/", 1)[-1], {}).get("description"))

    missing = []
    for owner, node in [(schema["title"], schema), *defs.items()]:
        for name, prop in node.get("properties", {}).items():
            if not described(prop):
                missing.append(f"{owner}.{name}")
    return missing


@pytest.mark.parametrize(
    ("process", "title"),
    [
        ("community-trigger", "Application"),
        ("dhr", "DhrNotification"),
        ("modern-slavery", "DutyToNotifyCase"),
    ],
)
def test_schema_describes_every_field(process: str, title: str) -> None:
    """Every property of a process's input JSON Schema, nested ones included, has a description
    (its own, or that of the type it refers to), so a file can be written without the code."""
    result = invoke("schema", process)
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["title"] == title
    assert _properties_without_description(schema) == []


def test_check_proposes_met_for_the_example_with_reasons_and_policy(tmp_path: Path) -> None:
    """`cspflow check` on the example says the threshold is met, with every reason and the
    policy name and version, without Temporal."""
    result = invoke("check", "community-trigger", "--file", str(example_file(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "Threshold MET" in result.stdout
    assert "derbyshire-ct v1" in result.stdout
    assert "statutory test met" in result.stdout
    assert "within one month beginning with the behaviour" in result.stdout


def test_check_json_is_a_threshold_decision(tmp_path: Path) -> None:
    """`cspflow check --json` prints a ThresholdDecision a machine can read."""
    result = invoke("check", "community-trigger", "--file", str(example_file(tmp_path)), "--json")
    assert result.exit_code == 0, result.output
    decision = ThresholdDecision.model_validate_json(result.stdout)
    assert decision.met and decision.qualifying_count == 3
    assert decision.reasons[-1] == f"policy {decision.policy}"


def test_check_area_option_judges_under_another_policy(tmp_path: Path) -> None:
    """--area judges the application under that area's policy (High Peak runs its own)."""
    result = invoke(
        "check",
        "community-trigger",
        "--file",
        str(example_file(tmp_path)),
        "--area",
        "high-peak",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert ThresholdDecision.model_validate_json(result.stdout).policy.startswith("high-peak-ct")


def test_check_not_met_without_complaints(tmp_path: Path) -> None:
    """An application with no complaints is screened as not met."""
    path = example_file(tmp_path, complaints=[])
    result = invoke("check", "community-trigger", "--file", str(path))
    assert result.exit_code == 0, result.output
    assert "Threshold NOT MET" in result.stdout


def test_check_unknown_area_is_bad_input(tmp_path: Path) -> None:
    """An area missing from the directory is refused, listing the known areas."""
    result = invoke(
        "check", "community-trigger", "--file", str(example_file(tmp_path)), "--area", "atlantis"
    )
    assert result.exit_code == 2
    assert "amber-valley" in result.stderr


def test_start_with_a_bad_file_names_every_field_and_starts_nothing(tmp_path: Path) -> None:
    """A bad application is refused with exit code 2, naming each field at fault, before any
    connection to Temporal is attempted."""
    data = json.loads(invoke("example", "community-trigger").stdout)
    data["area"] = "Amber Valley"
    data["received_on"] = "yesterday"
    del data["description"]
    data["complaints"][1]["reported_to"] = "Police!"
    data["colour"] = "blue"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = invoke("start", "community-trigger", "--file", str(path))
    assert result.exit_code == 2, result.output
    for field in ("area", "received_on", "description", "complaints[1].reported_to", "colour"):
        assert field in result.stderr
    assert "cannot reach Temporal" not in result.stderr
    assert result.stdout == ""


def test_start_refuses_a_mistyped_area_before_anything_starts(tmp_path: Path) -> None:
    """Issue 12 defect 1: `start` validates what `check` validates. A mistyped area used to start
    a case whose workflow failed with UnknownArea; it is refused at the edge (exit 2), naming the
    field and the known areas, and no connection to Temporal is attempted."""
    path = example_file(tmp_path, area="amber-vally")
    result = invoke("start", "community-trigger", "--file", str(path))
    assert result.exit_code == 2, result.output
    assert "area: no area 'amber-vally'" in result.stderr and "amber-valley" in result.stderr
    assert "cannot reach Temporal" not in result.stderr
    assert result.stdout == ""


def test_a_mistyped_agency_in_a_complaint_is_refused_by_check_and_start(tmp_path: Path) -> None:
    """Issue 12 defect 2: a complaint's `reported_to` naming no agency of the directory counted
    silently; now `check` and `start` refuse it naming the field and the known agencies, and
    `--json` callers get the code `unknown_reference` and the field."""
    data = json.loads(invoke("example", "community-trigger").stdout)
    data["complaints"][1]["reported_to"] = "derbyshire-polise"
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    for command in ("check", "start"):
        result = invoke(command, "community-trigger", "--file", str(path))
        assert result.exit_code == 2, result.output
        assert "complaints[1].reported_to" in result.stderr
        assert "'derbyshire-polise'" in result.stderr and "derbyshire-police" in result.stderr
    result = invoke("check", "community-trigger", "--file", str(path), "--json")
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "unknown_reference"
    assert error["fields"] == ["complaints[1].reported_to"]


def test_start_with_a_file_that_is_not_json_is_bad_input(tmp_path: Path) -> None:
    """A file that is not JSON is refused with the line and column, exit code 2."""
    path = tmp_path / "broken.json"
    path.write_text('{"area": "amber-valley",\n', encoding="utf-8")
    result = invoke("start", "community-trigger", "--file", str(path))
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr and "line" in result.stderr


def test_start_with_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    """A file that does not exist is refused, exit code 2."""
    result = invoke("start", "community-trigger", "--file", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert "nope.json" in result.stderr


def test_start_without_temporal_says_how_to_start_it(tmp_path: Path) -> None:
    """A valid application with no Temporal running is refused with exit 1 and what to do."""
    result = invoke("start", "community-trigger", "--file", str(example_file(tmp_path)))
    assert result.exit_code == 1
    assert "cspflow dev" in result.stderr


def test_step_refuses_a_file_acting_as_someone_else(tmp_path: Path) -> None:
    """A step file whose `by` names someone other than CSPFLOW_USER is refused (exit 2)."""
    path = tmp_path / "close.json"
    path.write_text(json.dumps({"by": "someone.else@example.org", "reason": "withdrawn"}))
    result = invoke("step", "ct-amber-valley-AV-1", "close", "--file", str(path))
    assert result.exit_code == 2
    assert "someone.else@example.org" in result.stderr and "CSPFLOW_USER" in result.stderr


def test_step_validates_the_file_before_connecting(tmp_path: Path) -> None:
    """A step file with a wrong field is refused with the field named, exit code 2."""
    path = tmp_path / "meeting.json"
    path.write_text(json.dumps({"meeting_on": "2026-02-30"}))
    result = invoke("step", "ct-amber-valley-AV-1", "meeting", "--file", str(path))
    assert result.exit_code == 2
    assert "meeting_on" in result.stderr


def test_step_unknown_verb_lists_the_steps(tmp_path: Path) -> None:
    """An unknown step names the steps there are."""
    path = tmp_path / "x.json"
    path.write_text("{}")
    result = invoke("step", "ct-amber-valley-AV-1", "approve", "--file", str(path))
    assert result.exit_code == 2
    assert "appeal-decision" in result.stderr


def test_decide_needs_exactly_one_of_confirm_or_override() -> None:
    """`cspflow decide` with neither --confirm nor --override is bad input."""
    result = invoke("decide", "ct-amber-valley-AV-1")
    assert result.exit_code == 2
    assert "--confirm" in result.stderr


def test_decide_override_needs_a_reason() -> None:
    """An override without a reason is refused before anything is sent."""
    result = invoke("decide", "ct-amber-valley-AV-1", "--override", "--not-met")
    assert result.exit_code == 2
    assert "reason" in result.stderr


def test_meeting_refuses_a_date_that_is_not_a_date() -> None:
    """A meeting date that is not YYYY-MM-DD is refused, saying how a date is written."""
    result = invoke("meeting", "ct-amber-valley-AV-1", "--on", "next tuesday")
    assert result.exit_code == 2
    assert "meeting_on: Meeting date must be a real date, written year-month-day" in result.stderr


def test_a_date_that_does_not_exist_is_not_called_a_format_error() -> None:
    """`--on 2025-02-31` is told the date does not exist, in the console's words."""
    result = invoke("meeting", "ct-amber-valley-AV-1", "--on", "2025-02-31")
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert "meeting_on: Meeting date must be a real date: 2025-02-31 does not exist" in said
    assert "format" not in said


def test_policy_show_lists_threshold_rules_and_timescales() -> None:
    """`cspflow policy show` prints the procedure in force, named and versioned."""
    result = invoke("policy", "show", "high-peak")
    assert result.exit_code == 0, result.output
    assert "high-peak-ct v" in result.stdout
    assert "Threshold: 2 qualifying complaints" in result.stdout
    assert "hate_single_incident" in result.stdout
    assert "working days" in result.stdout


def test_policy_show_json_matches_the_directory() -> None:
    """`cspflow policy show --json` carries the policy exactly as the directory holds it."""
    result = invoke("policy", "show", "amber-valley", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["area"]["id"] == "amber-valley"
    assert data["label"] == "derbyshire-ct v1"
    assert data["policy"]["threshold_complaints"] == 3


def test_policy_show_unknown_area_is_bad_input() -> None:
    """An area not in the directory is refused with exit code 2."""
    assert invoke("policy", "show", "atlantis").exit_code == 2


@pytest.mark.parametrize("fmt, marker", [("md", "# "), ("html", "<html")])
def test_policy_publish_renders_the_public_procedure(fmt: str, marker: str) -> None:
    """`cspflow policy publish` renders the public procedure naming the policy it describes."""
    result = invoke("policy", "publish", "amber-valley", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert marker in result.stdout
    assert "derbyshire-ct" in result.stdout
    assert "Amber Valley" in result.stdout


def test_policy_publish_writes_a_file(tmp_path: Path) -> None:
    """--output writes the page to a file."""
    target = tmp_path / "procedure.html"
    result = invoke("policy", "publish", "amber-valley", "--format", "html", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert "<html" in target.read_text(encoding="utf-8")


ZEROS = {
    "applications": 0,
    "threshold_not_met": 0,
    "reviews_carried_out": 0,
    "reviews_with_recommendations": 0,
}


def test_report_on_an_empty_records_database_prints_zeros(isolated: Path) -> None:
    """The four s.104 figures of an area with no cases are zeros, for the financial year asked."""
    result = invoke(
        "report",
        "community-trigger",
        "--area",
        "amber-valley",
        "--year",
        "2025",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {key: data[key] for key in ZEROS} == ZEROS
    assert (data["period_start"], data["period_end"]) == ("2025-04-01", "2026-03-31")
    assert (isolated / "data" / "records.db").exists()


def test_report_csv_and_table() -> None:
    """The figures come as CSV (one header and one row) and as a table."""
    result = invoke(
        "report", "community-trigger", "--area", "erewash", "--year", "2025", "--format", "csv"
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1 and rows[0]["area"] == "erewash" and rows[0]["applications"] == "0"
    result = invoke("report", "community-trigger", "--area", "erewash", "--year", "2025")
    assert result.exit_code == 0, result.output
    assert "1 April 2025 to 31 March 2026" in result.stdout
    assert "Reviews that resulted in recommendations" in result.stdout


def test_cases_on_an_empty_records_database() -> None:
    """`cspflow cases` on a fresh records database lists nothing, as a table or JSON."""
    result = invoke("cases")
    assert result.exit_code == 0, result.output
    assert "No cases match" in result.stdout
    result = invoke("cases", "--json", "--overdue")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_the_cases_table_shows_the_most_pressing_and_says_how_many_more(isolated: Path) -> None:
    """`--limit` cuts the table, not the JSON, and the table says what it left out."""
    import sqlalchemy as sa

    from activities.db import Case, migrate_blocking

    url = f"sqlite:///{isolated / 'data' / 'records.db'}"
    (isolated / "data").mkdir(exist_ok=True)
    migrate_blocking(f"sqlite+aiosqlite:///{isolated / 'data' / 'records.db'}")
    now = datetime(2026, 1, 5, tzinfo=UTC)
    with sa.create_engine(url).begin() as connection:
        for n in range(3):
            connection.execute(
                sa.insert(Case).values(
                    case_id=f"ct-erewash-L-{n}", process="community-trigger", area="erewash",
                    reference=f"L-{n}", received_on=date(2025, 12, 1), policy="p v1",
                    opened_at=now, opened_by="c@example.org", stage="threshold",
                    next_deadline=date(2026, 1, 10 + n), updated_at=now,
                )
            )  # fmt: skip
    result = invoke("cases", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "ct-erewash-L-0" in result.stdout and "ct-erewash-L-2" not in result.stdout
    assert "Showing the first 2 of 3 cases" in result.stdout
    assert len(json.loads(invoke("cases", "--json", "--limit", "2").stdout)) == 3
    assert "Showing" not in invoke("cases").stdout


def test_mail_with_nothing_caught() -> None:
    """`cspflow mail` before any mail says so; `mail show` of an unknown id is bad input."""
    result = invoke("mail")
    assert result.exit_code == 0, result.output
    assert "No mail yet" in result.stdout
    assert invoke("mail", "show", "123").exit_code == 2


def test_clock_refuses_when_no_rehearsal_runs() -> None:
    """The clock moves only in rehearsal mode; without one it is refused with what to do."""
    result = invoke("clock", "advance", "10d")
    assert result.exit_code == 1
    assert "cspflow dev --rehearsal" in result.stderr


def test_clock_refuses_in_normal_mode(isolated: Path) -> None:
    """With the normal dev system running, the clock is refused: time is real."""
    write_state(isolated / "data", "normal")
    result = invoke("clock", "show")
    assert result.exit_code == 1
    assert "normal mode" in result.stderr


def test_response_examples_validate_against_their_models() -> None:
    """The example response `cspflow task show` prints for each task kind is valid."""
    assert set(RESPONSE_EXAMPLES) == set(RESPONSE_MODELS)
    for kind, model in RESPONSE_MODELS.items():
        model.model_validate(RESPONSE_EXAMPLES[kind])


def test_example_complaints_qualify_whatever_the_day() -> None:
    """The example meets the threshold on any day it is generated (month ends, leap days)."""
    from schemas.policy import CommunityTriggerPolicy, EscalationBody
    from workflows.rules.community_trigger import propose_threshold_decision

    policy = CommunityTriggerPolicy(
        name="test", version=1, escalation_body=EscalationBody(name="PCC", email="pcc@example.org")
    )
    for day in (date(2024, 2, 29), date(2025, 3, 31), date(2025, 12, 25), date(2026, 1, 1)):
        assert propose_threshold_decision(community_trigger_example(today=day), policy).met


# --------------------------------------------------------------------------------------------
# The dev system's state file and clock arguments
# --------------------------------------------------------------------------------------------


def write_state(data_dir: Path, mode: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    rehearsal = mode == "rehearsal"
    state = dev.DevState(
        mode=mode,
        temporal_address="127.0.0.1:17999",
        pid=os.getpid(),
        data_dir=str(data_dir / "rehearsal" if rehearsal else data_dir),
        smtp="127.0.0.1:8025",
        started_at=datetime.now(UTC),
    )
    dev.state_path(data_dir).write_text(state.model_dump_json(), encoding="utf-8")


def test_rehearsal_state_points_commands_at_the_rehearsal(tmp_path: Path) -> None:
    """While a rehearsal runs, commands use its server, its records and its mail, never a
    shared database."""
    write_state(tmp_path, "rehearsal")
    settings = Settings(data_dir=tmp_path, database_url="postgresql+asyncpg://x@y/z")
    resolved, state = dev.resolve_settings(settings)
    assert state is not None and state.mode == "rehearsal"
    assert resolved.temporal_address == "127.0.0.1:17999"
    assert resolved.data_dir == tmp_path / "rehearsal"
    assert resolved.records_url.endswith(str(tmp_path / "rehearsal" / "records.db"))
    assert resolved.mail_dir == tmp_path / "rehearsal" / "mail"


def test_a_stale_state_file_is_ignored(tmp_path: Path) -> None:
    """A dev.json left by a process that no longer runs does not redirect commands."""
    write_state(tmp_path, "rehearsal")
    path = dev.state_path(tmp_path)
    data = json.loads(path.read_text())
    data["pid"] = 2**22 + 12345  # above the default pid_max: no such process
    path.write_text(json.dumps(data))
    settings = Settings(data_dir=tmp_path)
    assert dev.resolve_settings(settings) == (settings, None)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10d", timedelta(days=10)),
        ("2w", timedelta(weeks=2)),
        ("36h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        (" 3D ", timedelta(days=3)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    """Durations are a whole number and a unit: w, d, h or m."""
    assert dev.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "d", "1.5d", "0d", "-2d", "10y"])
def test_parse_duration_refuses_anything_else(text: str) -> None:
    """Anything else is refused with an example of what works."""
    with pytest.raises(dev.DevError, match="10d"):
        dev.parse_duration(text)


def test_parse_target_date_means_noon_utc() -> None:
    """`--to 2026-03-01` moves to noon UTC that day, after its 08:00 notices went out."""
    assert dev.parse_target("2026-03-01") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert dev.parse_target("2026-03-01T07:30") == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    with pytest.raises(dev.DevError):
        dev.parse_target("1 March")


def test_dev_server_command_registers_search_attributes_and_wal(tmp_path: Path) -> None:
    """The embedded dev server keeps state in SQLite (WAL) and registers the case attributes."""
    settings = Settings(data_dir=tmp_path, temporal_address="127.0.0.1:7299", ui_port=8299)
    command = dev.server_command(settings, rehearsal=False)
    joined = " ".join(command)
    assert f"--db-filename {tmp_path / 'temporal.db'}" in joined
    assert "--sqlite-pragma journal_mode=wal" in joined
    assert "--port 7299" in joined and "--ui-port 8299" in joined
    for attribute in (
        "CspProcess=Keyword",
        "CspArea=Keyword",
        "CspStage=Keyword",
        "CspNextDeadline=Datetime",
    ):
        assert attribute in command
    assert dev.server_command(settings, rehearsal=True)[1:] == ["7299"]


def test_dev_refuses_a_taken_port_and_starts_nothing(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cspflow dev` on a port something else holds says which port and which setting to
    change, and starts no server."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setenv("CSPFLOW_TEMPORAL_ADDRESS", f"127.0.0.1:{port}")
        result = invoke("dev", "--rehearsal")
    assert result.exit_code == 1, result.output
    assert f"port {port}" in result.stderr and "CSPFLOW_TEMPORAL_ADDRESS" in result.stderr
    assert not (isolated / "data" / "temporal-test-server.log").exists()


def test_dev_refuses_to_start_twice_on_one_data_folder(isolated: Path) -> None:
    """A second `cspflow dev` on a data folder whose system runs is refused with its pid."""
    write_state(isolated / "data", "normal")
    result = invoke("dev")
    assert result.exit_code == 1
    assert "already running" in result.stderr and str(os.getpid()) in result.stderr


def test_readme_documents_every_setting() -> None:
    """The README's configuration table names every CSPFLOW_* setting there is."""
    from starter.settings import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        f"CSPFLOW_{name.upper()}"
        for name in Settings.model_fields
        if f"`CSPFLOW_{name.upper()}`" not in readme
    ]
    assert missing == []


def test_an_id_of_the_wrong_kind_is_named_with_the_command_that_reads_it() -> None:
    """`status` given a task id and `task show` given a case id say which command to use (exit 2,
    before any connection), instead of a Temporal error (issue 13: no error without a sentence)."""
    result = invoke("status", "ct-north-X-1.task.information.test-police")
    assert result.exit_code == 2
    assert "is a partner task, not a case" in result.stderr and "cspflow task show" in result.stderr
    result = invoke("task", "show", "ct-north-X-1")
    assert result.exit_code == 2
    assert "is a case, not a partner task" in result.stderr and "cspflow status" in result.stderr
