"""The review's report steps: documents, sign-off, QA, the Commissioner's and the Secretary of
State's copies, publication and the action plan (Updates with validators).

2016 statutory guidance (overview report, executive summary and action plan; Home Office Quality
Assurance Panel; publication); DVCVA 2004 s.9(3B) (copy to the Domestic Abuse Commissioner, and
to the Secretary of State too once VPA 2024 s.19 is in force); domain/statutory-reference.md §2.3
steps 10-18. Documents are recorded by reference and SHA-256,
never their content. Publication is refused until the QA Panel approved the report, criminal
proceedings concluded and the family agreed the date (rules/dhr.py `publication_blockers`).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.dhr import DhrStatus, DocumentVersion, QaSubmission
    from schemas.dhr_steps import (
        AgreePublicationDate,
        DocumentKind,
        RecordDacCopy,
        RecordDocument,
        RecordPublication,
        RecordQaOutcome,
        RecordSecretaryOfStateCopy,
        SetRecommendations,
        SignOffReport,
        SubmitToQa,
    )
    from workflows.dhr_steps import DhrSteps


class DhrReportSteps(DhrSteps):
    """Steps 10-15 of the procedure, from the documents to the action plan."""

    # ---- 10-14. documents, QA, the Commissioner, publication ---------------------------------

    @workflow.update
    def record_document(self, step: RecordDocument) -> DhrStatus:
        """Record a new version of a document by reference and SHA-256."""
        versions = [d for d in self._s.documents if d.kind == step.kind.value]
        self._s.documents.append(
            DocumentVersion(
                kind=step.kind.value,
                version=len(versions) + 1,
                reference=step.reference,
                sha256=step.sha256,
                recorded_by=step.by,
                recorded_at=workflow.now(),
            )
        )
        return self.status()

    @record_document.validator
    def _check_document(self, step: RecordDocument) -> None:
        self._require("record_document")

    @workflow.update
    def sign_off_report(self, step: SignOffReport) -> DhrStatus:
        """The CSP signs off the latest version of each document."""
        self._s.pending_sign_off = step
        return self.status()

    @sign_off_report.validator
    def _check_sign_off(self, step: SignOffReport) -> None:
        self._require("sign_off_report")
        self._not_future("signed_off_on", step.signed_off_on)
        missing = [k.value for k in DocumentKind if k.value not in self._latest_documents()]
        if missing:
            raise ValueError(
                f"record {', '.join(missing)} first (`record_document` with its reference and "
                "SHA-256), then sign off"
            )
        if self._s.qa and not self._new_versions_since_qa():
            raise ValueError(
                "the QA Panel asked for amendments: record the amended documents first"
            )

    @workflow.update
    def submit_to_qa(self, step: SubmitToQa) -> DhrStatus:
        """Submit the signed-off documents to the Home Office Quality Assurance Panel."""
        self._s.qa.append(
            QaSubmission(
                number=len(self._s.qa) + 1,
                submitted_on=step.submitted_on,
                documents=tuple(self._latest_documents().values()),
            )
        )
        self._note(step.by, "qa-submission", f"submission {len(self._s.qa)}", ())
        return self.status()

    @submit_to_qa.validator
    def _check_submit(self, step: SubmitToQa) -> None:
        self._require("submit_to_qa")
        self._not_future("submitted_on", step.submitted_on)
        if self._s.qa and self._s.qa[-1].outcome is None:
            raise ValueError("the last submission awaits the QA Panel's letter: record it first")
        shared = {e.kind for e in self._s.family} & {"draft-shared", "declined"}
        if not shared:
            raise ValueError(
                "share the draft with the family before submission, and record it "
                "(`record_family_involvement` step draft-shared), or record that they declined"
            )

    @workflow.update
    def record_qa_outcome(self, step: RecordQaOutcome) -> DhrStatus:
        """Record the QA Panel's letter: approved, or amendments (resubmission follows)."""
        last = self._s.qa[-1]
        self._s.qa[-1] = last.model_copy(
            update={"outcome": step.outcome, "letter_on": step.letter_on}
        )
        return self.status()

    @record_qa_outcome.validator
    def _check_qa_outcome(self, step: RecordQaOutcome) -> None:
        self._require("record_qa_outcome")
        self._not_future("letter_on", step.letter_on)
        if not self._s.qa or self._s.qa[-1].outcome is not None:
            raise ValueError("nothing awaits the QA Panel: submit the documents first")

    @workflow.update
    def record_dac_copy(self, step: RecordDacCopy) -> DhrStatus:
        """Record that the report went to the Domestic Abuse Commissioner (s.9(3B))."""
        self._s.dac_copy_sent_on = step.sent_on
        self._note(step.by, "dac-copy", "sent", (f"sent on {step.sent_on}",))
        return self.status()

    @record_dac_copy.validator
    def _check_dac(self, step: RecordDacCopy) -> None:
        self._require("record_dac_copy")
        self._not_future("sent_on", step.sent_on)

    @workflow.update
    def record_secretary_of_state_copy(self, step: RecordSecretaryOfStateCopy) -> DhrStatus:
        """Record that the report went to the Secretary of State (VPA 2024 s.19)."""
        self._s.sos_copy_sent_on = step.sent_on
        self._note(step.by, "sos-copy", "sent", (f"sent on {step.sent_on}",))
        return self.status()

    @record_secretary_of_state_copy.validator
    def _check_sos(self, step: RecordSecretaryOfStateCopy) -> None:
        self._require("record_secretary_of_state_copy")
        self._not_future("sent_on", step.sent_on)

    @workflow.update
    def agree_publication_date(self, step: AgreePublicationDate) -> DhrStatus:
        """Record the publication date agreed with the family."""
        self._s.publication = self._s.publication.model_copy(
            update={"agreed_date": step.publish_on}
        )
        self._note(step.by, "publication-date", step.publish_on.isoformat(), ())
        return self.status()

    @agree_publication_date.validator
    def _check_agree(self, step: AgreePublicationDate) -> None:
        self._require("agree_publication_date")
        if not step.agreed_with_family:
            raise ValueError("agree the date with the family first (agreed_with_family: true)")

    @workflow.update
    def record_publication(self, step: RecordPublication) -> DhrStatus:
        """Record where the report was published; the removal date follows from the policy."""
        self._s.pending_publication = step
        return self.status()

    @record_publication.validator
    def _check_publication(self, step: RecordPublication) -> None:
        self._require("record_publication")
        self._not_future("published_on", step.published_on)
        blockers = self._publication_blockers(step.published_on)
        if blockers:
            raise ValueError("the review may not be published yet: " + "; ".join(blockers))

    @workflow.update
    def set_recommendations(self, step: SetRecommendations) -> DhrStatus:
        """Record the action plan's recommendations; each becomes a task for its owner."""
        self._s.recommendations = list(step.recommendations)
        self._note(step.by, "recommendations", f"{len(step.recommendations)} recommendations", ())
        return self.status()

    @set_recommendations.validator
    def _check_recommendations(self, step: SetRecommendations) -> None:
        self._require("set_recommendations")
        if self._s.recommendations is not None:
            raise ValueError("the recommendations are recorded: follow them as partner tasks")
        agencies = {a.id for a in self.setup.agencies}
        problems = [
            f"recommendations[{i}].owner ({r.owner}) is not an agency of this area"
            for i, r in enumerate(step.recommendations)
            if r.owner not in agencies
        ] + [
            f"recommendations[{i}].due ({r.due}) is not in the future"
            for i, r in enumerate(step.recommendations)
            if r.due <= workflow.now().date()
        ]
        if problems:
            raise ValueError("; ".join(problems) + ": correct them and take the step again")
