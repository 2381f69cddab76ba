"""The `cspflow` command refuses hostile files and arguments with a message, never a traceback.

Every command runs in-process through Typer's CliRunner against a fresh data folder; the Temporal
address points at a closed port, so a command that tried to connect before refusing bad input
would say so. Exit code 2 means "the input is wrong, nothing was recorded" (starter/cli/common.py).
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from schemas.community_trigger import Application, Stage
from schemas.partner_task import RESPONSE_LIMIT_BYTES
from schemas.shared import LATEST_DATE
from starter.cli import app
from starter.cli.common import INPUT_LIMIT_BYTES
from starter.dev import DevError, parse_duration, parse_target
from tests.hostile.hostile import MARKUP, application_data, control_character, far_dates

runner = CliRunner()
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", autouse=True)
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh data folder, no running dev system, and a Temporal address nobody answers."""
    folder = tmp_path_factory.mktemp("hostile-cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CSPFLOW_DATA_DIR", str(folder / "data"))
        patch.setenv("CSPFLOW_TEMPORAL_ADDRESS", f"127.0.0.1:{_closed_port()}")
        patch.setenv("CSPFLOW_USER", "coordinator@example.org")
        patch.delenv("CSPFLOW_DATABASE_URL", raising=False)
        patch.delenv("CSPFLOW_DIRECTORY_FILE", raising=False)
        patch.setenv("COLUMNS", "400")
        patch.chdir(folder)
        yield folder


_names = itertools.count()


def write(folder: Path, content: bytes | str) -> Path:
    """A new input file in the module's folder holding exactly `content`."""
    path = folder / f"input-{next(_names)}.json"
    path.write_bytes(
        content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    )
    return path


def refused(*args: str, stdin: bytes | None = None) -> str:
    """Run a command that must refuse its input: exit code 2, no traceback. Returns stderr."""
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr


def application_bytes(**changes: Any) -> bytes:
    return json.dumps(application_data(**changes)).encode()


# ---- application files: check and start -------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "start"])
@pytest.mark.parametrize(
    ("encoding", "says"),
    [
        ("utf-16", "is UTF-16 text, not UTF-8"),
        ("utf-16-le", "is UTF-16 text, not UTF-8"),
        ("latin-1", "is not UTF-8 text: byte 0xe9 on line 1"),
        ("cp1252", "is not UTF-8 text: byte 0xe9 on line 1"),
    ],
)
def test_a_file_in_the_wrong_encoding_is_refused_saying_which(
    isolated: Path, command: str, encoding: str, says: str
) -> None:
    """A file saved as UTF-16 or Latin-1 is refused naming the file and what to save it as."""
    text = json.dumps(application_data(description="Café noise"), ensure_ascii=False)
    path = write(isolated, text.encode(encoding))
    message = refused(command, "community-trigger", "--file", str(path))
    assert str(path) in message and says in message and "save it as UTF-8" in message


def test_a_utf8_file_with_a_byte_order_mark_is_read() -> None:
    """Windows Notepad's UTF-8 with BOM is still UTF-8."""
    data = application_data(area="amber-valley")
    for complaint in data["complaints"]:
        complaint["reported_to"] = "derbyshire-police"  # an agency of the shipped directory
    # The fixed date's financial year may have ended: check then asks why it is entered late.
    data["late_entry_reason"] = "Entered for a test"
    path = write(Path.cwd(), b"\xef\xbb\xbf" + json.dumps(data).encode())
    result = runner.invoke(app, ["check", "community-trigger", "--file", str(path)])
    assert result.exit_code == 0, result.output


@SETTINGS
@given(depth=st.integers(min_value=2_000, max_value=200_000))
def test_a_deeply_nested_file_is_refused(isolated: Path, depth: int) -> None:
    """JSON nested deeper than Python's recursion limit is a message, not a RecursionError."""
    path = write(isolated, "[" * depth + "]" * depth)
    message = refused("check", "community-trigger", "--file", str(path))
    assert f"{path} nests objects or lists too deeply" in message


