"""The review itself: independent chair, meeting, outcome letter and recommendations.

ASBCPA 2014 s.104(6)-(9); Home Office statutory guidance (July 2025): independent chairs, the
victim invited and consulted on the action plan before it is final; domain/statutory-reference.md
§1.6 steps 8-13. Chair allocations are serialised through one database transaction
(`reserve_chair`), so two cases allocated at once never push a chair over capacity.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.community_trigger import ChairAllocation, Recommendation, ScheduleMeeting, Stage
    from schemas.directory import IndependentChair
    from schemas.partner_task import TaskKind
    from schemas.records import (
        ChairCandidate,
        ChairLoad,
        ChairReservation,
        RecommendationRow,
        ReleaseChair,
        ReserveChair,
    )
    from schemas.shared import Process
    from workflows import effects
    from workflows.community_trigger_case import CaseClosing
    from workflows.community_trigger_steps import CommunityTriggerSteps
    from workflows.partner_task import CHAIR_LETTER_NAMES_COORDINATOR
    from workflows.rules.chairs import ChairCase, rank_independent_chairs
    from workflows.rules.chasing import notice_moment
    from workflows.rules.community_trigger import meeting_date_warnings
    from workflows.rules.deadlines import add_working_days, subtract_working_days


class CommunityTriggerReview(CommunityTriggerSteps):
    """Steps 5-9 of the procedure, once the threshold is met."""

    # ---- 5. the independent chair --------------------------------------------------------------

    async def _allocate_independent_chair(self) -> None:
        chairs: list[IndependentChair] = await effects.run_effect(
            "independent_chairs", Process.COMMUNITY_TRIGGER.value, list[IndependentChair]
        )
        self._chairs = {c.id: c for c in chairs}
        loads: list[ChairLoad] = await effects.run_effect(
            "chair_loads", [c.id for c in chairs], list[ChairLoad]
        )
        app = self._case.application
        involved = tuple(
            sorted(
                {c.reported_to for c in app.complaints}
                | {
                    t.agency
                    for t in self._tasks.values()
                    if t.kind == TaskKind.INFORMATION_REQUEST.value
                }
            )
        )
        ranking = rank_independent_chairs(
            ChairCase(
                area=app.area,
                neighbouring_areas=self.setup.neighbouring_areas,
                involved_agencies=involved,
                case_reference=app.application_reference,
                process=Process.COMMUNITY_TRIGGER,
            ),
            chairs,
            {load.chair_id: load for load in loads},
            workflow.now().date(),
            self.setup.policy.chair_from_neighbouring_area,
        )
        reservation: ChairReservation = await effects.run_effect(
            "reserve_chair",
            ReserveChair(
                case_id=self._allocation_key(),
                candidates=ranking.candidates,
                allocated_at=workflow.now(),
                allocated_by="cspflow",
            ),
            ChairReservation,
        )
        reasons = ranking.reasons + tuple(
            f"{c}: at capacity when reserved" for c in reservation.skipped_at_capacity
        )
        self._chair = ChairAllocation(
            chair_id=reservation.chair_id, reasons=reasons, decided_by="cspflow"
        )
        if reservation.chair_id is None:
            await self._decide("chair", "no-eligible-chair", "cspflow", reasons)
            await self._to_coordinator("no-eligible-chair", {"reasons": list(reasons)})
            await self._wait_for(lambda: self._chair_override is not None, None)
        if self._chair_override is not None:
            await self._apply_chair_override()
        else:
            await self._decide("chair", reservation.chair_id or "none", "cspflow", reasons)
            await self._tell_chair()
        days = self.setup.policy.timescales.meeting_scheduled
        self._set_deadline(
            "meeting-date",
            add_working_days(workflow.now().date(), days, self._holidays),
            f"{days} working days after the chair was allocated",
        )
        await self._move_to(Stage.MEETING)

    async def _apply_chair_override(self) -> None:
        override = self._chair_override
        assert override is not None
        self._chair_override = None
        if self._chair and self._chair.chair_id:
            await effects.run_effect(
                "release_chair",
                ReleaseChair(case_id=self._allocation_key(), released_at=workflow.now()),
            )
        self._overrides += 1
        chair = self._chairs[override.chair_id]
        await effects.run_effect(
            "reserve_chair",
            ReserveChair(
                case_id=self._allocation_key(),
                candidates=(
                    ChairCandidate(
                        chair_id=chair.id, max_active_cases=chair.max_active_cases + 1000
                    ),
                ),
                allocated_at=workflow.now(),
                allocated_by=override.by,
            ),
            ChairReservation,
        )
        reasons = (f"override by {override.by}: {override.reason}",)
        self._chair = ChairAllocation(chair_id=chair.id, reasons=reasons, decided_by=override.by)
        await self._decide("chair", chair.id, override.by, reasons)
        await self._tell_chair()

    async def _tell_chair(self) -> None:
        assert self._chair is not None and self._chair.chair_id is not None
        chair = self._chairs[self._chair.chair_id]
        context: dict[str, Any] = {"area_name": self.setup.area_name}
        version = 1
        if workflow.patched(CHAIR_LETTER_NAMES_COORDINATOR):
            # The chair is told whom to contact, by name and email (issue 12, "Words").
            context.update(self.setup.coordinator.context())
            version = 2
        await self._notice(
            "chair-allocated", (chair.email,), context, n=self._overrides, version=version
        )

    # ---- 6. the review meeting ------------------------------------------------------------------

    async def _hold_review_meeting(self) -> None:
        policy = self.setup.policy
        await self._wait_for(
            lambda: self._meeting is not None or self._chair_override is not None, "meeting-date"
        )
        while self._meeting is None:
            await self._apply_chair_override()
            await self._wait_for(
                lambda: self._meeting is not None or self._chair_override is not None,
                "meeting-date",
            )
        meeting = self._meeting
        self._complete("meeting-date")
        if meeting.invite_applicant:
            await self._to_applicant(
                "meeting-invitation", {"meeting_on": meeting.meeting_on.isoformat()}
            )
        await self._decide(
            "meeting",
            meeting.meeting_on.isoformat(),
            meeting.by,
            (
                ()
                if meeting.invite_applicant
                else (f"applicant not invited: {meeting.reason_not_invited}",)
            )
            + self._meeting_warnings(meeting),
        )
        papers_due = self._set_papers_deadline(meeting)
        if workflow.patched("ct-meeting-rescheduled"):
            meeting = await self._until_papers_due(meeting)
        else:
            await self._sleep_until(notice_moment(papers_due))
        panel = tuple(b.email for b in self.setup.relevant_bodies)
        if self._chair and self._chair.chair_id:
            panel += (self._chairs[self._chair.chair_id].email,)
        await self._notice("meeting-papers", panel, {"meeting_on": meeting.meeting_on.isoformat()})
        self._complete("meeting-papers")
        for name, days in (
            ("review-record", policy.timescales.review_record),
            ("outcome-letter", policy.timescales.outcome_letter),
        ):
            self._set_deadline(
                name,
                add_working_days(meeting.meeting_on, days, self._holidays),
                f"{days} working days after the meeting",
            )
        await self._move_to(Stage.REVIEW)
        await self._wait_for(lambda: self._review is not None, "review-record")
        self._complete("review-record")
        review = self._review
        assert review is not None
        await self._decide(
            "review",
            f"{len(review.recommendations)} recommendations",
            review.by,
            (review.findings[:500],),
        )
        self._review_carried_out = True
        await self._close_served_tasks(
            TaskKind.INFORMATION_REQUEST,
            "no longer needed: the review panel has met and recorded its findings",
        )
        await self._move_to(Stage.VICTIM_CONSULTATION)
        # Guidance (2025): the victim is consulted on the action plan before it is finalised.
        await self._wait_for(lambda: self._consultation is not None, "outcome-letter")

    def _meeting_warnings(self, meeting: ScheduleMeeting) -> tuple[str, ...]:
        """What is unusual about the date, recorded with the decision (issue 12, defect 8)."""
        if not workflow.patched("ct-meeting-date-warnings"):
            return ()
        information_due = max(
            (
                t.due
                for t in self._tasks.values()
                if t.kind == TaskKind.INFORMATION_REQUEST.value and t.state in ("open", "overdue")
            ),
            default=None,
        )
        return meeting_date_warnings(meeting.meeting_on, self._holidays, information_due)

    def _set_papers_deadline(self, meeting: ScheduleMeeting) -> date:
        days = self.setup.policy.timescales.papers_before_meeting
        papers_due = subtract_working_days(meeting.meeting_on, days, self._holidays)
        self._set_deadline("meeting-papers", papers_due, f"{days} working days before the meeting")
        return papers_due

    async def _until_papers_due(self, meeting: ScheduleMeeting) -> ScheduleMeeting:
        """Wait until the papers are due, following the meeting wherever it moves; return it.

        The updatable-timer shape (house style §4): a condition with a timeout, recomputed when
        the coordinator sets a new date. A moved meeting re-invites the applicant, moves the
        papers deadline and records the old and the new date (issue 12, defect 3).
        """
        moves = 0
        while True:
            moment = notice_moment(self._deadlines["meeting-papers"].due)
            delay = (moment - workflow.now()).total_seconds()
            if delay > 0:

                def moved(current: ScheduleMeeting = meeting) -> bool:
                    return self._meeting is not current or self._closing is not None

                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(moved, timeout=delay)
            if self._closing is not None:
                raise CaseClosing
            if self._meeting is None or self._meeting is meeting:
                return meeting
            previous, meeting = meeting, self._meeting
            moves += 1
            await self._meeting_moved(previous, meeting, moves)

    async def _meeting_moved(
        self, previous: ScheduleMeeting, meeting: ScheduleMeeting, moves: int
    ) -> None:
        old, new = previous.meeting_on.isoformat(), meeting.meeting_on.isoformat()
        if meeting.invite_applicant and previous.invite_applicant:
            await self._to_applicant(
                "meeting-rescheduled",
                {"meeting_on": new, "previous_meeting_on": old},
                step=f"meeting-rescheduled-{moves}",
            )
        elif meeting.invite_applicant:
            await self._to_applicant(
                "meeting-invitation", {"meeting_on": new}, step=f"meeting-invitation-{moves}"
            )
        reasons: tuple[str, ...] = (f"rescheduled from {old} to {new}",)
        if not meeting.invite_applicant:
            reasons += (f"applicant not invited: {meeting.reason_not_invited}",)
        await self._decide("meeting", new, meeting.by, reasons + self._meeting_warnings(meeting))
        self._set_papers_deadline(meeting)

    # ---- 7. the outcome letter -----------------------------------------------------------------

    async def _send_outcome_letter(self) -> None:
        review = self._review
        assert review is not None
        self._open_appeal_window()
        names = {b.id: b.name for b in self.setup.relevant_bodies}
        await self._to_applicant(
            "outcome-letter",
            {
                "findings": review.findings,
                "recommendations": [
                    {
                        "to_body_name": names.get(r.to_body, r.to_body),
                        "action": r.action,
                        "due": r.due.isoformat(),
                    }
                    for r in review.recommendations
                ],
                "appeal_window_end": self._appeal_window_end,
                "escalation_body_name": self.setup.policy.escalation_body.name,
            },
        )
        self._complete("outcome-letter")
        await self._record_case()

    # ---- 9. recommendations ----------------------------------------------------------------------

    async def _follow_recommendations(self) -> None:
        review = self._review
        assert review is not None
        await self._move_to(Stage.RECOMMENDATIONS)
        latest = max((r.due for r in review.recommendations), default=None)
        if latest is not None and workflow.patched("ct-holidays-cover-recommendations"):
            await self._cover_bank_holidays(latest)
        started = []
        for index, rec in enumerate(review.recommendations):
            await self._record_recommendation(index, rec, "open")
            started.append(
                self._start_task(
                    TaskKind.RECOMMENDATION,
                    f"recommendation-{index + 1}",
                    rec.to_body,
                    rec.due,
                    asked=rec.action,
                    references=(),
                )
            )
        await self._wait_for(lambda: all(self._task_results.get(t) for t in started), None)
        for index, task_id in enumerate(started):
            state = self._task_results[task_id].state.value
            await self._record_recommendation(index, review.recommendations[index], state)

    async def _cover_bank_holidays(self, day: date) -> None:
        """Load the bank holidays of every year up to the one after `day`, if not held yet.

        A recommendation may be due years ahead, and its chase runs past its due date: counting
        working days there with no holidays loaded would treat them as working days.
        """
        held = max((h.year for h in self._holidays), default=day.year - 1)
        if held < day.year + 1:
            more = await effects.bank_holidays(date(held + 1, 1, 1), date(day.year + 1, 12, 31))
            self._holidays = tuple(sorted({*self._holidays, *more}))

    async def _record_recommendation(self, index: int, rec: Recommendation, state: str) -> None:
        await effects.run_effect(
            "record_recommendation",
            RecommendationRow(
                case_id=self.case_id,
                index=index,
                to_body=rec.to_body,
                action=rec.action,
                due=rec.due,
                state=state,
            ),
        )
