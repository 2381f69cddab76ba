"""The Domestic Homicide Review's human steps (Updates with validators), signal and view (Query).

Each human step is an Update whose validator is synchronous, changes nothing, and refuses a step
not allowed now before anything reaches history, saying what to do and when. Handlers record the
step; the procedure in workflows/dhr.py acts on it. DVCVA 2004 s.9; 2016 statutory guidance;
domain/statutory-reference.md §2.3-§2.6.
"""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.dhr import (
        DhrStatus,
        DocumentVersion,
        FamilyEvent,
        Hold,
        Pause,
        Proceeding,
        Stage,
    )
    from schemas.dhr_steps import (
        AppointChair,
        CloseReview,
        DecideReview,
        DeclareIndependence,
        FamilyStep,
        HeldStep,
        HoldStep,
        PauseReview,
        RecordFamilyInvolvement,
        RecordProceeding,
        ReleaseHold,
        ResumeReview,
        ReviseTimetable,
        SetTermsOfReference,
    )
    from schemas.partner_task import PartnerTaskResult
    from workflows.dhr_case import STEPS_BY_STAGE, THROUGHOUT, DhrCase
    from workflows.partner_task import TASK_FINISHED
    from workflows.rules.dhr import publication_blockers

# Steps a paused review still takes: the CSP resumes it, and the record keeps up meanwhile.
WHILE_PAUSED = (
    "resume_review",
    "record_family_involvement",
    "record_proceeding",
    "hold_step",
    "release_hold",
    "revise_timetable",
    "record_dac_copy",
    "record_secretary_of_state_copy",
)


STEPS_WHEN_READY = "dhr-steps-offered-when-ready"
"""Runs from this release offer a chair step only once its validator would take it:
`appoint_chair` once the allocation found no eligible chair, `declare_independence` once a chair
is appointed. Before it, both were offered from the start of the stage and refused meanwhile."""


