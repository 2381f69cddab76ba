"""Victims and Prisoners Act 2024 s.19 on the time-skipping server: once in force for a review,
its completed report also goes to the Secretary of State, chased like the Domestic Abuse
Commissioner's copy (DVCVA 2004 s.9(3B) as amended; statutory-reference.md §2.1, §2.7).

The day that counts is the day the report is completed (first signed off), against the
commencement date the area's policy records then: rules/dhr.py `secretary_of_state_copy_required`.
Each test has its own server, moved to a fixed Monday, and its own directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from schemas.dhr_steps import RecordDacCopy, RecordSecretaryOfStateCopy
from starter.client import ClientError, Cspflow
from tests.conftest import Inbox, start_time_skipping_server
from tests.workflows.dhr_cases import (
    close_and_finish,
    notification,
    start,
    status,
    step,
    to_agency_reports,
    to_quality_assurance,
)
from tests.workflows.directory import COORDINATOR, DHR_POLICY, directory_document
from tests.workflows.helpers import eventually, move_clock_to
from tests.workflows.test_community_trigger import record_histories

START = datetime(2049, 3, 1, 7, 0, tzinfo=UTC)
"""A Monday far beyond real time with no bank holiday in the week after it."""

IN_FORCE, NOT_YET = date(2049, 1, 1), date(2049, 6, 1)
"""Commencement dates before and after the day the report is signed off (1 March 2049)."""


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """Each test's own time-skipping server, moved to START before any case opens."""
    async with await start_time_skipping_server() as environment:
        await move_clock_to(environment, START)
        yield environment


def write_directory(path: Path, *versions: dict[str, Any]) -> None:
    """The test directory with these versions of the north DHR policy."""
    document = directory_document()
    document["policies"]["dhr"] = list(versions)
    path.write_text(yaml.safe_dump(document))


@pytest.fixture
def directory_file(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The test directory, the north DHR policy's s.19 commencement date set as given."""
    path = tmp_path / "directory.yaml"
    write_directory(path, {**DHR_POLICY, "darr_commencement": request.param})
    return path


def reminders(inbox: Inbox, about: str) -> list[date]:
    """The days the coordinator was reminded to send the report to `about`."""
    return [
        parsedate_to_datetime(str(m["Date"])).astimezone(UTC).date()
        for m in inbox.to(COORDINATOR)
        if f"copy to {about} not yet sent" in str(m["Subject"])
    ]


@pytest.mark.parametrize("directory_file", [None], indirect=True)
async def test_in_force_the_report_also_goes_to_the_secretary_of_state_until_recorded(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    inbox: Inbox,
    directory_file: Path,
) -> None:
    """s.19 commenced (a policy version set while the review was open) before completion: a copy
    to the Secretary of State is due 5 working days after sign-off, reminded on that day, and
    its deadline is recorded missed when sent a day late."""
    today = START.date()
    case_id = await start(cspflow, notification(today, reference="S19-1"))
    await to_agency_reports(cspflow, case_id, today)
    write_directory(
        directory_file, DHR_POLICY, {**DHR_POLICY, "version": 2, "darr_commencement": IN_FORCE}
    )
    signed = await to_quality_assurance(cspflow, case_id, today)
    assert signed.secretary_of_state_copy_required
    assert "record_secretary_of_state_copy" in signed.allowed_steps
    deadline = next(d for d in signed.deadlines if d.name == "sos-copy")
    assert deadline.due == date(2049, 3, 8) and deadline.state.value == "open"
    await move_clock_to(env, datetime(2049, 3, 9, 12, 0, tzinfo=UTC))
    assert reminders(inbox, "the Secretary of State") == [date(2049, 3, 8)]
    assert reminders(inbox, "the Domestic Abuse Commissioner") == [date(2049, 3, 8)]
    await step(
        cspflow,
        case_id,
        "record_secretary_of_state_copy",
        RecordSecretaryOfStateCopy,
        sent_on="2049-03-09",
    )
    await step(cspflow, case_id, "record_dac_copy", RecordDacCopy, sent_on="2049-03-08")
    sent = await eventually(
        lambda: status(cspflow, case_id),
        lambda s: all(d.state.value != "open" for d in s.deadlines if d.name.endswith("-copy")),
        what="both copies' deadlines completed",
    )
    copies = {d.name: d for d in sent.deadlines if d.name.endswith("-copy")}
    assert (copies["sos-copy"].state.value, copies["sos-copy"].days_late) == ("missed", 1)
    assert (copies["dac-copy"].state.value, copies["dac-copy"].days_late) == ("met", 0)
    assert sent.secretary_of_state_copy_sent_on == date(2049, 3, 9)
    assert "record_secretary_of_state_copy" not in sent.allowed_steps
    assert [d.outcome for d in sent.decisions if d.step == "sos-copy"] == ["sent"]
    await close_and_finish(env, cspflow, case_id)
    await record_histories(env, "dhr-s19", case_id)


@pytest.mark.parametrize("directory_file", [NOT_YET], indirect=True)
async def test_not_yet_in_force_no_copy_to_the_secretary_of_state_is_asked(
    env: WorkflowEnvironment, worker: Worker, cspflow: Cspflow, inbox: Inbox
) -> None:
    """s.19 commencing after the sign-off: only the Commissioner's copy is due and chased, and
    recording a copy to the Secretary of State is refused."""
    today = START.date()
    case_id = await start(cspflow, notification(today, reference="S19-2"))
    await to_agency_reports(cspflow, case_id, today)
    signed = await to_quality_assurance(cspflow, case_id, today)
    assert not signed.secretary_of_state_copy_required
    assert "record_secretary_of_state_copy" not in signed.allowed_steps
    assert [d.name for d in signed.deadlines if d.name.endswith("-copy")] == ["dac-copy"]
    with pytest.raises(ClientError, match="record_secretary_of_state_copy is not allowed"):
        await step(
            cspflow,
            case_id,
            "record_secretary_of_state_copy",
            RecordSecretaryOfStateCopy,
            sent_on=today.isoformat(),
        )
    await move_clock_to(env, datetime(2049, 3, 9, 12, 0, tzinfo=UTC))
    assert reminders(inbox, "the Domestic Abuse Commissioner") == [date(2049, 3, 8)]
    assert reminders(inbox, "the Secretary of State") == []
    await close_and_finish(env, cspflow, case_id)
