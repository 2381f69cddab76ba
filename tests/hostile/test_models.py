"""Every input model refuses hostile values at the edge, naming the field and what is wrong.

The models are the single source of input truth (house style §6): the CLI, the Update validators
and the workflows' payload decoding all run them, so a value refused here never reaches a
workflow, the records database or a letter.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from schemas.community_trigger import (
    MAX_COMPLAINTS,
    MAX_RECOMMENDATIONS,
    MAX_VICTIMS,
    Application,
    RecordConsent,
    RecordReview,
)
from schemas.partner_task import (
    RESPONSE_DEPTH_LIMIT,
    RESPONSE_LIMIT_BYTES,
    InformationResponse,
    SubmitResponse,
)
from schemas.shared import EARLIEST_DATE, LATEST_DATE
from schemas.validation import PROBLEMS_LIMIT, describe_validation_error, field_path, shown
from tests.hostile.hostile import (
    BY,
    VALID,
    application_data,
    far_dates,
    fields_where,
    is_date,
    is_text,
    set_value,
    unprintable,
)
from workflows.rules.deadlines import add_working_days, end_of_period, subtract_working_days

TEXT_FIELDS = [(m, f) for m, f in fields_where(is_text) if f != "response"]
DATE_FIELDS = fields_where(is_date)

# What a refused text value is told, by the kind of field: free text, an identifier (Slug), a
# reference, or an email address.
TEXT_REFUSALS = (
    "contains a control character",
    "contains a lone surrogate",
    "is not a valid identifier",
    "is not a valid reference",
    "unable to parse raw data as a unicode string",
    "is not an email address",
)


def problems(model: type[BaseModel], data: Any) -> list[str]:
    """The lines a person is shown for `data`; fails the test when the data is accepted."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data)
    return describe_validation_error(refused.value).splitlines()


def test_the_hostile_fixtures_are_valid_to_begin_with() -> None:
    """Each spoiled input starts from a valid one, so a refusal is caused by the spoiling."""
    for model, data in VALID.items():
        model.model_validate(data)
    assert len(TEXT_FIELDS) > 60 and len(DATE_FIELDS) >= 10


def _field_id(target: tuple[type[BaseModel], str]) -> str:
    return f"{target[0].__name__}.{target[1]}"


# Every field is a parameter, so every run checks each one; hypothesis varies what spoils it.
@pytest.mark.parametrize("target", TEXT_FIELDS, ids=_field_id)
@settings(max_examples=8, deadline=None)
@given(bad=unprintable, data=st.data())
def test_every_text_field_refuses_control_characters_naming_the_field(
    target: tuple[type[BaseModel], str], bad: str, data: st.DataObject
) -> None:
    """NUL, other C0 controls, DEL and lone surrogates are refused in every text field of every
    input model, with the field's name and the reason (PostgreSQL would refuse a NUL for ever)."""
    model, field = target
    annotation = model.model_fields[field].annotation
    original = VALID[model].get(field) or "ab"
    text = original[0] if isinstance(original, list) else original
    text = text if len(text) >= 2 else "ab"
    at = data.draw(st.integers(min_value=1, max_value=len(text) - 1), label="position")
    spoiled = set_value(VALID[model], field, text[:at] + bad + text[at:], annotation)
    lines = problems(model, spoiled)
    ours = [line for line in lines if line.strip().removeprefix("- ").startswith(field)]
    assert ours, lines
    assert any(reason in ours[0] for reason in TEXT_REFUSALS), ours[0]
    # The message is printable as it is: the bad character is escaped, never echoed raw.
    assert bad not in "\n".join(lines)
    "\n".join(lines).encode("utf-8")


@pytest.mark.parametrize("target", DATE_FIELDS, ids=_field_id)
@settings(max_examples=8, deadline=None)
@given(day=far_dates)
def test_every_date_field_refuses_dates_the_calendar_rules_cannot_count_from(
    target: tuple[type[BaseModel], str], day: date
) -> None:
    """A date before 1990 or after 2100 is refused naming the field, before a workflow adds
    months or working days to it (near year 9999 that overflowed and failed the workflow task)."""
    model, field = target
    annotation = model.model_fields[field].annotation
    lines = problems(model, set_value(VALID[model], field, day.isoformat(), annotation))
    between = "must be between 1 January 1990 and 31 December 2100"
    ours = [line for line in lines if field in line and between in line]
    assert ours, lines
    assert f"{EARLIEST_DATE:%Y} and " in ours[0] and f"{LATEST_DATE:%Y}" in ours[0]
    assert "check the year" in ours[0]


