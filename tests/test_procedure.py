"""The published Community Trigger procedure: what s.104(2)-(3) and Sch 4 para 3 require is on it.

ASBCPA 2014 s.104 (point of contact, threshold), s.105 (relevant bodies), Sch 4 para 3
(dissatisfied applicants); domain/statutory-reference.md §1.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from activities.configuration import load_directory
from schemas.directory import Directory
from schemas.errors import InputError
from starter.procedure import describe_policy, render_procedure
from starter.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(PROJECT_ROOT / "config" / "directory.yaml")


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_procedure_states_what_the_statute_requires(directory: Directory, fmt: str) -> None:
    """Point of contact, threshold, relevant bodies, escalation body and policy are all stated."""
    page = render_procedure(directory, "bolsover", fmt)  # type: ignore[arg-type]

    assert "Bolsover Community Safety Team" in page
    assert "asb@bolsover.example.org" in page
    assert "01246 000201" in page
    assert "Clowne" in page
    assert "3 qualifying complaints" in page
    assert "within one month of the behaviour" in page
    assert "six months" in page
    assert "consent" in page
    for body in (
        "Bolsover District Council",
        "Derbyshire Constabulary",
        "NHS Derby and Derbyshire Integrated Care Board",
        "Oakridge Housing Association",
    ):
        assert body in page
    assert "Office of the Derbyshire Police and Crime Commissioner" in page
    assert "20 working days" in page
    assert "derbyshire-ct v1" in page
    assert "ASBCPA 2014 s.104 and Sch 4" in page


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_procedure_describes_local_rules_with_their_parameters(
    directory: Directory, fmt: str
) -> None:
    """High Peak's own threshold and local rules appear with their numbers."""
    page = render_procedure(directory, "high-peak", fmt)  # type: ignore[arg-type]

    assert "2 qualifying complaints" in page
    assert "within 3 months" in page
    assert "5 different people" in page
    assert "2 separate incidents" in page
    assert "Community Safety Manager" in page
    assert "high-peak-ct v2" in page
    assert "14 working days of receiving your application" in page


def test_rules_an_area_has_not_switched_on_are_not_described(directory: Directory) -> None:
    """Derbyshire's policy does not enable multi-complainant or cumulative-harm rules."""
    page = render_procedure(directory, "erewash", "md")

    assert "different people" not in page
    assert "separate incidents" not in page


class _Page(HTMLParser):
    """Collects what an accessibility check needs: html lang, title, headings, open tags."""

    VOID = {"meta", "link", "br", "img", "input", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.title = ""
        self.headings: list[str] = []
        self.stack: list[str] = []
        self.mismatched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        if tag in {"h1", "h2", "h3"}:
            self.headings.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.mismatched.append(tag)

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "title":
            self.title += data


def test_html_is_a_complete_accessible_page(directory: Directory) -> None:
    """The page declares en-GB, has one h1, balanced tags, and a title with no personal data."""
    html = render_procedure(directory, "amber-valley", "html")
    page = _Page()
    page.feed(html)

    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en-GB">' in html
    assert page.lang == "en-GB"
    assert page.title == "Anti-social behaviour case review (Community Trigger): Amber Valley"
    assert page.headings.count("h1") == 1 and page.headings[0] == "h1"
    assert page.stack == [] and page.mismatched == []
    assert 'href="tel:01773000101"' in html
    assert 'href="mailto:asb@amber-valley.example.org"' in html


def test_html_escapes_directory_text(directory: Directory) -> None:
    """Text from the directory cannot inject markup into the published page."""
    area = directory.area("erewash")
    contact = area.point_of_contact.model_copy(update={"name": "Team <script>alert(1)</script>"})
    edited = directory.model_copy(
        update={
            "areas": tuple(
                a.model_copy(update={"point_of_contact": contact}) if a.id == "erewash" else a
                for a in directory.areas
            )
        }
    )

    html = render_procedure(edited, "erewash", "html")

    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_describe_policy_is_structured_and_json_ready(directory: Directory) -> None:
    """describe_policy gives `cspflow policy show` plain data that serialises to JSON."""
    described = describe_policy(directory, "high-peak")

    json.dumps(described)
    assert described["label"] == "high-peak-ct v2"
    assert described["area"] == {"id": "high-peak", "name": "High Peak"}
    assert described["threshold"]["qualifying_complaints"] == 2
    assert [r["name"] for r in described["threshold"]["local_rules"]] == [
        "hate_single_incident",
        "multi_complainant",
        "vulnerability_override",
        "cumulative_harm",
    ]
    assert described["dissatisfied"]["appeal_window_working_days"] == 20
    assert described["policy"]["timescales"]["threshold_decision"] == 14
    assert described["neighbouring_areas"] == [
        {"id": "derbyshire-dales", "name": "Derbyshire Dales"},
    ]


def test_unknown_area_is_an_input_error_listing_known_areas(directory: Directory) -> None:
    """Asking for an area the directory does not hold says which areas it does hold."""
    with pytest.raises(InputError, match=r"no area 'derby'.*amber-valley"):
        render_procedure(directory, "derby", "md")
