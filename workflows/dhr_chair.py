"""The review's independent chair: allocated from the chairs trained for DHRs, then the signed
independence declaration awaited.

2016 statutory guidance: an independent chair, responsible for the overview report; independence
means not employed, nor recently employed, by an agency involved and no line-management link to
anyone involved (domain/statutory-reference.md §2.5). The Community Trigger's allocation is reused
(workflows/rules/chairs.py; one `reserve_chair` transaction, so two reviews never overfill a
chair), restricted to chairs whose `processes` include 'dhr'; every agency of the area counts as
involved.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.effects as effects
    from schemas.dhr import Stage
    from schemas.directory import IndependentChair
    from schemas.records import ChairLoad, ChairReservation, ReserveChair
    from schemas.shared import Process
    from workflows.dhr_timetable import DhrTimetable
    from workflows.partner_task import CHAIR_LETTER_NAMES_COORDINATOR
    from workflows.rules.chairs import ChairCase, rank_independent_chairs


APPOINTED_CHAIR_LETTER = "dhr-appointed-chair-letter"
"""Runs from this release write to a chair the CSP appointed during the allocation's own notice
(the no-trained-chair test's intermittent failure: the letter was never sent)."""


class DhrChair(DhrTimetable):
    """Step 5 of the procedure: the independent chair and the declaration."""

    # ---- 5. the independent chair ------------------------------------------------------------

    async def _independent_chair(self) -> str | None:
        s = self._s
        if s.chair_id is None and not s.chair_reasons:
            await self._allocate_chair()
        waited = s.chair_id is None
        if waited:
            # No trained chair was eligible: the CSP appoints one (`appoint_chair`).
            await self._wait_for(lambda: s.chair_id is not None)
        # The CSP may appoint while the allocation is still telling the coordinators that no
        # chair was eligible; that chair is written to as well (before the patch, not at all).
        if waited or (s.chair_letter_due and workflow.patched(APPOINTED_CHAIR_LETTER)):
            s.chair_letter_due = False
            assert s.chair_email is not None
            await self._tell_chair(s.chair_email)
        await self._wait_for(lambda: s.declaration is not None)
        await self._move_to(Stage.PANEL)
        return None

    async def _allocate_chair(self) -> None:
        """Offer the review to the eligible chair trained for DHRs with the lightest load."""
        s, setup, notification = self._s, self.setup, self._case.notification
        chairs: list[IndependentChair] = await effects.run_effect(
            "independent_chairs", Process.DHR.value, list[IndependentChair]
        )
        loads: list[ChairLoad] = await effects.run_effect(
            "chair_loads", [c.id for c in chairs], list[ChairLoad]
        )
        ranking = rank_independent_chairs(
            ChairCase(
                area=notification.area,
                neighbouring_areas=setup.neighbouring_areas,
                involved_agencies=tuple(sorted(a.id for a in setup.agencies)),
                case_reference=notification.notification_reference,
                process=Process.DHR,
            ),
            chairs,
            {load.chair_id: load for load in loads},
            workflow.now().date(),
            False,
        )
        reservation: ChairReservation = await effects.run_effect(
            "reserve_chair",
            ReserveChair(
                case_id=self.case_id,
                candidates=ranking.candidates,
                allocated_at=workflow.now(),
                allocated_by="cspflow",
            ),
            ChairReservation,
        )
        s.chair_reasons = ranking.reasons + tuple(
            f"{c}: at capacity when reserved" for c in reservation.skipped_at_capacity
        )
        await self._decide(
            "chair", reservation.chair_id or "no-eligible-chair", "cspflow", s.chair_reasons
        )
        if reservation.chair_id is None:
            await self._notice(
                "no-eligible-chair", setup.coordinator_emails, {"reasons": list(s.chair_reasons)}
            )
            return
        chair = next(c for c in chairs if c.id == reservation.chair_id)
        s.chair_id, s.chair_email = chair.id, chair.email
        await self._tell_chair(chair.email)

    async def _tell_chair(self, email: str) -> None:
        """Tell the chair of the appointment and whom to contact, by name (issue 12)."""
        context: dict[str, Any] = {"area_name": self.setup.area_name}
        if not workflow.patched(CHAIR_LETTER_NAMES_COORDINATOR):
            await self._notice("chair-appointed", (email,), context)
            return
        await effects.send_notice(
            "chair-appointed",
            "dhr/chair-appointed",
            (email,),
            {
                "case_reference": self._reference,
                "case_id": self.case_id,
                **context,
                **self.setup.coordinator.context(),
            },
            case_id=self.case_id,
            fallback=self.setup.coordinator_emails[0] if self.setup.coordinator_emails else None,
            version=2,
        )
