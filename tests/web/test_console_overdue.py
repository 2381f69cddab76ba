"""The console's "Overdue only" filter judges cases on the day `cspflow cases --overdue` does.

Issue 12, defect 4: in rehearsal the CLI judged cases on the rehearsal clock's day and the
console on the real day, so the two lists disagreed after `cspflow clock advance`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.db import Case as CaseTable
from starter.web.app import Console
from tests.web.conftest import NORTH


async def test_overdue_only_uses_the_servers_day_as_the_cli_does(
    env: WorkflowEnvironment, browser: Any, console: Console
) -> None:
    """On the time-skipping server (rehearsal), a case is overdue by the server's clock."""
    real_today = datetime.now(UTC).date()
    server_now = await env.get_current_time()
    if server_now.date() < real_today + timedelta(days=3):
        await env.sleep(datetime.combine(real_today + timedelta(days=3), datetime.min.time(), UTC)
                        - server_now + timedelta(hours=12))  # fmt: skip
    server_today = (await env.get_current_time()).date()
    async with console.sessions() as session, session.begin():
        for reference, deadline in (("OV-1", server_today - timedelta(days=1)),
                                    ("OV-2", server_today)):  # fmt: skip
            session.add(
                CaseTable(
                    case_id=f"ct-north-{reference}", process="community-trigger", area="north",
                    reference=reference, received_on=real_today, policy="test-ct v1",
                    opened_at=server_now, opened_by=NORTH, stage="threshold",
                    next_deadline=deadline, updated_at=server_now,
                )
            )  # fmt: skip
    coordinator = browser()
    await coordinator.sign_in(NORTH)
    page = (await coordinator.http.get("/cases?overdue=1")).text
    assert re.findall(r">(OV-\d)</a>", page) == ["OV-1"]