@SETTINGS
@given(digits=st.integers(min_value=4_301, max_value=100_000))
def test_a_number_too_long_to_convert_is_refused(isolated: Path, digits: int) -> None:
    """A number past Python's int conversion limit is a message naming the file."""
    path = write(isolated, '{"area": ' + "9" * digits + "}")
    message = refused("start", "community-trigger", "--file", str(path))
    assert f"{path} is not usable JSON: a number has more than 4300 digits" in message


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(isolated: Path, constant: str) -> None:
    """Python's json accepts NaN; a file holding it is refused, saying so."""
    path = write(isolated, '{"area": ' + constant + "}")
    message = refused("check", "community-trigger", "--file", str(path))
    assert f"{constant} is not a JSON number" in message


def test_an_oversized_file_is_refused_before_it_is_parsed(isolated: Path) -> None:
    """A file over 1 MiB is refused by its size (reading stops there), naming the file."""
    path = write(isolated, application_bytes(description="x" * (INPUT_LIMIT_BYTES + 10)))
    message = refused("start", "community-trigger", "--file", str(path))
    assert f"{path} is larger than 1024 KiB" in message


def test_standard_input_in_the_wrong_encoding_is_refused() -> None:
    """'-' reads standard input as bytes, with the same checks as a file."""
    message = refused(
        "check", "community-trigger", "--file", "-", stdin="é".encode("latin-1") + b"{}"
    )
    assert "standard input is not UTF-8 text" in message


@SETTINGS
@given(content=st.binary(max_size=300))
def test_any_bytes_at_all_are_refused_cleanly(isolated: Path, content: bytes) -> None:
    """Whatever bytes a file holds, `check` refuses them with a message (exit code 2)."""
    refused("check", "community-trigger", "--file", str(write(isolated, content)))


json_junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@SETTINGS
@given(field=st.sampled_from(sorted(application_data())), junk=json_junk)
def test_any_json_in_any_field_is_refused_naming_the_field(
    isolated: Path, field: str, junk: Any
) -> None:
    """A field holding the wrong kind of value is named in the refusal; nothing starts."""
    spoiled = application_data(**{field: junk})
    try:
        Application.model_validate(spoiled)
    except ValidationError:
        pass
    else:
        assume(False)  # the junk happens to be a valid value for the field
    path = write(isolated, json.dumps(spoiled))
    message = refused("start", "community-trigger", "--file", str(path))
    assert f"{path} is not valid" in message and field in message


@SETTINGS
@given(
    field=st.sampled_from(["description", "victims", "applicant", "complaints"]),
    bad=control_character,
)
def test_control_characters_in_free_text_are_refused_naming_the_field(
    isolated: Path, field: str, bad: str
) -> None:
    """A NUL or an escape in any free text of an application is refused before anything
    starts; the message escapes it and names the field."""
    data = application_data()
    if field == "description":
        data["description"] = f"noise{bad}again"
        where = "description"
    elif field == "victims":
        data["victims"][0]["name"] = f"Sam{bad}Victim"
        where = "victims[0].name"
    elif field == "applicant":
        data["applicant"]["postal_address"] = f"1 Street{bad}Town"
        where = "applicant.postal_address"
    else:
        data["complaints"][0]["complainant"] = f"resident{bad}4"
        where = "complaints[0].complainant"
    path = write(isolated, json.dumps(data))
    message = refused("start", "community-trigger", "--file", str(path))
    assert f"{where}: " in message and f"control character (U+{ord(bad):04X})" in message
    assert bad not in message


@SETTINGS
@given(day=far_dates)
def test_a_far_date_is_refused_before_any_workflow_counts_from_it(isolated: Path, day: Any) -> None:
    """received_on in year 9999 is refused at the edge with the range and what to do."""
    path = write(isolated, application_bytes(received_on=day.isoformat(), complaints=[]))
    message = refused("start", "community-trigger", "--file", str(path))
    assert "received_on: " in message and f"and 31 December {LATEST_DATE:%Y}" in message


@pytest.mark.parametrize("key", [*MARKUP, "", "\u202eevil"])
def test_markup_and_emoji_in_a_key_are_printed_as_they_are(isolated: Path, key: str) -> None:
    """A key holding rich markup or an emoji code is shown literally, quoted, in the refusal."""
    data = {**application_data(), key: 1}
    path = write(isolated, json.dumps(data))
    message = refused("check", "community-trigger", "--file", str(path))
    assert f"[{key!r}]: There is no such field here" in message
    assert "\U0001f604" not in message and "\U0001f44d" not in message  # no emoji substituted


