"""A structlog processor that masks personal fields before any log line is written.

cspflow's events carry ids only (house style §11), but a value bound by mistake, or a model
logged whole, could still put a victim's name or an applicant's address into a log that is
shipped, kept and read far more widely than a case file. This processor is the second line: it
replaces the value of every field whose name says it is personal with "[masked]", however deep
it sits in dicts, lists or pydantic models, and leaves ids alone (issue 4, "Personal data": "A
structlog processor masks personal fields before any log line is written").
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from pydantic import BaseModel

MASK = "[masked]"

PERSONAL_FIELDS = frozenset(
    {
        "name",
        "full_name",
        "applicant",
        "victim",
        "victims",
        "complainant",
        "complainants",
        "email",
        "to",
        "cc",
        "bcc",
        "recipient",
        "recipients",
        "address",
        "postal_address",
        "postcode",
        "phone",
        "telephone",
        "date_of_birth",
        "description",
        "summary",
        "findings",
        "body",
        "context",
    }
)
"""Field names whose values are, or may contain, personal data; matched case-insensitively."""

IDENTIFIER_FIELDS = frozenset(
    {
        "case_id",
        "task_id",
        "workflow_id",
        "idempotency_key",
        "message_id",
        "template",
        "step",
        "stage",
        "area",
        "process",
    }
)
"""Fields that identify without describing a person; always logged as they are."""

_MAX_DEPTH = 20


def mask_personal_fields(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Return the event with every personal field's value replaced by "[masked]".

    Place it after the processors that add fields (merge_contextvars) and before the renderer.
    The event and the objects it holds are not changed: a new event is returned, so masking a
    log line never alters the application's data. Names are matched exactly (`applicant` is
    masked, `applicant_id` is not), so ids stay readable (house style §11; issue 4).
    """
    return {key: _mask_field(key, value, 0) for key, value in event_dict.items()}


def _mask_field(key: object, value: Any, depth: int) -> Any:
    if isinstance(key, str) and key.lower() in PERSONAL_FIELDS:
        return MASK
    return _mask_value(value, depth + 1)


def _mask_value(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        # Deeper than any cspflow model: mask rather than walk a cycle.
        return MASK
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {k: _mask_field(k, v, depth) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(item, depth + 1) for item in value]
    return value
