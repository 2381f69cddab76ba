"""Forms generated from schemas: the GOV.UK pattern each type gets, and the way back."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.community_trigger import Application, DecideThreshold, RequestAppeal
from schemas.partner_task import InformationResponse
from schemas.validation import validation_problems
from starter.web.forms import (
    FormField,
    as_posted,
    attach_problems,
    build_form,
    check_posted,
    read_form,
)
from tests.workflows.directory import application

APPLICATION = Application.model_json_schema()


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    raw: dict[str, list[str]] = {}
    for key, value in pairs:
        raw.setdefault(key, []).append(value)
    return raw


def _by_name(fields: list[FormField]) -> dict[str, FormField]:
    found: dict[str, FormField] = {}
    for item in fields:
        found[item.name] = item
        found.update(_by_name(item.children))
        for entries in item.items:
            found.update(_by_name(entries))
    return found


def test_each_type_gets_its_govuk_pattern() -> None:
    """Dates are date inputs, choices radios, yes/no two radios, lists "add another"."""
    fields = _by_name(build_form(APPLICATION).fields)
    assert fields["received_on"].widget == "date"
    assert fields["channel"].widget == "radios"
    assert fields["applicant"].widget == "fieldset"
    assert fields["applicant.is_victim"].widget == "yes-no"
    assert fields["victims"].widget == "list"
    assert fields["victims"].min_items == 1
    assert len(fields["victims"].items) == 1  # at least one victim: one empty item shown
    assert fields["description"].widget == "textarea"
    assert fields["applicant.name"].hint == "Applicant's full name."
    assert fields["applicant.phone"].required is False
    assert fields["area"].required is True
    grounds = _by_name(build_form(RequestAppeal.model_json_schema()).fields)["grounds"]
    assert grounds.widget == "checkboxes"
    references = _by_name(build_form(InformationResponse.model_json_schema()).fields)
    assert references["incident_references"].widget == "lines"


def test_acting_person_is_never_a_question() -> None:
    """`by` is filled in from the signed-in account, so the form does not ask for it."""
    names = {f.name for f in build_form(DecideThreshold.model_json_schema()).fields}
    assert "by" not in names
    assert {"decision", "met", "reason"} <= names


def test_a_document_survives_the_round_trip_through_the_form() -> None:
    """An application put into the form and posted back is the same application."""
    original = application(date(2025, 3, 10))
    filled = build_form(APPLICATION, original.model_dump(mode="json"))
    posted = read_form(APPLICATION, _multi(as_posted(filled)))
    assert posted.problems == []
    assert Application.model_validate(posted.document) == original


def test_a_date_that_is_not_a_date_is_named_before_the_model_sees_it() -> None:
    """31 February is reported on the date's question, GOV.UK style, and shown as typed."""
    filled = build_form(APPLICATION, application(date(2025, 3, 10)).model_dump(mode="json"))
    pairs = [
        (k, "31" if k == "received_on.day" else "2" if k == "received_on.month" else v)
        for k, v in as_posted(filled)
    ]
    raw = _multi(pairs)
    posted = read_form(APPLICATION, raw)
    assert posted.problems == [(("received_on",), "date_real", {}, "day")]
    form = build_form(APPLICATION, raw=raw)
    attach_problems(form, posted, model=Application)
    assert form.errors == [("f-received-on-day", "Date received must be a real date")]
    assert _by_name(form.fields)["received_on"].value == {"day": "31", "month": "2", "year": "2025"}


def test_model_errors_land_on_their_questions_in_govuk_words() -> None:
    """A bad email and a missing description are each linked from the summary, in the GOV.UK
    Design System's words and without the field's path."""
    document = application(date(2025, 3, 10)).model_dump(mode="json")
    document["applicant"]["email"] = "not-an-address"
    del document["description"]
    raw = _multi(as_posted(build_form(APPLICATION, document)))
    posted = read_form(APPLICATION, raw)
    form = build_form(APPLICATION, raw=raw)
    try:
        Application.model_validate(posted.document)
    except ValidationError as error:
        attach_problems(form, posted, error)
    targets = dict(form.errors)
    assert targets["f-applicant-email"] == (
        "Enter the applicant's email address in the correct format, like name@example.org"
    )
    assert targets["f-description"] == "Enter the description of the behaviour"
    assert _by_name(form.fields)["applicant.email"].error == targets["f-applicant-email"]


def test_add_another_and_remove_keep_what_was_typed() -> None:
    """ "Add another victim" shows one more empty item; "remove" drops one; nothing is lost."""
    document = application(date(2025, 3, 10)).model_dump(mode="json")
    document["victims"].append({"kind": "business", "name": "Corner Shop", "vulnerable": False})
    raw = _multi(as_posted(build_form(APPLICATION, document)))
    added = _by_name(build_form(APPLICATION, raw=raw, add_item="victims").fields)
    assert len(added["victims"].items) == 3
    assert added["victims.1.name"].value == "Corner Shop"
    assert added["victims.2.name"].value == ""
    removed = _by_name(build_form(APPLICATION, raw=raw, remove_item="victims.0").fields)
    assert len(removed["victims"].items) == 1
    assert removed["victims.0.name"].value == "Corner Shop"


