"""The CSP directory and its policies refuse hostile YAML with a DirectoryError naming the line,
the entry and the field, never another exception, an expanded alias bomb or a silent choice.

A CSP edits this file by hand, and every case reads it when it opens (activities/configuration.py),
so any other exception would be a bug the CSP cannot act on, and a value that expands to megabytes
would be copied into every message that quotes it.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from activities.configuration import DIRECTORY_LIMIT_BYTES, DirectoryError, load_directory
from activities.strict_yaml import MAX_DEPTH, MAX_NODES
from starter.cli import app
from tests.hostile.hostile import application_data, control_character
from tests.workflows.directory import directory_document

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
GOOD = yaml.safe_dump(directory_document(), sort_keys=False)
_names = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-directory")


def refusal(folder: Path, content: str | bytes | dict[str, Any]) -> DirectoryError:
    """Load a directory that must be refused; return the error (any other exception fails)."""
    path = folder / f"directory-{next(_names)}.yaml"
    if isinstance(content, dict):
        content = yaml.safe_dump(content, sort_keys=False)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(DirectoryError) as refused:
        load_directory(path)
    error = refused.value
    assert str(path) in str(error)
    return error


def test_the_directory_these_tests_spoil_loads(folder: Path) -> None:
    path = folder / "good.yaml"
    path.write_text(GOOD)
    assert load_directory(path).name == "Test CSP"


# ---- the YAML itself ----------------------------------------------------------------------------

YAML_FORBIDDEN = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]


@SETTINGS
@given(bad=st.sampled_from(YAML_FORBIDDEN), data=st.data())
def test_a_control_character_in_the_yaml_is_reported_with_its_line(
    folder: Path, bad: str, data: st.DataObject
) -> None:
    """A NUL (or another control character) anywhere is reported at its line and column."""
    lines = GOOD.splitlines(keepends=True)
    line = data.draw(st.integers(min_value=0, max_value=len(lines) - 1), label="line")
    column = data.draw(st.integers(min_value=0, max_value=len(lines[line]) - 1), label="column")
    lines[line] = lines[line][:column] + bad + lines[line][column:]
    error = refusal(folder, "".join(lines))
    assert error.problems == (
        f"line {line + 1}, column {column + 1}: the file holds the control character "
        f"U+{ord(bad):04X}, which YAML does not allow; remove it",
    )


@SETTINGS
@given(bad=control_character)
def test_an_escaped_control_character_in_a_name_is_refused_naming_the_entry(
    folder: Path, bad: str
) -> None:
    """YAML's "\\x00" escape gets past the reader; the field's FreeText check refuses it."""
    document = directory_document()
    document["agencies"][2]["name"] = f"Test{bad}Police"
    error = refusal(folder, document)
    assert any(
        p.startswith("agencies[2] (test-police).name: ") and "control character" in p
        for p in error.problems
    ), error.problems


@SETTINGS
@given(data=st.data())
def test_a_key_written_twice_is_refused_naming_the_key_and_both_lines(
    folder: Path, data: st.DataObject
) -> None:
    """A repeated key would silently win over the first; it is refused instead."""
    lines = GOOD.splitlines(keepends=True)
    keyed = [i for i, text in enumerate(lines) if ":" in text and not text.strip().endswith(":")]
    i = data.draw(st.sampled_from(keyed), label="line")
    key = lines[i].split(":")[0].strip().removeprefix("- ")
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip(" -"))].replace("-", " ")
    repeated = indent + lines[i].lstrip(" -")
    error = refusal(folder, "".join(lines[: i + 1]) + repeated + "".join(lines[i + 1 :]))
    (problem,) = error.problems
    assert problem.startswith(f"line {i + 2}, column ")
    assert f"the key {key!r} appears twice in one mapping (first on line {i + 1})" in problem


BOMB = "".join(
    [
        'lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n',
        *(f"lol{n}: &lol{n} [" + ", ".join([f"*lol{n - 1}"] * 9) + "]\n" for n in range(1, 9)),
        "name: *lol8\n",
    ]
)


def test_an_alias_bomb_is_refused_before_it_expands(folder: Path) -> None:
    """Billion laughs: refused by its expanded size, quickly, in a message of normal length."""
    started = time.monotonic()
    error = refusal(folder, BOMB)
    assert time.monotonic() - started < 5
    (problem,) = error.problems
    assert f"expands to more than {MAX_NODES:,} entries through its aliases" in problem
    assert len(str(error)) < 1000


@SETTINGS
@given(levels=st.integers(min_value=2, max_value=6), width=st.integers(min_value=12, max_value=40))
def test_aliases_that_expand_past_the_limit_are_refused(
    folder: Path, levels: int, width: int
) -> None:
    """Any chain of aliases whose expansion passes the limit is refused, naming the line."""
    if width**levels <= MAX_NODES:
        width = int(MAX_NODES ** (1 / levels)) + 2
    text = "a0: &a0 [x]\n" + "".join(
        f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]\n" for n in range(1, levels + 1)
    )
    (problem,) = refusal(folder, text).problems
    assert problem.startswith("line ") and "through its aliases" in problem


def test_a_few_aliases_for_shared_blocks_are_still_allowed(folder: Path) -> None:
    """Anchors for a shared point of contact are ordinary YAML and keep working."""
    text = GOOD.replace("  point_of_contact:\n", "  point_of_contact: &contact\n", 1)
    assert "&contact" in text
    path = folder / "aliases.yaml"
    path.write_text(text)
    load_directory(path)


def test_a_value_that_contains_itself_is_refused(folder: Path) -> None:
    """A recursive alias would send validation round for ever; it is refused at its line."""
    (problem,) = refusal(folder, GOOD + "extra: &loop [1, *loop]\n").problems
    assert "contains itself through an alias" in problem and problem.startswith("line ")


@SETTINGS
@given(
    depth=st.integers(min_value=MAX_DEPTH + 1, max_value=5_000),
    brackets=st.sampled_from([("[", "]"), ("{a: ", "}")]),
)
def test_deep_nesting_is_refused(folder: Path, depth: int, brackets: tuple[str, str]) -> None:
    """Nesting past what a directory needs (and past the interpreter's stack) is a DirectoryError
    naming the line, not a RecursionError or a minute in PyYAML's scanner."""
    opening, closing = brackets
    body = opening * depth
    (problem,) = refusal(folder, "name: " + body + closing * depth + "\n").problems
    assert problem.startswith("line 1, column ")
    assert f"nest more than {MAX_DEPTH} levels deep" in problem


@SETTINGS
@given(digits=st.integers(min_value=31, max_value=50_000))
def test_a_huge_number_is_refused_with_its_line(folder: Path, digits: int) -> None:
    """A number past any directory's needs (and past Python's conversion limit) is refused."""
    text = GOOD.replace("version: 1", "version: " + "7" * digits)
    (problem,) = refusal(folder, text).problems
    assert problem.startswith("line ") and f"is {digits} characters long (at most 30)" in problem
    assert len(problem) < 400


@pytest.mark.parametrize(
    ("encoding", "says"),
    [
        ("utf-16", "the file is UTF-16 text, not UTF-8"),
        ("utf-16-be", "the file is UTF-16 text, not UTF-8"),
        ("latin-1", "the file is not UTF-8 text: byte 0xe9 on line 1"),
    ],
)
def test_a_directory_in_the_wrong_encoding_is_refused(
    folder: Path, encoding: str, says: str
) -> None:
    """UTF-16 or Latin-1 is named, with the line of the first bad byte and what to do."""
    error = refusal(folder, GOOD.replace("Test CSP", "Tést CSP").encode(encoding))
    (problem,) = error.problems
    assert problem.startswith(says) and "save it as UTF-8" in problem


def test_an_oversized_directory_is_refused_by_its_size(folder: Path) -> None:
    """More than 2 MiB is the wrong file; it is not parsed."""
    error = refusal(folder, GOOD + "# " + "x" * DIRECTORY_LIMIT_BYTES + "\n")
    assert error.problems == ("the file is larger than 2 MiB, far more than a directory needs",)


YAML_PIECES = [
    "\n",
    "  ",
    "- ",
    ": ",
    "a",
    "name",
    "areas",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&x ",
    "*x",
    "<<: ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!timestamp ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!str ",
    "!!python/object:os.system ",
    '"',
    "'",
    "\\x00",
    "#",
    "---\n",
    "...\n",
    "? ",
    "|\n",
    ">\n",
    "2025-02-30",
    "1e999",
    "0x",
    "9" * 40,
    "~",
    "%YAML 1.1\n",
    "%TAG ! x\n",
    "\t",
    "\ufeff",
]


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(st.sampled_from(YAML_PIECES), max_size=40))
def test_any_yaml_at_all_is_a_directory_error(folder: Path, pieces: list[str]) -> None:
    """Whatever a hand-edited file holds (tags forcing the wrong type, impossible dates, stray
    directives), loading it gives a DirectoryError or a directory, never another exception."""
    path = folder / f"fuzz-{next(_names)}.yaml"
    path.write_text("".join(pieces))
    try:
        load_directory(path)
    except DirectoryError as error:
        assert error.problems and len(str(error)) < 20_000


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: !!float abc\n", "'abc' cannot be read as a float"),
        ("name: !!bool maybe\n", "'maybe' cannot be read as a bool"),
        ("name: 2025-02-30\n", "'2025-02-30' is not a real date"),
        ("name: !!timestamp x\n", "'x' is not a real date"),
    ],
)
def test_a_value_that_cannot_be_its_type_is_refused_with_its_line(
    folder: Path, text: str, says: str
) -> None:
    """A tag or a date PyYAML cannot build is reported at its line, not as a ValueError."""
    (problem,) = refusal(folder, text).problems
    assert problem.startswith("line 1, column 7: ") and says in problem


