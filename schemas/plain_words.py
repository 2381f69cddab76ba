"""Text the system wrote for an auditor, put in words an applicant or a partner reads.

GOV.UK content style: no internal codes, no field paths, dates one way ('27 March 2025'), lists
numbered from 1. The decision engine's reasons are exact and recorded as they are (they are the
audit trail); letters and the console's summaries show them through `plain`, which changes the
form, never the fact. Nothing here names a process: a process gives its own terms (a local rule's
code and its words) as `terms`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from schemas.error_messages import govuk_dates

_POLICY_ASIDE = re.compile(r",?\s*\((?:de-duplication, )?policy [a-z0-9][a-z0-9-]* v\d+\)")
_POLICY = re.compile(r"\bpolicy [a-z0-9][a-z0-9-]* v\d+")
_SECTION = re.compile(r"\bs\.(\d+[A-Z]?(?:\(\d+\))*)")
_SCHEDULE = re.compile(r"\bSch (\d+)(?: para (\d+))?")
_INDEXED = re.compile(r"\b([a-z][a-z_]*?)s?\[(\d+)\]")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


ACTS = {"ASBCPA 2014": "the Anti-social Behaviour, Crime and Policing Act 2014"}
"""Acts cited by their initials, written out."""


def is_policy_label(text: str) -> bool:
    """True for a line that only names the local policy applied ('policy derbyshire-ct v1')."""
    return bool(re.fullmatch(r"policy [a-z0-9][a-z0-9-]* v\d+", text.strip()))


def plain(text: str, terms: Mapping[str, str] | None = None) -> str:
    """One sentence of system text in a person's words.

    `terms` are a process's codes and their words ('hate_single_incident' -> 'the local rule
    for a single hate-related incident'), replaced first; then a policy's label becomes 'the
    local procedure',
    's.104(4)' becomes 'section 104(4)', 'complaints[0]' becomes 'complaint 1', any other
    snake_case code becomes words, and ISO dates become GOV.UK dates.
    """
    for code, words in {**ACTS, **(terms or {})}.items():
        text = text.replace(code, words)
    text = _POLICY_ASIDE.sub("", text)
    text = _POLICY.sub("the local procedure", text)
    text = _SECTION.sub(lambda m: f"section {m[1]}", text)
    text = _SCHEDULE.sub(
        lambda m: f"Schedule {m[1]}" + (f", paragraph {m[2]}" if m[2] else ""), text
    )
    text = _INDEXED.sub(lambda m: f"{m[1].replace('_', ' ')} {int(m[2]) + 1}", text)
    text = _SNAKE.sub(lambda m: m[0].replace("_", " "), text)
    text = govuk_dates(text).strip()
    return text[:1].upper() + text[1:]


def plain_all(lines: object, terms: Mapping[str, str] | None = None) -> list[str]:
    """Every line in plain words, leaving out lines that only name a policy."""
    if not isinstance(lines, list | tuple):
        return [plain(str(lines), terms)]
    return [plain(str(line), terms) for line in lines if not is_policy_label(str(line))]