def test_a_file_that_is_not_an_object_is_the_document_at_fault(isolated: Path) -> None:
    """A JSON list where an application belongs is described as '(the document)'."""
    path = write(isolated, "[1, 2]")
    message = refused("check", "community-trigger", "--file", str(path))
    assert "(the document): Input should be a valid dictionary" in message


# ---- step and submit files ----------------------------------------------------------------------


@SETTINGS
@given(bad=control_character)
def test_a_step_file_with_control_characters_is_refused_before_connecting(
    isolated: Path, bad: str
) -> None:
    """`cspflow step` checks the file against the step's model before it talks to Temporal."""
    path = write(isolated, json.dumps({"reason": f"withdrawn{bad}today"}))
    message = refused("step", "ct-north-X", "close", "--file", str(path))
    assert "reason: " in message and "control character" in message


def test_a_step_file_acting_as_a_hostile_someone_else_is_cut(isolated: Path) -> None:
    """A huge `by` in a step file is quoted cut, not echoed whole."""
    path = write(isolated, json.dumps({"reason": "x", "by": "[bold]" + "a" * 100_000}))
    message = refused("step", "ct-north-X", "close", "--file", str(path))
    assert "(100006 characters)" in message and len(message) < 1000


@SETTINGS
@given(size=st.integers(min_value=RESPONSE_LIMIT_BYTES + 1, max_value=INPUT_LIMIT_BYTES - 100))
def test_an_oversized_answer_is_refused_before_connecting(isolated: Path, size: int) -> None:
    """`cspflow submit` refuses an answer over the limit, naming the limit, before Temporal."""
    path = write(isolated, json.dumps({"summary": "x" * size, "holds_information": True}))
    message = refused("submit", "ct-north-X.task.information.test-police", "--file", str(path))
    assert f"{RESPONSE_LIMIT_BYTES:,} bytes" in message and "response: " in message


def test_a_deeply_nested_answer_is_refused_before_connecting(isolated: Path) -> None:
    """Nesting that JSON can read but no answer needs is refused with the depth."""
    path = write(isolated, '{"summary": ' + "[" * 100 + "]" * 100 + "}")
    message = refused("submit", "ct-north-X.task.information.test-police", "--file", str(path))
    assert "levels deep" in message


# ---- arguments ----------------------------------------------------------------------------------


@SETTINGS
@given(year=st.integers(max_value=1988) | st.integers(min_value=2101, max_value=10**12))
def test_a_report_year_outside_the_calendar_is_refused(year: int) -> None:
    """`--year -5` or `--year 99999` gives the accepted range, not a date() traceback."""
    for command in (
        ["report", "community-trigger", "--area", "amber-valley", "--year", str(year)],
        ["audit", "deadlines", "--area", "amber-valley", "--year", str(year)],
    ):
        message = refused(*command)
        assert f"--year {year} is not a financial year" in message and "1989 to 2100" in message


@pytest.mark.parametrize(
    ("option", "value", "lists"),
    [
        ("--area", "amber-valey", "amber-valley"),
        ("--area", "[bold]x", "amber-valley"),
        ("--stage", "threshhold", ", ".join(s.value for s in Stage)),
        ("--process", "community_trigger", "community-trigger"),
    ],
)
def test_a_cases_filter_that_can_match_nothing_is_refused_with_the_choices(
    option: str, value: str, lists: str
) -> None:
    """A typo in a filter is refused naming the valid choices, not "No cases match" and exit 0."""
    message = refused("cases", option, value)
    assert repr(value) in message and lists in message


@pytest.mark.parametrize("value", ["amber-valey", "[bold]x", "north\x00"])
def test_a_stalled_area_that_is_not_in_the_directory_is_refused_before_connecting(
    value: str,
) -> None:
    """`cspflow stalled --area` checks the area first, naming the choices (no Temporal needed)."""
    message = refused("stalled", "--area", value)
    assert repr(value) in message and "amber-valley" in message


