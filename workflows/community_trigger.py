"""CommunityTriggerWorkflow: an ASB Case Review from application to closure.

ASB, Crime and Policing Act 2014 s.104 and Sch 4; Home Office statutory guidance (July 2025);
domain/statutory-reference.md §1.6. The statute sets the sequence but no durations: every due date
comes from the area's policy, recorded on the case when it opens. The run method reads as the
procedure; human steps arrive as validated Updates (handlers in community_trigger_steps.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    # Not `from workflows import effects`: that form loads a fresh copy of effects.py into
    # every sandbox (the sandbox's own `workflows` package lacks it); this one passes it through.
    import workflows.effects as effects
    import workflows.signed_steps as signed_steps
    import workflows.status_memo as status_memo
    from schemas.community_trigger import (
        CaseInput,
        CaseOutcome,
        Stage,
    )
    from schemas.partner_task import TaskKind
    from schemas.records import ReleaseChair
    from schemas.setup import CommunityTriggerSetup
    from workflows.community_trigger_case import STEPS_WHEN_READY, CaseClosing
    from workflows.community_trigger_review import CommunityTriggerReview
    from workflows.community_trigger_tasks import INFORMATION_ASKED
    from workflows.partner_task import PartnerTaskWorkflow
    from workflows.rules.chasing import notice_moment
    from workflows.rules.community_trigger import (
        figures_already_due,
        propose_threshold_decision,
    )
    from workflows.rules.deadlines import add_working_days


@workflow.defn(name="CommunityTrigger")
class CommunityTriggerWorkflow(CommunityTriggerReview):
    """One Community Trigger application, run as the area's review procedure says."""

    @workflow.run
    async def run(self, case: CaseInput) -> CaseOutcome:
        """Run the procedure; a coordinator's `close_case` ends it at any stage."""
        signed_steps.load_step_keys()
        self._steps_when_ready = workflow.patched(STEPS_WHEN_READY)
        if workflow.patched(status_memo.PATCH):
            self._status_publisher = asyncio.create_task(
                status_memo.keep_status_in_memo(self.status, ignore=("as_of",))
            )
        try:
            await self._open()
            await self._acknowledge()
            if workflow.patched("ct-consent-recorded-while-opening"):
                # Consent may be recorded while the case is still opening (the acknowledgement
                # waiting on a mail server): the stage, not the flag, says whether to move on.
                if self._stage is Stage.AWAITING_CONSENT:
                    await self._await_consent()
            elif not self._consent_given:
                await self._await_consent()
            self._request_information_from_relevant_bodies()
            met = await self._decide_threshold()
            await self._tell_applicant_the_decision(met)
            if not met:
                met = await self._appeal_window(about="decision")
            if met:
                await self._allocate_independent_chair()
                await self._hold_review_meeting()
                await self._send_outcome_letter()
                # Both end when the coordinator closes the case; wait for both before closing.
                for result in await asyncio.gather(
                    self._follow_recommendations(),
                    self._appeal_window(about="review"),
                    return_exceptions=True,
                ):
                    if isinstance(result, BaseException):
                        raise result
            reason = self._closing_reason()
        except CaseClosing:
            reason = self._closing.reason if self._closing else "closed"
        return await self._close(reason)

    # ---- 1. record the application ------------------------------------------------------------

    async def _open(self) -> None:
        app, today = self._case.application, workflow.now().date()
        self._setup = await effects.run_effect(
            "community_trigger_setup", app.area, CommunityTriggerSetup
        )
        # The edges refuse a future date against the local day; UTC may be a day behind it.
        # Checked after the first activity: a run failed in its very first workflow task, with
        # the step-key fetch just scheduled, was seen to hold the time-skipping server's clock.
        if workflow.patched("ct-received-date-checked") and app.received_on > today + timedelta(
            days=1
        ):
            raise ApplicationError(
                f"received_on ({app.received_on}) is in the future: an application cannot be "
                "received after today; start the case again with the date it was received",
                type="FutureReceivedDate",
                non_retryable=True,
            )
        policy = self.setup.policy
        # Every year the case spans: from receipt (or today) to two years after the later.
        self._holidays = await effects.bank_holidays(
            min(app.received_on, today), max(app.received_on, today) + timedelta(days=730)
        )
        self._chaser_for_policy(policy)
        if not self._consent_given:
            self._stage = Stage.AWAITING_CONSENT
            self._set_deadline(
                "consent",
                add_working_days(app.received_on, policy.timescales.consent, self._holidays),
                f"{policy.timescales.consent} working days after receipt",
            )
        self._set_deadline(
            "threshold-decision",
            add_working_days(app.received_on, policy.timescales.threshold_decision, self._holidays),
            f"{policy.timescales.threshold_decision} working days after receipt",
        )
        await self._record_case()
        if workflow.patched("ct-next-deadline-kept-current"):
            self._deadline_recorder = asyncio.create_task(self._keep_next_deadline_recorded())
        if workflow.patched("ct-late-entry-recorded") and figures_already_due(
            app.received_on, today
        ):
            # Entered after its year's figures were due: the reason is shown beside them.
            await self._decide(
                "late-entry",
                "entered late",
                self._case.opened_by,
                (app.late_entry_reason or "no reason given",),
            )

    async def _acknowledge(self) -> None:
        app, setup = self._case.application, self.setup
        days = setup.policy.timescales.acknowledgement
        self._set_deadline(
            "acknowledgement",
            add_working_days(app.received_on, days, self._holidays),
            f"{days} working days after receipt",
        )
        await self._to_applicant(
            "acknowledgement",
            {
                "area_name": setup.area_name,
                "point_of_contact_name": setup.point_of_contact.name,
                "point_of_contact_phone": setup.point_of_contact.phone,
                "threshold_due": self._deadlines["threshold-decision"].due.isoformat(),
            },
        )
        self._complete("acknowledgement")

    async def _await_consent(self) -> None:
        """A third party needs the victim's consent; the case goes no further without it."""
        await self._wait_for(lambda: self._consent_given, "consent")
        self._complete("consent")
        await self._move_to(Stage.THRESHOLD)

    # ---- 2. pass the application to every relevant body (s.104(3)(b)) --------------------------

    def _request_information_from_relevant_bodies(self) -> None:
        self._ask_relevant_bodies(
            "information",
            INFORMATION_ASKED,
            tuple(agency.id for agency in self.setup.relevant_bodies),
        )

    # ---- 3-4. the threshold (s.104(4)-(5)) -----------------------------------------------------

    async def _decide_threshold(self) -> bool:
        self._proposal = propose_threshold_decision(
            self._case.application, self.setup.policy, self._assessment
        )
        await self._wait_for(lambda: self._threshold is not None, "threshold-decision")
        decision = self._threshold
        assert decision is not None and self._proposal is not None
        met = self._proposal.met if decision.decision == "confirm" else bool(decision.met)
        reasons = (
            self._proposal.reasons
            if decision.decision == "confirm"
            else (f"override of the proposed decision: {decision.reason}", *self._proposal.reasons)
        )
        self._complete("threshold-decision")
        await self._decide("threshold", "met" if met else "not-met", decision.by, reasons)
        self._threshold_met = met
        await self._record_case()
        if not met:
            self._closed_as_not_met = await self._close_served_tasks(
                TaskKind.INFORMATION_REQUEST,
                "no longer needed: the threshold for a case review was not met, so no review "
                "will be held",
            )
        return met

    async def _tell_applicant_the_decision(self, met: bool) -> None:
        days = self.setup.policy.timescales.decision_notice
        self._set_deadline(
            "decision-notice",
            add_working_days(workflow.now().date(), days, self._holidays),
            f"{days} working days after the decision",
        )
        self._open_appeal_window()
        assert self._proposal is not None
        await self._to_applicant(
            "threshold-decision",
            {
                "met": met,
                "reasons": list(self._decisions[-1].reasons),
                "appeal_window_end": self._appeal_window_end,
                "escalation_body_name": self.setup.policy.escalation_body.name,
                "point_of_contact_name": self.setup.point_of_contact.name,
            },
        )
        self._complete("decision-notice")
        await self._move_to(Stage.CHAIR if met else Stage.APPEAL_OF_DECISION)

    # ---- 8. dissatisfied applicants (Sch 4 para 3) ----------------------------------------------

    async def _appeal_window(self, about: str) -> bool:
        """Wait out the appeal window; return True when an appeal was upheld."""
        if about == "review":
            self._open_appeal_window()
        assert self._appeal_window_end is not None
        window_closes = notice_moment(self._appeal_window_end + timedelta(days=1))
        timeout = max(0.0, (window_closes - workflow.now()).total_seconds())
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._appeal is not None or self._closing is not None, timeout=timeout
            )
        self._appeal_window_end = None
        if self._closing is not None:
            raise CaseClosing
        if self._appeal is None:
            return False
        appeal, policy = self._appeal, self.setup.policy
        days = policy.timescales.appeal_decision
        self._set_deadline(
            "appeal-decision",
            add_working_days(appeal.received_on, days, self._holidays),
            f"{days} working days after the request",
        )
        await self._notice(
            "appeal-referral",
            (policy.escalation_body.email,),
            {
                "grounds": [g.value for g in appeal.grounds],
                "due": self._deadlines["appeal-decision"].due.isoformat(),
            },
            step=f"appeal-referral-{about}",
        )
        await self._wait_for(lambda: self._appeal_decision is not None, "appeal-decision")
        outcome = self._appeal_decision
        assert outcome is not None
        self._complete("appeal-decision")
        await self._decide(
            f"appeal-of-{about}",
            "upheld" if outcome.upheld else "not-upheld",
            outcome.by,
            (outcome.reasons,),
        )
        await self._to_applicant(
            "appeal-decision",
            {"upheld": outcome.upheld, "reasons": outcome.reasons},
            step=f"appeal-decision-{about}",
        )
        if about == "decision" and outcome.upheld:
            self._threshold_met = True
            await self._reissue_information_requests()
            await self._move_to(Stage.CHAIR)
        return outcome.upheld

    # ---- closure (guidance 2025: tell the victim when and why a case closes) ---------------------

    def _closing_reason(self) -> str:
        if self._threshold_met is False:
            return "the threshold for a case review was not met"
        count = len(self._review.recommendations) if self._review else 0
        return (
            "the review is complete and every recommendation has been answered"
            if count
            else "the review is complete with no recommendations"
        )

    async def _close(self, reason: str) -> CaseOutcome:
        await workflow.wait_condition(lambda: len(self._handles) == len(self._tasks))
        for task_id, handle in self._handles.items():
            if task_id not in self._task_results:
                try:
                    await handle.signal(PartnerTaskWorkflow.case_closed, reason)
                except ApplicationError as error:
                    # The task finished before its result reached this (just restarted) case.
                    if not (
                        workflow.patched("ct-close-tolerates-finished-task")
                        and error.type == "ExternalWorkflowExecutionNotFound"
                    ):
                        raise
        await asyncio.gather(*self._runners)
        posting = workflow.patched("ct-letter-to-post")
        for name, deadline in self._deadlines.items():
            if deadline.state.value == "open" and not (posting and name.startswith("letter-")):
                self._cancel_deadline(name)
        if self._chair and self._chair.chair_id:
            await effects.run_effect(
                "release_chair",
                ReleaseChair(case_id=self._allocation_key(), released_at=workflow.now()),
            )
        await self._to_applicant("case-closed", {"reason": reason})
        if posting:
            self._finishing = True
            await self._until_letters_posted()
        self._closed_reason = reason
        await self._move_to(Stage.CLOSED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseOutcome(
            case_id=self.case_id,
            threshold_met=self._threshold_met,
            review_carried_out=self._review_carried_out,
            recommendations=len(self._review.recommendations) if self._review else 0,
            closed_reason=reason,
        )