@settings(max_examples=50, deadline=None)
@given(
    day=st.dates(min_value=EARLIEST_DATE, max_value=LATEST_DATE),
    days=st.integers(min_value=0, max_value=3000),
)
def test_the_calendar_rules_never_overflow_on_an_accepted_date(day: date, days: int) -> None:
    """Inside the accepted range, the longest chase (100 overdue notices 30 working days apart)
    and the longest period stay far from year 9999: the bound is enough."""
    assert add_working_days(day, days, ()).year < 2200
    assert subtract_working_days(day, days, ()).year > 1900
    assert end_of_period(day, 12) > day


@pytest.mark.parametrize(
    ("model", "data", "field", "limit"),
    [
        (
            Application,
            application_data(victims=[{"kind": "individual", "name": "V"}] * (MAX_VICTIMS + 1)),
            "victims",
            MAX_VICTIMS,
        ),
        (
            Application,
            application_data(complaints=application_data()["complaints"] * (MAX_COMPLAINTS + 1)),
            "complaints",
            MAX_COMPLAINTS,
        ),
        (
            RecordReview,
            {
                **VALID[RecordReview],
                "recommendations": VALID[RecordReview]["recommendations"]
                * (MAX_RECOMMENDATIONS + 1),
            },
            "recommendations",
            MAX_RECOMMENDATIONS,
        ),
        (
            InformationResponse,
            {**VALID[InformationResponse], "incident_references": ["INC"] * 201},
            "incident_references",
            200,
        ),
        (
            InformationResponse,
            {**VALID[InformationResponse], "incident_references": ["I" * 65]},
            "incident_references[0]",
            64,
        ),
    ],
)
def test_lists_a_person_fills_in_are_bounded(
    model: type[BaseModel], data: dict[str, Any], field: str, limit: int
) -> None:
    """Lists cannot grow a case's input (and every status derived from it) without bound."""
    lines = problems(model, data)
    assert any(
        line.strip("- ").startswith(f"{field}:")
        and (f"no more than {limit} " in line or f"must be {limit} characters or less" in line)
        for line in lines
    ), lines


@settings(max_examples=25, deadline=None)
@given(size=st.integers(min_value=RESPONSE_LIMIT_BYTES + 1, max_value=3 * 1024 * 1024))
def test_an_oversized_partner_answer_is_refused_naming_the_limit(size: int) -> None:
    """An answer over 256 KiB as JSON is refused before it is accepted: a multi-megabyte answer
    was accepted, then its Update result passed gRPC's 4 MB limit and wedged the task."""
    response = {"holds_information": True, "summary": "x" * size}
    lines = problems(SubmitResponse, {"by": BY, "response": response})
    assert any(
        line.strip("- ").startswith("response:") and f"{RESPONSE_LIMIT_BYTES:,} bytes" in line
        for line in lines
    ), lines
    assert sum(len(line) for line in lines) < 1000  # the answer is not echoed back


def test_the_largest_valid_answer_is_never_refused_for_its_size() -> None:
    """A valid answer with every field at its longest, in four-byte characters, fits the limit."""
    response = {
        "holds_information": True,
        "summary": "\U0001f600" * 20_000,
        "incident_references": ["\U0001f600" * 64] * 200,
    }
    InformationResponse.model_validate(response)
    SubmitResponse.model_validate({"by": BY, "response": response})


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@settings(max_examples=25, deadline=None)
@given(depth=st.integers(min_value=RESPONSE_DEPTH_LIMIT + 1, max_value=50_000))
def test_a_deeply_nested_partner_answer_is_refused(depth: int) -> None:
    """Nesting beyond what any answer needs is refused with the depth, never a RecursionError."""
    lines = problems(SubmitResponse, {"by": BY, "response": _nested(depth)})
    assert any(
        "levels deep" in line and f"at most {RESPONSE_DEPTH_LIMIT}" in line for line in lines
    ), lines


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (float("nan"), "cannot be recorded as JSON"),
        (float("inf"), "cannot be recorded as JSON"),
        (10**5000, "cannot be recorded as JSON"),
        ("\ud800", "cannot be recorded as JSON"),
        ({1, 2}, "cannot be recorded as JSON"),
    ],
    ids=["nan", "infinity", "huge-int", "lone-surrogate", "set"],
)
def test_a_partner_answer_that_is_not_json_is_refused(value: Any, says: str) -> None:
    """NaN, infinity, numbers Python will not print and lone surrogates cannot be recorded."""
    lines = problems(SubmitResponse, {"by": BY, "response": {"summary": value}})
    assert any(line.strip("- ").startswith("response:") and says in line for line in lines), lines


