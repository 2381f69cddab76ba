"""Letters and emails carry no internal codes and say plainly what was decided and why.

Issue 12: no `hate_single_incident`, `derbyshire-ct v1`, `s.104(4)` without words, area, agency
or chair ids, stage slugs or template names in what an applicant, a partner or a chair reads.
Every template is rendered with a decision's real reasons (as the rule engine writes them); the
case id and task id are allowed only where a command quotes them.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from activities.configuration import load_directory
from activities.notices import available_templates, render_notice
from schemas.community_trigger import LOCAL_RULE_TERMS
from schemas.directory import Directory
from starter.settings import PROJECT_ROOT
from tests.activities.test_notices import SAMPLE
from tests.internal_codes import internal_codes

ENGINE_REASONS = [
    "2 qualifying complaints counted; the threshold is 3 (s.104(4)): statutory test not met",
    "local rule hate_single_incident not met: 1 hate-related complaint, but the application "
    "(received 2025-03-02) came after the 6 months beginning with each one's behaviour (the "
    "latest, complaints[1], period ended 2025-02-01)",
    "threshold not met",
    "policy derbyshire-ct v1",
]
"""Reasons as workflows/rules/community_trigger.py writes them for a threshold decision."""


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(PROJECT_ROOT / "config" / "directory.yaml")


def _visible(rendered_html: str) -> str:
    return html.unescape(
        re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", rendered_html, flags=re.S))
    )


@pytest.mark.parametrize(("template", "version"), available_templates())
def test_no_letter_or_email_carries_an_internal_code(
    template: str, version: int, directory: Directory
) -> None:
    """Text and HTML of every notice are free of ids, slugs, template names and rule codes."""
    context: dict[str, Any] = dict(SAMPLE)
    if template == "community-trigger/threshold-decision":
        context["reasons"] = ENGINE_REASONS
    rendered = render_notice(template, version, context)
    allowed = (SAMPLE["case_id"], SAMPLE["task_id"])
    for part in (rendered.subject, rendered.text, _visible(rendered.html)):
        assert internal_codes(part, directory, allowed) == [], part


def test_the_decision_letter_says_the_reasons_in_words() -> None:
    """The engine's reasons reach the applicant as sentences: the law named, the complaint
    numbered from 1, dates written out, the policy label left out."""
    context = SAMPLE | {"reasons": ENGINE_REASONS, "met": False}
    text = " ".join(render_notice("community-trigger/threshold-decision", 1, context).text.split())
    assert "section 104(4)" in text and "Anti-social Behaviour, Crime and Policing Act 2014" in text
    assert "local rule for a single hate-related incident not met" in text
    assert "complaint 2" in text and "2 March 2025" in text
    assert "derbyshire-ct" not in text and "hate_single_incident" not in text


def test_the_scan_finds_a_planted_code(directory: Directory) -> None:
    """The scan can fail: each kind of code planted in a sentence is found."""
    area, agency = directory.areas[0].id, directory.agencies[0].id
    planted = (
        f"Sent to {agency} in {area} under derbyshire-ct v1 (s.104(4)): hate_single_incident; "
        "template community-trigger/acknowledgement v1; stage chair-allocation; "
        "applicant.is_victim"
    )
    found = internal_codes(planted, directory)
    for code in (
        agency,
        area,
        "derbyshire-ct v1",
        "s.104",
        "hate_single_incident",
        "community-trigger/acknowledgement v1",
        "chair-allocation",
        "applicant.is_victim",
    ):
        assert any(code in f for f in found), (code, found)  # fmt: skip
    assert internal_codes("Sent to Bolsover District Council in Amber Valley.", directory) == []


def test_the_letters_and_the_console_share_the_rule_words() -> None:
    """The rule codes' words in the letters' _words.j2 are the console's (LOCAL_RULE_TERMS)."""
    from activities.notices import template_environment

    module = template_environment().get_template("community-trigger/_words.j2").module
    assert module.terms == LOCAL_RULE_TERMS  # type: ignore[attr-defined]