# ---- the right YAML with the wrong data ---------------------------------------------------------

json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
SECTIONS = [
    "name",
    "areas",
    "agencies",
    "coordinators",
    "chairs",
    "community_trigger_policies",
]


@SETTINGS
@given(section=st.sampled_from(SECTIONS), junk=json_junk)
def test_any_value_in_any_section_is_a_directory_error(
    folder: Path, section: str, junk: Any
) -> None:
    """`areas: 5`, `chairs: {x: 1}`, `agencies: [null]`...: always a DirectoryError naming the
    section, never a TypeError from the cross-reference checks."""
    document = directory_document()
    document[section] = junk
    path = folder / f"junk-{next(_names)}.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_directory(path)
    except DirectoryError as error:
        assert any(section in p or p.startswith("line ") for p in error.problems), error.problems
    # Some junk is valid there (a text for the name, no chairs at all): that loads.


ENTRY_FIELDS = {
    "areas": ["id", "name", "point_of_contact", "relevant_bodies", "community_trigger_policy"],
    "agencies": ["id", "name", "kind", "email"],
    "coordinators": ["id", "name", "email", "areas"],
    "chairs": ["id", "home_area", "processes", "max_active_cases", "conflicts", "unavailable"],
    "community_trigger_policies": [
        "name",
        "version",
        "threshold_complaints",
        "timescales",
        "reminders",
        "local_rules",
        "escalation_body",
    ],
}