@settings(max_examples=50, deadline=None)
@given(value=st.text(min_size=0, max_size=5000) | st.binary(max_size=500).map(repr))
def test_shown_values_are_short_escaped_and_encodable(value: str) -> None:
    """A value quoted in a message is cut to a readable length and always encodes as UTF-8."""
    quoted = shown(value)
    assert len(quoted) <= 60 + len(f"... ({len(value)} characters)")
    quoted.encode("utf-8")
    assert "\x00" not in quoted and "\x1b" not in quoted


@settings(max_examples=50, deadline=None)
@given(key=st.text(max_size=200))
def test_a_hostile_key_in_a_path_is_quoted_and_cut(key: str) -> None:
    """A key from a file is shown quoted when it is not a plain name, so '[bold]' or '' cannot
    pass for part of the path; an empty path is the whole document."""
    path = field_path(("response", key))
    assert path.startswith("response")
    assert len(path) < 120
    path.encode("utf-8")
    if not key.isidentifier() or not key.isascii():
        assert path.startswith("response[") or path == f"response.{key}"


def test_an_empty_path_is_the_document_and_an_empty_key_is_shown_as_one() -> None:
    """'(the document)' for the whole input; an empty key is not mistaken for it."""
    assert field_path(()) == "(the document)"
    assert field_path((), prefix="response") == "response"
    assert field_path(("",)) == "['']"
    assert field_path(("[bold]x", 0)) == "['[bold]x'][0]"
    lines = problems(SubmitResponse, {"by": BY, "response": []})
    assert lines[1].strip() == "- response: Input should be a valid dictionary"
    lines = problems(Application, "not an object")
    assert "(the document)" in lines[1]


def test_a_message_lists_a_bounded_number_of_problems() -> None:
    """Thousands of faults make a message of PROBLEMS_LIMIT lines and a count, not megabytes."""
    bad = application_data(victims=[{"kind": "alien", "name": ""}] * MAX_VICTIMS)
    lines = problems(Application, bad)
    assert len(lines) == 1 + PROBLEMS_LIMIT + 1 + 1
    assert "and " in lines[-2] and "more" in lines[-2]


@settings(max_examples=25, deadline=None)
@given(
    field=st.sampled_from(["description", "application_reference", "area"]),
    size=st.integers(min_value=10_001, max_value=2_000_000),
)
def test_an_oversized_value_is_refused_without_echoing_it(field: str, size: int) -> None:
    """A megabyte in one field gives a message of a few hundred characters."""
    lines = problems(Application, application_data(**{field: "a" * size}))
    assert any(line.strip("- ").startswith(f"{field}:") for line in lines)
    assert len(json.dumps(lines)) < 2000


def test_every_input_model_forbids_unknown_fields() -> None:
    """A misspelt or injected field is an error naming it, never silently dropped."""
    for model, data in VALID.items():
        lines = problems(model, {**data, "[bold]injected": 1})
        assert any("['[bold]injected']" in line and "no such field" in line for line in lines)


def test_dates_at_the_bounds_are_accepted() -> None:
    """1 January 1990 and 31 December 2100 themselves are allowed."""
    for day in (EARLIEST_DATE, LATEST_DATE):
        RecordConsent.model_validate({**VALID[RecordConsent], "consent_given_on": day.isoformat()})
    problems(RecordConsent, {**VALID[RecordConsent], "consent_given_on": "2101-01-01"})
