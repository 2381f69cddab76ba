"""The Community Trigger's partner tasks: asking the relevant bodies, closing and re-asking.

The application is passed to every relevant body of the area (ASBCPA 2014 s.104(3)(b)); each
request is a PartnerTaskWorkflow child (workflows/partner_task.py) that chases its agency. A
request closes when the step it serves is decided (issue 12, defect 5) and is made again when an
appeal overturns a "not met" decision and the review goes ahead (Sch 4 para 3).
"""

from __future__ import annotations

import asyncio
from datetime import date

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from schemas.community_trigger import TaskSummary
    from schemas.partner_task import (
        PartnerTaskInput,
        PartnerTaskResult,
        TaskKind,
        TaskState,
    )
    from schemas.shared import Process
    from workflows.community_trigger_case import CommunityTriggerCase
    from workflows.partner_task import PartnerTaskWorkflow, task_input
    from workflows.rules.deadlines import add_working_days

REISSUE_ON_APPEAL = "ct-reissue-information-on-appeal"
"""Patch: an appeal that overturns a "not met" decision asks the agencies again."""

INFORMATION_ASKED = (
    "Send the case information you hold about the anti-social behaviour reported in this "
    "application: contacts, actions taken and their outcome (ASBCPA 2014 s.104(3), Sch 4 "
    "para 7)."
)

REISSUED_ASKED = (
    "The decision that this application did not meet the threshold for a case review was "
    "overturned on appeal, so the review will be held and our earlier request, closed then, is "
    "made again. " + INFORMATION_ASKED
)


class CommunityTriggerTasks(CommunityTriggerCase):
    """The partner tasks of one case: started, tracked, closed when served, reissued."""

    def _ask_relevant_bodies(self, step: str, asked: str, agencies: tuple[str, ...]) -> None:
        """Ask each agency for its case information, due after the policy's working days.

        Each request quotes the agency's own references from the complaints made to it.
        """
        app, policy = self._case.application, self.setup.policy
        due = add_working_days(
            workflow.now().date(), policy.timescales.information_request, self._holidays
        )
        for agency in agencies:
            references = tuple(
                c.agency_reference
                for c in app.complaints
                if c.reported_to == agency and c.agency_reference
            )
            self._start_task(
                TaskKind.INFORMATION_REQUEST, step, agency, due, asked=asked, references=references
            )

    async def _reissue_information_requests(self) -> None:
        """Ask again every agency whose request closed unanswered when "not met" was decided.

        An appeal upheld against a "not met" decision sends the case on to a review (Sch 4
        para 3), whose panel needs each body's information (s.104(3)(b), Sch 4 para 7): the
        requests closed by that decision are made again, with new ids and new due dates from
        the policy. A request answered before it closed is not asked again.
        """
        if not workflow.patched(REISSUE_ON_APPEAL) or not self._closed_as_not_met:
            return
        closed = self._closed_as_not_met
        await workflow.wait_condition(lambda: all(t in self._task_results for t in closed))
        agencies = tuple(
            self._tasks[t].agency
            for t in closed
            if self._task_results[t].state is TaskState.CANCELLED
        )
        self._ask_relevant_bodies("information-reissued", REISSUED_ASKED, agencies)

    def _start_task(
        self,
        kind: TaskKind,
        step: str,
        agency_id: str,
        due: date,
        *,
        asked: str,
        references: tuple[str, ...],
    ) -> str:
        setup, app = self.setup, self._case.application
        agency = next(a for a in setup.relevant_bodies if a.id == agency_id)
        task_id = f"{self.case_id}.task.{step}.{agency.id}"
        task = task_input(
            setup,
            agency,
            task_id=task_id,
            case_id=self.case_id,
            case_reference=app.application_reference,
            area=app.area,
            process=Process.COMMUNITY_TRIGGER.value,
            kind=kind,
            asked=asked,
            due=due,
            holidays=self._holidays,
            agency_references=references,
        )
        self._track_task(task)
        self._runners.append(asyncio.create_task(self._run_task(task)))
        return task_id

    def _track_task(self, task: PartnerTaskInput) -> None:
        self._tasks[task.task_id] = TaskSummary(
            task_id=task.task_id,
            agency=task.agency.id,
            kind=task.kind.value,
            due=task.due,
            state="open",
        )

    def _task_done(self, result: PartnerTaskResult) -> None:
        self._task_results[result.task_id] = result
        self._tasks[result.task_id] = self._tasks[result.task_id].model_copy(
            update={
                "due": result.due,
                "state": result.state.value,
                "answered_on": result.answered_on,
                "days_late": result.days_late,
            }
        )

    async def _close_served_tasks(self, kind: TaskKind, reason: str) -> tuple[str, ...]:
        """Close the open tasks of one kind: the step they serve is decided (defect 5).

        Each task records `reason` and tells its agency, so no one is chased for an answer
        nobody will read. Returns the tasks told to close.
        """
        if not workflow.patched("ct-close-served-tasks"):
            return ()
        await workflow.wait_condition(lambda: len(self._handles) == len(self._tasks))
        told: list[str] = []
        for task_id, handle in list(self._handles.items()):
            if self._tasks[task_id].kind != kind.value or task_id in self._task_results:
                continue
            told.append(task_id)
            try:
                await handle.signal(PartnerTaskWorkflow.purpose_served, reason)
            except ApplicationError as error:
                # The task finished (answered) before its result reached this case.
                if error.type != "ExternalWorkflowExecutionNotFound":
                    raise
        return tuple(told)

    async def _run_task(self, task: PartnerTaskInput) -> None:
        handle = await workflow.start_child_workflow(
            PartnerTaskWorkflow.run,
            task,
            id=task.task_id,
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
        )
        self._handles[task.task_id] = handle
        result: PartnerTaskResult = await handle
        self._task_done(result)
