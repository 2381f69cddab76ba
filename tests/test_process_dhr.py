"""The DHR's faces for the registry: the example, the check against the directory, the display.

DVCVA 2004 s.9(1); decision-rules.md §1; house style §9 (write for the person, codes for machines).
"""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from rich.console import Console

from activities.configuration import load_directory
from schemas.dhr import DhrNotification, DhrRoute
from schemas.directory import Directory
from schemas.errors import InputError
from starter.processes.dhr import EXAMPLE_REFERENCE, check_dhr, dhr_example, show_dhr_screening
from starter.settings import PROJECT_ROOT

TODAY = date(2025, 7, 31)


@pytest.fixture(scope="module")
def directory() -> Directory:
    """The shipped Derbyshire directory."""
    return load_directory(PROJECT_ROOT / "config" / "directory.yaml")


def test_the_example_is_valid_json_input_and_requires_a_review(directory: Directory) -> None:
    """`cspflow example dhr` prints a file that validates and screens as a required DHR."""
    example = dhr_example(EXAMPLE_REFERENCE, TODAY)
    again = DhrNotification.model_validate(
        json.loads(json.dumps(example.model_dump(mode="json", exclude_none=True)))
    )
    assert again == example
    screening = check_dhr(again, directory, None)
    assert screening.review_required
    assert screening.route is DhrRoute.DHR
    assert screening.decision_due == date(2025, 8, 30)
    assert example.case_id == "dhr-amber-valley-AV-DHR-EXAMPLE-001"


def test_the_example_is_valid_on_any_day() -> None:
    """The example's dates are built from today, so it validates on 1 January and 29 February."""
    for today in (date(2025, 1, 1), date(2024, 2, 29), date(2100, 12, 31)):
        assert dhr_example("R-1", today).notified_on == today


def test_check_refuses_an_area_the_directory_does_not_hold(directory: Directory) -> None:
    """An unknown area is `unknown_area`, naming the field and listing the known areas."""
    example = dhr_example(EXAMPLE_REFERENCE, TODAY)
    with pytest.raises(InputError) as raised:
        check_dhr(example, directory, "atlantis")
    assert raised.value.code == "unknown_area"
    assert raised.value.fields == ("--area",)
    assert "amber-valley" in str(raised.value)
    moved = example.model_copy(update={"area": "atlantis"})
    with pytest.raises(InputError) as raised:
        check_dhr(moved, directory, None)
    assert raised.value.fields == ("area",)


def test_check_passes_the_rule_errors_through_with_their_codes(directory: Directory) -> None:
    """`check dhr` raises the rules' `victim_age_missing` unchanged for the CLI to print."""
    example = dhr_example(EXAMPLE_REFERENCE, TODAY)
    ageless = example.model_copy(
        update={"victim": example.victim.model_copy(update={"date_of_birth": None})}
    )
    with pytest.raises(InputError) as raised:
        check_dhr(ageless, directory, None)
    error = raised.value.as_json()["error"]
    assert isinstance(error, dict)
    assert error["code"] == "victim_age_missing"


def test_the_display_says_the_proposal_and_every_reason_without_a_pseudonym(
    directory: Directory,
) -> None:
    """The text shows the verdict, route, due date and reasons, and no pseudonym."""
    example = dhr_example(EXAMPLE_REFERENCE, TODAY)
    buffer = io.StringIO()
    show_dhr_screening(Console(file=buffer, width=200), check_dhr(example, directory, None))
    text = buffer.getvalue()
    assert "Domestic Homicide Review REQUIRED" in text
    assert "Route: a Domestic Homicide Review" in text
    assert "Decision due: 2025-08-30" in text
    assert "former intimate partner" in text
    for pseudonym in ("Robin", "Kit"):
        assert pseudonym not in text
