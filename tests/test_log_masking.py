"""Personal fields are masked before a log line is written; ids stay (house style §11)."""

from __future__ import annotations

import copy
import json
from typing import Any

import structlog
from pydantic import BaseModel
from structlog.testing import capture_logs

from starter.log_masking import (
    IDENTIFIER_FIELDS,
    MASK,
    PERSONAL_FIELDS,
    mask_personal_fields,
)

IDS = {
    "case_id": "ct-lambeth-2025-0042",
    "task_id": "ct-lambeth-2025-0042.task.review.police",
    "workflow_id": "ct-lambeth-2025-0042",
    "idempotency_key": "ct-lambeth-2025-0042:notice:1",
    "message_id": "<abc@cspflow.example.org>",
    "template": "acknowledgement@v3",
    "step": "decide_threshold",
    "stage": "meeting",
    "area": "lambeth",
    "process": "community_trigger",
}


class Victim(BaseModel):
    name: str
    date_of_birth: str
    victim_ref: str


def test_top_level_personal_fields_are_masked_and_ids_kept() -> None:
    """Each personal field's value becomes "[masked]"; each id is logged as it was."""
    event = {
        "event": "notice_sent",
        "to": "alex@example.org",
        "applicant": "Alex Example",
        "date_of_birth": "1987-03-14",
        **IDS,
    }
    masked = mask_personal_fields(None, "info", event)
    assert masked["to"] == masked["applicant"] == masked["date_of_birth"] == MASK
    assert masked["event"] == "notice_sent"
    assert {k: masked[k] for k in IDS} == IDS


def test_nested_personal_fields_are_masked_in_dicts_lists_and_models() -> None:
    """Masking reaches into dicts, lists, tuples and pydantic models, at any depth."""
    event = {
        "event": "case_recorded",
        "case": {
            "case_id": "ct-x-1",
            "complainants": [{"name": "Sam Victim", "complainant_ref": "c1"}],
            "notices": ({"recipients": ["a@example.org"], "message_id": "<m1@x>"},),
            "victim_detail": Victim(name="Robin", date_of_birth="2001-01-01", victim_ref="v1"),
        },
        "Email": "shouting@example.org",
    }
    masked = mask_personal_fields(None, "info", event)
    case = masked["case"]
    assert case["case_id"] == "ct-x-1"
    assert case["complainants"] == MASK
    assert case["notices"] == [{"recipients": MASK, "message_id": "<m1@x>"}]
    assert case["victim_detail"] == {"name": MASK, "date_of_birth": MASK, "victim_ref": "v1"}
    assert masked["Email"] == MASK
    rendered = json.dumps(masked)
    for detail in ("Sam Victim", "a@example.org", "Robin", "2001-01-01", "shouting@example.org"):
        assert detail not in rendered


def test_a_list_of_records_has_each_personal_field_masked() -> None:
    """Fields inside list items are masked item by item, keeping the items' ids."""
    event = {"event": "x", "parties": [{"name": "A", "agency": "police"}, {"phone": "0123"}]}
    masked = mask_personal_fields(None, "info", event)
    assert masked["parties"] == [{"name": MASK, "agency": "police"}, {"phone": MASK}]


def test_ids_that_contain_a_personal_word_are_kept() -> None:
    """Names are matched whole: `applicant_id` and `summary_version` are not personal."""
    event = {"event": "x", "applicant_id": "a-17", "summary_version": 3, "body_hash": "ab12"}
    assert mask_personal_fields(None, "info", event) == event


def test_masking_changes_neither_the_event_nor_the_objects_it_holds() -> None:
    """The application's own data is never altered by logging it."""
    held = {"name": "Alex Example", "case_id": "ct-x-1"}
    event: dict[str, Any] = {"event": "x", "case": held, "to": ["a@example.org"]}
    before = copy.deepcopy(event)
    mask_personal_fields(None, "info", event)
    assert event == before
    assert held["name"] == "Alex Example"


def test_a_cycle_is_masked_rather_than_followed_for_ever() -> None:
    """A self-referencing value ends in "[masked]" instead of a RecursionError."""
    loop: dict[str, Any] = {"case_id": "ct-x-1"}
    loop["self"] = loop
    masked = mask_personal_fields(None, "info", {"event": "x", "loop": loop})
    assert MASK in json.dumps(masked, default=str)


def test_personal_and_identifier_field_names_do_not_overlap() -> None:
    """No field is both masked and promised to be kept."""
    assert not PERSONAL_FIELDS & IDENTIFIER_FIELDS


def test_in_a_structlog_chain_no_personal_value_is_written() -> None:
    """Configured before the renderer, the processor masks what a careless call binds."""
    structlog.reset_defaults()
    with capture_logs(processors=[mask_personal_fields]) as events:
        structlog.get_logger().bind(case_id="ct-x-1").info(
            "notice_sent", recipient="alex@example.org", summary="noise at night"
        )
    assert events == [
        {
            "event": "notice_sent",
            "case_id": "ct-x-1",
            "recipient": MASK,
            "summary": MASK,
            "log_level": "info",
        }
    ]