def test_empty_answers_are_left_out_so_defaults_apply() -> None:
    """An empty optional field is absent from the document, not an empty string."""
    raw = {"decision": ["confirm"], "met": [""], "reason": [""]}
    posted = read_form(DecideThreshold.model_json_schema(), raw)
    assert posted.document == {"decision": "confirm"}


def test_every_problem_is_shown_at_once_and_a_bad_date_only_once() -> None:
    """31 February and a bad email together: two problems, the date not also 'required'."""
    document = application(date(2025, 3, 10)).model_dump(mode="json")
    document["applicant"]["email"] = "not-an-address"
    pairs = [
        (k, "31" if k == "received_on.day" else "2" if k == "received_on.month" else v)
        for k, v in as_posted(build_form(APPLICATION, document))
    ]
    form, valid = check_posted(
        APPLICATION, _multi(pairs), Application.model_validate, skip=frozenset()
    )
    assert valid is None
    assert [target for target, _ in form.errors] == ["f-received-on-day", "f-applicant-email"]
    document["applicant"]["email"] = "applicant@example.net"
    good = _multi(as_posted(build_form(APPLICATION, document)))
    form, valid = check_posted(APPLICATION, good, Application.model_validate, skip=frozenset())
    assert form.errors == [] and valid == Application.model_validate(document)


def test_the_rate_limiter_counts_per_address_and_forgets_idle_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each address has its own allowance; idle addresses do not pile up in memory."""
    from starter.web import rendering

    clock = [0.0]
    monkeypatch.setattr(rendering.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(rendering, "MAX_TRACKED", 3)
    limiter = rendering.RateLimiter(2, 60.0)
    assert [limiter.allow("a"), limiter.allow("a"), limiter.allow("a")] == [True, True, False]
    assert limiter.allow("b")
    clock[0] = 61.0
    assert limiter.allow("a")  # the window has passed
    for n in range(5):
        limiter.allow(f"new-{n}")
    assert "b" not in limiter._seen  # idle for a window: forgotten
    assert set(limiter._seen) == {"a", *(f"new-{n}" for n in range(5))}  # active: kept


def _posted_problems(document: dict[str, Any], **parts: str) -> dict[str, str]:
    """Post `document` through the start form with some answers replaced: target -> message."""
    pairs = [(k, parts.get(k, v)) for k, v in as_posted(build_form(APPLICATION, document))]
    form, valid = check_posted(
        APPLICATION, _multi(pairs), Application.model_validate, skip=frozenset(), model=Application
    )
    assert valid is None
    return dict(form.errors)


def test_the_issue_mistakes_get_the_govuk_sentences() -> None:
    """An empty name, no victim, no answer to "is the applicant the victim" and 31 February each
    get the GOV.UK Design System's sentence, never pydantic's words or a field path."""
    document = application(date(2025, 3, 10)).model_dump(mode="json")
    document["applicant"]["name"] = ""
    document["victims"] = []
    del document["applicant"]["is_victim"]
    errors = _posted_problems(document, **{"received_on.day": "31", "received_on.month": "2"})
    assert errors == {
        "f-received-on-day": "Date received must be a real date",
        "f-applicant-name": "Enter the applicant's name",
        "f-applicant-is-victim-0": "Select whether the applicant is the victim",
        "f-victims": "Add at least one victim",
    }
    for message in errors.values():
        assert "Field required" not in message and "should have" not in message
        assert "." not in message.split()[0]


def test_a_date_typed_without_its_month_says_what_is_missing() -> None:
    """GOV.UK dates pattern: an incomplete date names the part missing, on that part."""
    document = application(date(2025, 3, 10)).model_dump(mode="json")
    errors = _posted_problems(document, **{"received_on.month": ""})
    assert errors == {"f-received-on-month": "Date received must include a month"}
    errors = _posted_problems(document, **{"received_on.year": "25"})
    assert errors == {"f-received-on-year": "Date received must include a year with 4 numbers"}


def test_list_items_are_numbered_from_one() -> None:
    """The second complaint's problem says 'complaint 2', as a person counts."""
    document = application(date(2025, 3, 10)).model_dump(mode="json")
    document["complaints"][1]["complainant"] = ""
    errors = _posted_problems(document)
    assert errors == {"f-complaints-1-complainant": "Enter who complained for complaint 2"}


def test_the_cli_gives_the_same_sentence_after_the_field_path() -> None:
    """A file's problems are the console's sentences, each after its path, with the value a
    file's author needs: a date that does not exist is not called a format error."""
    document = application(date(2025, 3, 10)).model_dump(mode="json")
    document["applicant"]["name"] = ""
    document["received_on"] = "2025-02-31"
    document["victims"] = []
    del document["applicant"]["is_victim"]
    with pytest.raises(ValidationError) as refused:
        Application.model_validate(document)
    lines = validation_problems(refused.value)
    assert lines == [
        "received_on: Date received must be a real date: 2025-02-31 does not exist",
        "applicant.name: Enter the applicant's name",
        "applicant.is_victim: Select whether the applicant is the victim",
        "victims: Add at least one victim",
    ]
