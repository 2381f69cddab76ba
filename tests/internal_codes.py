"""Find the internal codes a person should never read: ids, slugs, template names, rule codes.

GOV.UK content style (issue 12, "Words a coordinator, a partner and an applicant understand"):
letters and pages name councils, people, steps and notices in words. The ids stay in `--json`
and in the timeline's detail. `internal_codes` lists what it finds, so a test can show it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from schemas.directory import Directory
from starter.registry import processes

_RULE_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
_POLICY_LABEL = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)+ v\d+\b")
_BARE_SECTION = re.compile(r"\bs\.\d+")
_TEMPLATE = re.compile(r"\b[a-z]+(?:-[a-z]+)*/[a-z]+(?:-[a-z]+)*(?: v\d+)?\b")
_FIELD_PATH = re.compile(r"\b[a-z_]+(?:\[\d+\])?\.(?!json\b|yaml\b)[a-z_]+\b")


def _slugs(directory: Directory) -> set[str]:
    found = {area.id for area in directory.areas} | {agency.id for agency in directory.agencies}
    found |= {chair.id for chair in directory.chairs}
    found |= {p.name for p in directory.community_trigger_policies}
    for spec in processes():
        # A stage of more than one word is a slug no sentence contains ('chair-allocation').
        found |= {stage for stage in spec.stages if "-" in stage}
    return found


def internal_codes(text: str, directory: Directory, allowed: Iterable[str] = ()) -> list[str]:
    """Every internal code in `text`, after removing the `allowed` handles (a case id or task id
    quoted for a cspflow command)."""
    for handle in sorted(allowed, key=len, reverse=True):
        text = text.replace(handle, " ")
    text = re.sub(r"https?://\S+|\S+@\S+", " ", text)  # links and addresses are not prose
    found = [
        slug
        for slug in sorted(_slugs(directory))
        if re.search(rf"(?<![\w/-]){re.escape(slug)}(?![\w-])", text)
    ]
    for pattern in (_RULE_CODE, _POLICY_LABEL, _BARE_SECTION, _TEMPLATE, _FIELD_PATH):
        found += pattern.findall(text)
    return found
