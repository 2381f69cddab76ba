"""Which case a decode through the codec server showed, for the access log (issue 13).

"Decrypting through the codec server is written to the access log with who and which case."
The remote codec protocol carries no workflow id: the Temporal Web UI sends the payloads and
X-Namespace only, and the temporal CLI sends what its `--codec-header` says. So the case is named
from the X-Workflow-Id header when a caller sends it, and otherwise from the decoded payloads
themselves: cspflow's inputs, results and step records carry `case_id` and `task_id` fields, and
the ids found there (ids only, never another value) say whose data was shown. A decode that
names no id is logged with no case ("unknown").

The ids found are checked to look like ids (letters, digits, `.`, `_`, `-`): a field of that name
holding anything else is not written, so no free text reaches the log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from temporalio.api.common.v1 import Payload

ID_FIELDS = ("case_id", "task_id")
"""The fields of decoded JSON objects whose values name a case or a partner task."""

MAX_CASES = 20
"""At most this many cases get a row for one decode (a history page is usually one case)."""

MAX_DEPTH = 32
"""How deep into a decoded object the ids are looked for (payloads are shallow)."""

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def ids_in_payloads(payloads: Sequence[Payload]) -> list[str]:
    """The case and task ids named in decoded JSON payloads, each once, in order found."""
    found: dict[str, None] = {}
    for payload in payloads:
        if payload.metadata.get("encoding", b"").startswith(b"json/"):
            try:
                value = json.loads(payload.data)
            except (ValueError, RecursionError):
                continue
            found.update(dict.fromkeys(_ids(value, 0)))
    return list(found)


def _ids(value: Any, depth: int) -> Iterator[str]:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ID_FIELDS and isinstance(item, str) and _ID.fullmatch(item):
                yield item
            elif isinstance(item, dict | list):
                yield from _ids(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _ids(item, depth + 1)


def cases_of(ids: Sequence[str]) -> list[str]:
    """The cases the ids belong to (a task id starts with its case's), each once."""
    return list(dict.fromkeys(ident.partition(".task.")[0] for ident in ids))


def decode_rows(header: str | None, payloads: Sequence[Payload]) -> list[tuple[str | None, str]]:
    """The access-log rows of one decode: (case, what named it), one per case, at least one.

    X-Workflow-Id when sent; else each case found in the payloads (its tasks' ids in the note);
    else one row with no case.
    """
    if header:
        return [(header[:200], "")]
    ids = ids_in_payloads(payloads)
    cases = cases_of(ids)
    if not cases:
        return [(None, "")]
    rows: list[tuple[str | None, str]] = []
    for case in cases[:MAX_CASES]:
        tasks = [i for i in ids if i != case and i.partition(".task.")[0] == case]
        note = "ids in payloads: " + ", ".join([case, *tasks[:MAX_CASES]])
        rows.append((case, note))
    if len(cases) > MAX_CASES:
        rows.append((None, f"ids in payloads: {len(cases) - MAX_CASES} more cases"))
    return rows