def test_a_valid_cases_filter_still_lists() -> None:
    """The known values pass."""
    result = runner.invoke(app, ["cases", "--area", "amber-valley", "--stage", "threshold"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("reference", ["bad ref", "x" * 10_000, "a\x00b", "[bold]"])
def test_a_hostile_example_reference_is_refused(reference: str) -> None:
    """`cspflow example --reference` validates the reference like an application would."""
    message = refused("example", "community-trigger", "--reference", reference)
    assert "application_reference: " in message and len(message) < 600


@SETTINGS
@given(number=st.integers(min_value=3661, max_value=10**30), unit=st.sampled_from("dwhm"))
def test_a_huge_clock_advance_is_refused(number: int, unit: str) -> None:
    """`cspflow clock advance 99999999999d` is refused with the longest move, no OverflowError."""
    text = f"{number}{unit}"
    try:
        moved = parse_duration(text)
    except DevError as error:
        assert "longer than a rehearsal can move" in str(error) and "3660 days" in str(error)
    else:
        assert moved.days <= 3660  # minutes and hours of a large number can still be short


@SETTINGS
@given(day=far_dates)
def test_a_clock_target_outside_the_calendar_is_refused(day: Any) -> None:
    """`--to 9999-12-31` (or with a time and offset) is refused with the years it can reach."""
    for text in (day.isoformat(), f"{day.isoformat()}T23:59-05:00"):
        with pytest.raises(DevError, match="outside the years the rehearsal clock can reach"):
            parse_target(text)


# ---- duplicate keys and strict booleans (issue 12, defect 9) ------------------------------------


@pytest.mark.parametrize("command", ["check", "start"])
def test_an_application_with_a_key_written_twice_is_refused_naming_the_key_and_lines(
    isolated: Path, command: str
) -> None:
    """`"area": "amber-valley", "area": "bolsover"` is refused, not read as Bolsover."""
    text = json.dumps(application_data(area="north"), indent=2)
    text = text.replace('  "area": "north",', '  "area": "north",\n  "area": "south",', 1)
    path = write(isolated, text)
    message = refused(command, "community-trigger", "--file", str(path))
    assert "the key 'area' appears twice in one object (first on line 2)" in message
    assert "at line 3, column 3" in message


def test_a_nested_key_written_twice_is_refused(isolated: Path) -> None:
    """A duplicate deep inside (the applicant's `is_victim`) is refused as well."""
    data = application_data()
    text = json.dumps(data).replace('"is_victim": false', '"is_victim": false, "is_victim": true')
    message = refused("check", "community-trigger", "--file", str(write(isolated, text)))
    assert "the key 'is_victim' appears twice in one object (first on line 1)" in message


@pytest.mark.parametrize(
    ("command", "text"),
    [
        (("step", "ct-north-X", "close"), '{"reason": "withdrawn",\n "reason": "other"}'),
        (
            ("submit", "ct-north-X.task.information.test-police"),
            '{"holds_information": true, "summary": "a",\n "summary": "b"}',
        ),
    ],
)
def test_step_and_answer_files_with_a_key_written_twice_are_refused_before_connecting(
    isolated: Path, command: tuple[str, ...], text: str
) -> None:
    """Step and submit files are read by the same strict reader as applications."""
    message = refused(*command, "--file", str(write(isolated, text)))
    assert "appears twice in one object (first on line 1)" in message and "line 2" in message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"applicant": {**application_data()["applicant"], "is_victim": "true"}},
            "applicant.is_victim",
        ),
        ({"victims": [{"kind": "individual", "name": "Sam", "vulnerable": 1}]}, "vulnerable"),
        (
            {"complaints": [{**application_data()["complaints"][0], "hate_related": "yes"}]},
            "hate_related",
        ),
    ],
)
def test_a_boolean_written_as_text_or_a_number_is_refused(
    isolated: Path, changes: dict[str, Any], field: str
) -> None:
    """Where the published JSON Schema says boolean, only true and false are accepted."""
    message = refused(
        "check", "community-trigger", "--file", str(write(isolated, application_bytes(**changes)))
    )
    assert field in message and "(true or false)" in message


def test_the_published_schema_still_says_boolean() -> None:
    """Strict booleans publish the same JSON Schema type as before."""
    applicant = Application.model_json_schema()["$defs"]["Applicant"]["properties"]
    assert applicant["is_victim"]["type"] == "boolean"
