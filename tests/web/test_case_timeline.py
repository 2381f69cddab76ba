"""The case page's timeline names each stage the case reached once, where the case reached it.

A partner task's history carries search-attribute upserts of its own (`workflow.patched` records
its change version as one). The timeline once read every upsert against the case's last known
stage, so each partner task added another "Now at: Threshold decision" to a case that had not
moved.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from starter.client import Cspflow
from tests.web.conftest import NORTH
from tests.web.test_console import close, threshold_open
from tests.workflows.directory import application


@pytest.mark.usefixtures("worker")
async def test_the_timeline_says_now_at_a_stage_only_when_the_stage_changed(
    browser: Any, cspflow: Cspflow, today: date
) -> None:
    """A case waiting for its threshold decision, its information requests out to three
    agencies, shows "Now at: Threshold decision" once on its page."""
    case_id = await cspflow.start_community_trigger(application(today, reference="W-STAGE"))
    try:
        await threshold_open(cspflow, case_id)
        coordinator = browser()
        await coordinator.sign_in(NORTH)
        page = (await coordinator.http.get(f"/cases/{case_id}")).text
        assert re.findall(r"Now at: [^<]+", page) == ["Now at: Threshold decision"]
    finally:
        await close(cspflow, case_id)
