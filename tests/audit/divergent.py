"""Deliberately non-deterministic variants of the Community Trigger workflow, for replay tests.

Each is registered under the real workflow name, "CommunityTrigger", as a careless release would
be: the same workflow, with one change made without `workflow.patched`. Kept in their own module
because the replayer's sandbox re-imports the module that defines a workflow.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.community_trigger import CaseInput, CaseOutcome
    from workflows.community_trigger import CommunityTriggerWorkflow


@workflow.defn(name="CommunityTrigger")
class PausesBeforeOpening(CommunityTriggerWorkflow):
    """Waits one second before recording the application: a timer the history never had."""

    @workflow.run
    async def run(self, case: CaseInput) -> CaseOutcome:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(case)


@workflow.defn(name="CommunityTrigger")
class FetchesHolidaysFirst(CommunityTriggerWorkflow):
    """Asks for the bank holidays before the area's setup: a different first activity."""

    @workflow.run
    async def run(self, case: CaseInput) -> CaseOutcome:
        await workflow.execute_activity(
            "bank_holidays",
            [case.application.received_on.year],
            start_to_close_timeout=timedelta(seconds=60),
        )
        return await super().run(case)