class DhrSteps(DhrCase):
    """The human steps of a review (Updates with validators), its signal and its view."""

    def _allowed_steps(self) -> tuple[str, ...]:
        s = self._s
        if s.closing_reason is not None or s.stage is Stage.CLOSED or s.setup is None:
            return ()
        steps = list(STEPS_BY_STAGE[s.stage])
        if self._steps_when_ready and s.stage is Stage.CHAIR:
            appointing = s.chair_id is None and bool(s.chair_reasons)
            steps = [
                step
                for step in steps
                if (step != "appoint_chair" or appointing)
                and (step != "declare_independence" or s.chair_id is not None)
            ]
        if s.review_held:
            steps += THROUGHOUT
        if s.signed_off_on is not None and s.dac_copy_sent_on is None:
            steps.append("record_dac_copy")
        if s.sos_copy_required and s.sos_copy_sent_on is None:
            steps.append("record_secretary_of_state_copy")
        if s.pause is not None:
            steps = [step for step in steps if step in WHILE_PAUSED]
        else:
            steps = [step for step in steps if step != "resume_review"]
        return (*dict.fromkeys(steps), "close_review")

    def _require(self, step: str) -> None:
        if self._s.setup is None:
            raise ValueError("the review is still opening: try again in a moment")
        if step not in self._allowed_steps():
            allowed = ", ".join(self._allowed_steps()) or "none"
            paused = " (the review is paused: resume it first)" if self._s.pause else ""
            raise ValueError(
                f"{step} is not allowed at stage {self._s.stage.value!r}{paused}; steps "
                f"allowed now: {allowed} (see `cspflow status {self.case_id}`)"
            )

    @staticmethod
    def _not_future(field: str, value: date) -> None:
        if value > workflow.now().date():
            raise ValueError(f"{field} ({value}) is in the future: give the date it happened")

    # ---- partner tasks report back ------------------------------------------------------------

    @workflow.signal(name=TASK_FINISHED)
    def task_finished(self, result: PartnerTaskResult) -> None:
        """A partner task ended (answered or cancelled): record it on the review."""
        self._task_finished(result)

    # ---- 3. the decision ----------------------------------------------------------------------

    @workflow.update
    def decide_review(self, step: DecideReview) -> DhrStatus:
        """Confirm or override the proposal whether to hold a review (s.9(1); D1-D5)."""
        self._s.decision = step
        return self.status()

    @decide_review.validator
    def _check_decide(self, step: DecideReview) -> None:
        self._require("decide_review")
        if self._s.screening is None:
            raise ValueError("no proposal has been made yet: try again in a moment")

    # ---- 5-6. chair and terms of reference ---------------------------------------------------

    @workflow.update
    def appoint_chair(self, step: AppointChair) -> DhrStatus:
        """The CSP appoints the chair when the allocation found none eligible (§2.5)."""
        self._s.chair_id, self._s.chair_email = step.chair_id, step.chair_email
        self._s.chair_letter_due = True
        self._note(step.by, "chair", f"appointed:{step.chair_id}", (step.reason,))
        return self.status()

    @appoint_chair.validator
    def _check_appointment(self, step: AppointChair) -> None:
        # At the chair stage, why the step is not open yet says more than "not allowed".
        if self._s.stage is Stage.CHAIR and self._s.chair_id is not None:
            raise ValueError(
                f"a chair is already appointed ({self._s.chair_id}): record their declaration, "
                "or close the review if they cannot chair it"
            )
        if self._s.stage is Stage.CHAIR and not self._s.chair_reasons:
            raise ValueError("the chair allocation is still running: try again in a moment")
        self._require("appoint_chair")

    @workflow.update
    def declare_independence(self, step: DeclareIndependence) -> DhrStatus:
        """Record the appointed chair's signed independence declaration (§2.5)."""
        self._s.declaration = step
        self._note(
            step.by,
            "chair-independence",
            "declared",
            (f"signed on {step.signed_on}; conflicts: {step.conflicts_declared}",),
        )
        return self.status()

    @declare_independence.validator
    def _check_declaration(self, step: DeclareIndependence) -> None:
        if self._s.stage is Stage.CHAIR and self._s.chair_id is None:
            raise ValueError(
                "no chair is appointed yet: appoint one with the `appoint-chair` step (none "
                "trained for DHRs was eligible), then record their declaration"
                if self._s.chair_reasons
                else "no chair is appointed yet: the allocation is still running, try again in "
                "a moment"
            )
        self._require("declare_independence")
        if step.chair_id != self._s.chair_id:
            raise ValueError(
                f"chair_id {step.chair_id!r} is not the appointed chair ({self._s.chair_id}): "
                "record the appointed chair's declaration"
            )
        if not (step.not_employed_by_involved_agency and step.no_line_management_link):
            raise ValueError(
                "the declaration does not confirm independence (not employed by an agency "
                "involved, no line-management link): the chair cannot chair this review; "
                "close the review or appoint another chair"
            )
        self._not_future("signed_on", step.signed_on)

    @workflow.update
    def set_terms_of_reference(self, step: SetTermsOfReference) -> DhrStatus:
        """Record the panel and terms of reference; a revision is a new version."""
        self._s.terms.append(step)
        self._note(
            step.by,
            "terms-of-reference",
            f"version {len(self._s.terms)}",
            (f"scope {step.scope_from} to {step.scope_to}",),
        )
        return self.status()

    @set_terms_of_reference.validator
    def _check_terms(self, step: SetTermsOfReference) -> None:
        self._require("set_terms_of_reference")
        agencies = {a.id for a in self.setup.agencies}
        named = [m.agency for m in step.panel] + list(step.imr_agencies)
        unknown = sorted({a for a in named if a not in agencies})
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} is not an agency of this area; use one of: "
                f"{', '.join(sorted(agencies))}"
            )
        if step.imr_due is not None and step.imr_due <= workflow.now().date():
            raise ValueError(f"imr_due ({step.imr_due}) is not in the future: give a later date")
        if self._s.imrs_requested and (step.imr_agencies or step.imr_due):
            raise ValueError(
                "IMRs are already requested: revise the panel, scope and lines of enquiry only, "
                "and extend an agency's IMR with `cspflow step TASK extend`"
            )

    # ---- 7-9. family, proceedings, holds, pauses, timetable ------------------------------------

    @workflow.update
    def record_family_involvement(self, step: RecordFamilyInvolvement) -> DhrStatus:
        """Record a step of family involvement (leaflet, advocacy, engagement, draft shared)."""
        self._s.family.append(FamilyEvent(kind=step.step.value, on=step.on, recorded_by=step.by))
        return self.status()

    @record_family_involvement.validator
    def _check_family(self, step: RecordFamilyInvolvement) -> None:
        self._require("record_family_involvement")
        self._not_future("on", step.on)
        hold = self._s.holds.get(HeldStep.FAMILY_INTERVIEWS.value)
        if step.step is FamilyStep.INTERVIEWED and hold is not None:
            raise ValueError(
                f"family interviews are held ({hold.reason}; agreed with {hold.agreed_with}): "
                "release the hold when proceedings allow, then record the interview"
            )

    @workflow.update
    def record_proceeding(self, step: RecordProceeding) -> DhrStatus:
        """Record a parallel proceeding or its new status (§2.6)."""
        key = f"{step.kind.value}:{step.reference}"
        self._s.proceedings[key] = Proceeding(
            kind=step.kind.value,
            reference=step.reference,
            status=step.status,
            recorded_by=step.by,
            updated_on=workflow.now().date(),
        )
        self._note(step.by, f"proceeding-{step.kind.value}", step.status, (step.reference,))
        return self.status()

    @record_proceeding.validator
    def _check_proceeding(self, step: RecordProceeding) -> None:
        self._require("record_proceeding")

    @workflow.update
    def hold_step(self, step: HoldStep) -> DhrStatus:
        """Hold a named step until proceedings allow, with who agreed it."""
        self._s.holds[step.step.value] = Hold(
            step=step.step.value,
            reason=step.reason,
            agreed_with=step.agreed_with,
            held_by=step.by,
            held_on=workflow.now().date(),
        )
        self._note(step.by, f"hold-{step.step.value}", "held", (step.reason, step.agreed_with))
        return self.status()

    @hold_step.validator
    def _check_hold(self, step: HoldStep) -> None:
        self._require("hold_step")
        if step.step.value in self._s.holds:
            raise ValueError(f"{step.step.value} is already held: release it first to change it")

    @workflow.update
    def release_hold(self, step: ReleaseHold) -> DhrStatus:
        """Release a held step."""
        self._s.holds.pop(step.step.value)
        self._note(step.by, f"hold-{step.step.value}", "released", (step.reason,))
        return self.status()

    @release_hold.validator
    def _check_release(self, step: ReleaseHold) -> None:
        self._require("release_hold")
        if step.step.value not in self._s.holds:
            held = ", ".join(self._s.holds) or "none"
            raise ValueError(f"{step.step.value} is not held; held steps: {held}")

    @workflow.update
    def pause_review(self, step: PauseReview) -> DhrStatus:
        """Pause the whole review by CSP decision; reminders of the target stop meanwhile."""
        self._s.pause = Pause(
            reason=step.reason, agreed_by=step.agreed_by, paused_on=workflow.now().date()
        )
        self._note(step.by, "pause", "paused", (step.reason, f"agreed by {step.agreed_by}"))
        return self.status()

    @pause_review.validator
    def _check_pause(self, step: PauseReview) -> None:
        self._require("pause_review")

    @workflow.update
    def resume_review(self, step: ResumeReview) -> DhrStatus:
        """Resume a paused review."""
        self._s.pause = None
        self._note(step.by, "pause", "resumed", (step.reason,))
        return self.status()

    @resume_review.validator
    def _check_resume(self, step: ResumeReview) -> None:
        self._require("resume_review")

    @workflow.update
    def revise_timetable(self, step: ReviseTimetable) -> DhrStatus:
        """Record a revised completion date agreed with the CSP; the Home Office is told."""
        self._s.pending_timetable = step
        return self.status()

    @revise_timetable.validator
    def _check_timetable(self, step: ReviseTimetable) -> None:
        self._require("revise_timetable")
        if self._s.signed_off_on is not None:
            raise ValueError("the report is signed off: the review is complete")
        if step.new_target <= workflow.now().date():
            raise ValueError(f"new_target ({step.new_target}) is not in the future")
        if self._s.pending_timetable is not None:
            raise ValueError("a revised timetable is being recorded: wait, then check status")

    # ---- closing -----------------------------------------------------------------------------

    @workflow.update
    def close_review(self, step: CloseReview) -> DhrStatus:
        """Close the review early with a reason."""
        self._s.closing_reason = step.reason
        self._note(step.by, "close", "closed early", (step.reason,))
        return self.status()

    @close_review.validator
    def _check_close(self, step: CloseReview) -> None:
        if self._s.stage is Stage.CLOSED or self._s.closing_reason is not None:
            raise ValueError("the review is already closed")

    # ---- the view ----------------------------------------------------------------------------

    def _latest_documents(self) -> dict[str, DocumentVersion]:
        latest: dict[str, DocumentVersion] = {}
        for document in self._s.documents:
            latest[document.kind] = document
        return latest

    def _new_versions_since_qa(self) -> bool:
        submitted = {(d.kind, d.version) for d in self._s.qa[-1].documents}
        return any((d.kind, d.version) not in submitted for d in self._latest_documents().values())

    def _publication_blockers(self, on: date) -> tuple[str, ...]:
        s = self._s
        return publication_blockers(
            bool(s.qa) and s.qa[-1].outcome == "approved",
            [p.status for p in s.proceedings.values() if p.kind == "criminal"],
            s.publication.agreed_date,
            on,
        )

    @workflow.query
    def status(self) -> DhrStatus:
        """The review as a coordinator sees it: ids, stages, dates and reasons; no names."""
        s, notification = self._s, self._case.notification
        policy = s.setup.policy if s.setup else None
        decided = s.review_held is not None
        return DhrStatus(
            case_id=self.case_id,
            area=notification.area,
            reference=notification.notification_reference,
            policy=policy.label if policy else "(loading)",
            stage=s.stage,
            as_of=workflow.now(),
            deadlines=tuple(s.deadlines.values()),
            tasks=tuple(s.tasks.values()),
            decisions=tuple(s.decisions),
            allowed_steps=self._allowed_steps(),
            review_name=policy.review_name(notification.notified_on)
            if policy
            else "Domestic Homicide Review",
            screening=None if decided else s.screening,
            review_held=s.review_held,
            chair_id=s.chair_id,
            chair_declaration_signed_on=s.declaration.signed_on if s.declaration else None,
            terms_of_reference_version=len(s.terms),
            completion_target=s.completion_target,
            paused=s.pause,
            holds=tuple(s.holds.values()),
            proceedings=tuple(s.proceedings.values()),
            family=tuple(s.family),
            documents=tuple(s.documents),
            signed_off_on=s.signed_off_on,
            qa_submissions=tuple(s.qa),
            dac_copy_sent_on=s.dac_copy_sent_on,
            secretary_of_state_copy_required=bool(s.sos_copy_required),
            secretary_of_state_copy_sent_on=s.sos_copy_sent_on,
            publication=s.publication,
            publication_blockers=self._publication_blockers(workflow.now().date())
            if s.stage in (Stage.PUBLICATION, Stage.QUALITY_ASSURANCE)
            else (),
        )
