"""A workflow's status kept in its memo, so a case can be read with no worker running (issue 11).

`cspflow status`, `cspflow task show`, the console's case page and a partner's answer page read
the memo with a describe call (starter/reads.py): the server answers it alone, so a case stays
visible through a deploy or a crash, and no Query reaches a fresh worker (the trigger of the
temporalio ordering defect, docs/upstream-temporalio-update-ordering.md). The memo is a payload
like any other, encrypted by the payload codec (starter/codec.py).

One background task per workflow publishes the status whenever it changes: it waits on a
condition comparing the status with the last one published, and conditions are checked in the
same workflow task as the change, so the memo moves atomically with the state it describes. An
unchanged status is not published again, keeping histories small.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from pydantic import BaseModel
from temporalio import workflow

STATUS_KEY = "status"
"""The memo key holding the workflow's status model (CaseStatus, PartnerTaskStatus)."""

PATCH = "status-in-memo"
"""The patch behind which a workflow publishes its status: histories from before it replay."""


def _comparable(status: BaseModel, ignore: Collection[str]) -> dict[str, Any]:
    return {name: value for name, value in vars(status).items() if name not in ignore}


async def keep_status_in_memo(
    status_of: Callable[[], BaseModel], *, ignore: Collection[str] = ()
) -> None:
    """Publish `status_of()` in the memo now and whenever it changes, until the workflow ends.

    `ignore` names fields that change with the clock alone (a status's `as_of`): a new value
    of theirs is published with the next real change, not on its own.
    """
    published: dict[str, Any] | None = None

    def changed() -> bool:
        return _comparable(status_of(), ignore) != published

    while True:
        await workflow.wait_condition(changed)
        status = status_of()
        published = _comparable(status, ignore)
        workflow.upsert_memo({STATUS_KEY: status})