@SETTINGS
@given(
    target=st.sampled_from([(s, f) for s, fields in ENTRY_FIELDS.items() for f in fields]),
    junk=json_junk,
)
def test_any_value_in_any_entry_field_is_a_directory_error_naming_the_entry(
    folder: Path, target: tuple[str, str], junk: Any
) -> None:
    """A wrong value inside an entry (a policy's timescales as a list, an area's relevant bodies
    as a number...) is a DirectoryError; it never escapes as another exception."""
    section, field = target
    document = directory_document()
    entry = document[section][0]
    entry[field] = junk
    path = folder / f"junk-{next(_names)}.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_directory(path)
    except DirectoryError as error:
        # A value the YAML reader refuses before validation (an integer too large to hold) is
        # named by its line, as in the test above; every other one by its entry.
        assert any(
            p.startswith(f"{section}[0]") or section in p or p.startswith("line ")
            for p in error.problems
        ), error.problems
        assert len(str(error)) < 20_000
    # Some junk is a valid value (2.0 for a count, a list of known processes): that loads.


def test_areas_of_the_wrong_type_are_a_message_not_a_type_error(folder: Path) -> None:
    """`areas: 5` was a TypeError in reference_problems; now it is one field error."""
    error = refusal(folder, {**directory_document(), "areas": 5})
    assert "areas: Input should be a valid tuple (the file has 5)" in error.problems
    error = refusal(folder, {**directory_document(), "chairs": {"x": 1}, "coordinators": [5]})
    assert any(p.startswith("chairs: ") for p in error.problems)
    assert any(p.startswith("coordinators[0]: ") for p in error.problems)


