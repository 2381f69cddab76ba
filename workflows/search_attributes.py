"""Search attributes on every case, so the Temporal Web UI and `temporal workflow list` filter
cases. They carry ids, stages and dates only: never a name or any other personal detail."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PROCESS = SearchAttributeKey.for_keyword("CspProcess")
AREA = SearchAttributeKey.for_keyword("CspArea")
STAGE = SearchAttributeKey.for_keyword("CspStage")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("CspNextDeadline")

ALL = (PROCESS, AREA, STAGE, NEXT_DEADLINE)
