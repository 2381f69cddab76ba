"""DomesticHomicideReviewWorkflow: a Domestic Homicide Review from notification to closure.

Domestic Violence, Crime and Victims Act 2004 s.9 (as amended by the Domestic Abuse Act 2021:
s.9(3B) copy to the Domestic Abuse Commissioner); Multi-agency Statutory Guidance for the Conduct
of Domestic Homicide Reviews (December 2016); domain/statutory-reference.md §2.3 (steps), §2.5
(chair), §2.6 (proceedings, pauses) and decision-rules.md §1 (D1-D6). The statute sets no
durations: every date comes from the area's DHR policy, recorded when the review opens. The run
reads as the procedure, one stage at a time, so a run continued as new (a review lasts years)
picks up at the stage it reached; human steps arrive as validated Updates (dhr_steps.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import NoReturn

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.effects as effects
    import workflows.signed_steps as signed_steps
    import workflows.status_memo as status_memo
    from schemas.dhr import DhrOutcome, Stage
    from schemas.dhr_state import DhrInput
    from schemas.dhr_steps import DOCUMENT_TITLES, DocumentKind
    from schemas.partner_task import TaskKind
    from schemas.records import ReleaseChair
    from schemas.setup import DhrSetup
    from schemas.shared import DeadlineState
    from workflows.dhr_case import Continuing, ReviewClosing
    from workflows.dhr_chair import DhrChair
    from workflows.dhr_steps import STEPS_WHEN_READY
    from workflows.rules.deadlines import add_working_days
    from workflows.rules.dhr import (
        completion_target,
        decision_reasons,
        imr_due,
        publication_removal,
        screen_notification,
        secretary_of_state_copy_required,
    )

HOLIDAY_YEARS = 4
"""Bank holidays fetched for this many years ahead when a run starts (refetched on each run)."""


@workflow.defn(name="DomesticHomicideReview")
class DomesticHomicideReviewWorkflow(DhrChair):
    """One notified death, run as the area's DHR procedure says."""

    @workflow.run
    async def run(self, case: DhrInput) -> DhrOutcome:
        """Run the procedure stage by stage; `close_review` ends it at any stage."""
        stages: dict[Stage, Callable[[], Awaitable[str | None]]] = {
            Stage.NOTIFIED: self._notified,
            Stage.DECISION: self._decision,
            Stage.CHAIR: self._independent_chair,
            Stage.PANEL: self._panel,
            Stage.AGENCY_REPORTS: self._agency_reports,
            Stage.REPORT: self._overview_report,
            Stage.QUALITY_ASSURANCE: self._quality_assurance,
            Stage.PUBLICATION: self._publication,
            Stage.ACTION_PLAN: self._action_plan,
        }
        signed_steps.load_step_keys()
        self._steps_when_ready = workflow.patched(STEPS_WHEN_READY)
        # A new process: no stored history predates the memo, so no patch is needed.
        self._memo = asyncio.create_task(
            status_memo.keep_status_in_memo(self.status, ignore=("as_of",))
        )
        try:
            await self._open()
            reason: str | None = None
            while reason is None:
                reason = await stages[self._s.stage]()
        except ReviewClosing:
            reason = self._s.closing_reason or "closed"
        except Continuing:
            await self._continue_as_new()
        return await self._close(reason)

    # ---- 1. the notification -----------------------------------------------------------------

    async def _open(self) -> None:
        notification = self._case.notification
        if self._s.setup is None:
            self._s.setup = await effects.run_effect("dhr_setup", notification.area, DhrSetup)
            self._s.screening = screen_notification(notification)
        today = workflow.now().date()
        self._s.holidays = await effects.bank_holidays(
            min(notification.notified_on, today), today + timedelta(days=365 * HOLIDAY_YEARS)
        )
        self._chaser_for_policy()
        self._ensure_watches()

    async def _notified(self) -> str | None:
        s, notification, setup = self._s, self._case.notification, self.setup
        assert s.screening is not None
        if "review-decision" not in s.deadlines:
            self._set_deadline(
                "review-decision",
                s.screening.decision_due,
                "one month beginning with the notification (D6)",
            )
            how = "in writing" if notification.notified_by.in_writing else "not in writing"
            self._note(
                self._case.opened_by,
                "notification",
                f"notified by {notification.notified_by.agency}",
                (f"notified on {notification.notified_on} {how}",),
            )
            # The engine's proposal from D1-D5, so the figures can count decisions by route.
            self._note("cspflow", "proposal", s.screening.route.value, s.screening.reasons)
            await self._record_case()
        if not s.acknowledged:
            notifier = next(
                (a.email for a in setup.agencies if a.id == notification.notified_by.agency),
                setup.point_of_contact.email,
            )
            await self._notice(
                "acknowledgement",
                (notifier,),
                {
                    "area_name": setup.area_name,
                    "notified_on": notification.notified_on.isoformat(),
                    "decision_due": s.screening.decision_due.isoformat(),
                },
            )
            s.acknowledged = True
        # Scoping: every agency is asked about contact and to secure its records (§2.3 step 2).
        due = add_working_days(
            workflow.now().date(), setup.policy.scoping_response_working_days, s.holidays
        )
        for agency in setup.agencies:
            self._start_task(
                TaskKind.SCOPING,
                "scoping",
                agency.id,
                due,
                asked="Tell the Community Safety Partnership whether your organisation had "
                "contact with the victim or the suspected perpetrator in this review, and secure "
                "your records about them for the review (DVCVA 2004 s.9; scoping).",
            )
        await self._move_to(Stage.DECISION)
        return None

    # ---- 3-4. the decision, and telling the Home Office and the family -----------------------

    async def _decision(self) -> str | None:
        s = self._s
        await self._wait_for(lambda: s.decision is not None, "review-decision")
        decision, screening = s.decision, s.screening
        assert decision is not None and screening is not None
        override = decision.decision == "override"
        held = bool(decision.hold_review) if override else screening.review_required
        reasons = decision_reasons(screening, held, decision.reason if override else None)
        others = tuple(f"{o.review.value}: {o.conclusion}" for o in decision.other_reviews)
        self._complete("review-decision")
        s.review_held, s.decided_on = held, workflow.now().date()
        await self._decide(
            "review-decision", "review" if held else "no-review", decision.by, reasons + others
        )
        if not s.told_of_decision:
            await self._tell_decision(held, reasons, others)
            s.told_of_decision = True
        if not held:
            return "the CSP decided not to hold a review; the Home Office was told why"
        target = completion_target(s.decided_on, self.setup.policy)
        s.completion_target, s.target_set_at = target, workflow.now()
        self._set_deadline(
            "completion-target",
            target,
            f"{self.setup.policy.completion_target_months} months beginning with the decision",
        )
        self._ensure_watches()
        await self._move_to(Stage.CHAIR)
        return None

    async def _tell_decision(
        self, held: bool, reasons: tuple[str, ...], others: tuple[str, ...]
    ) -> None:
        setup, notification = self.setup, self._case.notification
        name = setup.policy.review_name(notification.notified_on)
        await self._notice(
            "decision-home-office",
            self._home_office(),
            {
                "area_name": setup.area_name,
                "review_held": held,
                "review_name": name,
                "reasons": list(reasons),
                "other_reviews": list(others),
            },
        )
        # The family's letter goes to the CSP's point of contact, who sends it through the
        # family's liaison: the review holds no family address.
        await self._notice(
            "decision-family",
            (setup.point_of_contact.email,),
            {
                "area_name": setup.area_name,
                "review_held": held,
                "review_name": name,
                "point_of_contact_name": setup.point_of_contact.name,
            },
        )

    # ---- 6-7. panel, terms of reference and IMRs ---------------------------------------------

    async def _panel(self) -> str | None:
        s = self._s
        await self._wait_for(lambda: bool(s.terms))
        terms = s.terms[-1]
        agencies = list(dict.fromkeys(terms.imr_agencies or [m.agency for m in terms.panel]))
        due = terms.imr_due or imr_due(workflow.now().date(), self.setup.policy)
        for agency in agencies:
            self._start_task(
                TaskKind.IMR,
                "imr",
                agency,
                due,
                asked="Send your chronology of contact and an Individual Management Review for "
                "this Domestic Homicide Review, written by someone not directly involved and "
                "line-managing no one who was, and signed off by a senior manager (2016 "
                "guidance). Use the review's pseudonyms only.",
            )
        s.imrs_requested = True
        await self._move_to(Stage.AGENCY_REPORTS)
        return None

    async def _agency_reports(self) -> str | None:
        await self._wait_for(lambda: self._all_closed("imr"))
        await self._move_to(Stage.REPORT)
        return None

    # ---- 11. documents and sign-off ----------------------------------------------------------

    async def _overview_report(self) -> str | None:
        s = self._s
        await self._wait_for(lambda: s.pending_sign_off is not None)
        first = s.signed_off_on is None
        statute = await self._policy_on_completion() if first else None
        sign_off = s.pending_sign_off
        assert sign_off is not None
        if statute is not None:
            # Decided with signed_off_on, before any await, so the copy watch finds it at once.
            s.sos_copy_required = secretary_of_state_copy_required(sign_off.signed_off_on, statute)
        s.signed_off_on, s.pending_sign_off = sign_off.signed_off_on, None
        versions = tuple(f"{d.kind} v{d.version}" for d in self._latest_documents().values())
        await self._decide(
            "sign-off", "signed off", sign_off.by, (f"agreed by {sign_off.agreed_by}", *versions)
        )
        if first:
            target = self._s.deadlines["completion-target"]
            if target.state is DeadlineState.OPEN:
                self._complete("completion-target")
            s.completed_within_target = sign_off.signed_off_on <= target.due
            # Against the target set at the decision, not a revised one: the figures count
            # reviews completed within six months of the decision (2016 guidance §5).
            assert s.decided_on is not None
            first_target = completion_target(s.decided_on, self.setup.policy)
            self._note(
                sign_off.by,
                "completion",
                "within-target" if sign_off.signed_off_on <= first_target else "after-target",
                (f"signed off on {sign_off.signed_off_on}", f"target {first_target}"),
            )
            self._set_copy_deadlines(sign_off.signed_off_on, statute)
        await self._move_to(Stage.QUALITY_ASSURANCE)
        return None

    # ---- 12. Home Office Quality Assurance Panel ---------------------------------------------

    async def _quality_assurance(self) -> str | None:
        s = self._s
        await self._wait_for(lambda: len(s.qa) > s.qa_notified)
        submission = s.qa[-1]
        if s.qa_notified < submission.number:
            await self._notice(
                "qa-submission",
                self._home_office(),
                {
                    "area_name": self.setup.area_name,
                    "submission": submission.number,
                    "documents": [
                        {
                            "title": DOCUMENT_TITLES[DocumentKind(d.kind)],
                            "version": d.version,
                            "reference": d.reference,
                            "sha256": d.sha256,
                        }
                        for d in submission.documents
                    ],
                },
                n=submission.number,
            )
            s.qa_notified = submission.number
            await self._record_decisions()
        await self._wait_for(lambda: s.qa[-1].outcome is not None)
        outcome = s.qa[-1].outcome
        assert outcome is not None
        await self._decide(
            "qa", outcome, "home-office-qa-panel", (f"submission {submission.number}",)
        )
        await self._move_to(Stage.PUBLICATION if outcome == "approved" else Stage.REPORT)
        return None

    # ---- 14-15. publication and the action plan ----------------------------------------------

    def _recommendations_waiting(self) -> bool:
        s = self._s
        return s.recommendations is not None and not any(
            t.step.startswith("recommendation-") for t in s.tasks.values()
        )

    def _start_recommendations(self) -> None:
        for n, rec in enumerate(self._s.recommendations or (), start=1):
            self._start_task(
                TaskKind.RECOMMENDATION, f"recommendation-{n}", rec.owner, rec.due, asked=rec.action
            )

    async def _publication(self) -> str | None:
        s = self._s
        while s.pending_publication is None:
            await self._wait_for(
                lambda: s.pending_publication is not None or self._recommendations_waiting()
            )
            if self._recommendations_waiting():
                self._start_recommendations()
        published = s.pending_publication
        s.publication = s.publication.model_copy(
            update={
                "published_on": published.published_on,
                "url": published.url,
                "removal_on": publication_removal(published.published_on, self.setup.policy),
            }
        )
        s.pending_publication = None
        await self._decide("publication", "published", published.by, (published.url,))
        await self._move_to(Stage.ACTION_PLAN)
        return None

    async def _action_plan(self) -> str | None:
        s = self._s

        def finished() -> bool:
            return (
                s.recommendations is not None
                and not self._recommendations_waiting()
                and self._all_closed("recommendation-")
                and s.dac_copy_sent_on is not None
                and (not s.sos_copy_required or s.sos_copy_sent_on is not None)
            )

        while not finished():
            await self._wait_for(lambda: finished() or self._recommendations_waiting())
            if self._recommendations_waiting():
                self._start_recommendations()
        return (
            "the review is complete: published, copied to the Domestic Abuse Commissioner, "
            "and every recommendation answered or closed"
        )

    # ---- continue-as-new and closure ---------------------------------------------------------

    async def _continue_as_new(self) -> NoReturn:
        """Carry the whole state into a new run at a safe point; tasks keep running."""
        self._draining = True
        await asyncio.gather(*self._loops)
        await workflow.wait_condition(
            lambda: self._starting == 0 and workflow.all_handlers_finished()
        )
        workflow.continue_as_new(
            DhrInput(
                case_id=self.case_id,
                notification=self._case.notification,
                opened_by=self._case.opened_by,
                state=self._s,
            )
        )

    async def _close(self, reason: str) -> DhrOutcome:
        s = self._s
        self._finished = True
        await workflow.wait_condition(lambda: self._starting == 0)
        await self._close_open_tasks(reason)
        await asyncio.gather(*self._loops)
        for name, deadline in s.deadlines.items():
            if deadline.state is DeadlineState.OPEN:
                self._cancel_deadline(name)
        if s.chair_id is not None:
            await effects.run_effect(
                "release_chair", ReleaseChair(case_id=self.case_id, released_at=workflow.now())
            )
        s.closed_reason = reason
        await self._move_to(Stage.CLOSED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return DhrOutcome(
            case_id=self.case_id,
            review_held=s.review_held,
            completed_within_target=s.completed_within_target,
            recommendations=len(s.recommendations or ()),
            closed_reason=reason,
        )