def test_two_coordinators_with_one_id_are_refused_naming_both(folder: Path) -> None:
    """Who decided must be unambiguous: a coordinator id used twice names both entries."""
    document = directory_document()
    document["coordinators"].append({**document["coordinators"][0], "name": "Someone else"})
    error = refusal(folder, document)
    assert (
        "coordinators: 'coord@north.example.org' appears twice (coordinators[0], "
        "coordinators[1]): give each its own id"
    ) in error.problems


def test_two_policies_with_one_name_and_version_are_refused_naming_both(folder: Path) -> None:
    """The policy a case followed must be unambiguous: name + version used twice is refused."""
    document = directory_document()
    policy = document["community_trigger_policies"][0]
    document["community_trigger_policies"] += [
        {**policy, "threshold_complaints": 2},
        {**policy, "version": 2},
    ]
    error = refusal(folder, document)
    assert (
        "community_trigger_policies: 'test-ct v1' appears twice (community_trigger_policies[0], "
        "community_trigger_policies[1]): give each its own name and version"
    ) in error.problems
    assert not any("v2" in p for p in error.problems)


@SETTINGS
@given(
    size=st.integers(min_value=1_000, max_value=30_000),
    section=st.sampled_from(["areas", "coordinators"]),
)
def test_a_huge_value_is_cut_in_every_message_that_quotes_it(
    folder: Path, size: int, section: str
) -> None:
    """An id of half a megabyte is quoted cut, in the entry label and in the reference check."""
    document = directory_document()
    huge = "[bold]" + "n" * size
    if section == "areas":
        document["areas"][0]["neighbouring_areas"] = [huge]
        document["areas"][1]["id"] = huge
    else:
        document["coordinators"][0]["areas"] = [huge, huge]
        document["coordinators"][0]["id"] = huge
    error = refusal(folder, document)
    assert len(str(error)) < 3_000, len(str(error))
    assert any(f"({size + 6} characters)" in p for p in error.problems), error.problems


def test_a_hostile_directory_makes_the_cli_say_so(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cspflow check` with an alias bomb for a directory prints the refusal, no traceback."""
    path = folder / "bomb.yaml"
    path.write_text(BOMB)
    application = folder / "application.json"
    application.write_text(json.dumps(application_data()))
    monkeypatch.setenv("CSPFLOW_DIRECTORY_FILE", str(path))
    monkeypatch.setenv("CSPFLOW_DATA_DIR", str(folder / "data"))
    result = CliRunner().invoke(app, ["check", "community-trigger", "--file", str(application)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "through its aliases" in result.stderr and "Traceback" not in result.output
