"""The review's clocks that run beside its stages: the completion target and the copies to the
Domestic Abuse Commissioner and, once VPA 2024 s.19 is in force for the review, the Secretary of
State.

2016 guidance §5 "Timescales": a review is completed within six months of the decision to hold it;
when it is not, the reasons are recorded, a revised timetable is agreed with the CSP and the Home
Office is kept informed (statutory-reference.md §2.3 step 12, §2.6). DVCVA 2004 s.9(3B): the
report goes to the Domestic Abuse Commissioner "as soon as reasonably practicable after the
report is completed", so cspflow reminds the coordinators until that is recorded. Each notice is
sent once (its key is kept in the review's state, across continue-as-new); a paused review is not
chased about its target.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.effects as effects
    from schemas.dhr import DhrPolicy
    from schemas.dhr_state import DhrState
    from schemas.setup import DhrSetup
    from schemas.shared import DeadlineState
    from workflows.dhr_report_steps import DhrReportSteps
    from workflows.rules.chasing import notice_moment
    from workflows.rules.deadlines import add_working_days, days_late
    from workflows.rules.dhr import completion_reminders


S19_PATCH = "dhr-s19-secretary-of-state"
"""Runs from this release decide at first sign-off, from the commencement date the area's policy
records then, whether the report also goes to the Secretary of State (VPA 2024 s.19), and
complete each copy's deadline when the copy is recorded."""


@dataclass(frozen=True)
class Copy:
    """One statutory copy of the completed report: its deadline, reminder and state fields."""

    deadline: str
    template: str
    sent_on: Callable[[DhrState], date | None]
    reminders: Callable[[DhrState], int]
    count_reminder: Callable[[DhrState, int], None]


def _count_dac(s: DhrState, n: int) -> None:
    s.dac_reminders = n


def _count_sos(s: DhrState, n: int) -> None:
    s.sos_reminders = n


COMMISSIONER = Copy(
    "dac-copy",
    "dac-copy-reminder",
    lambda s: s.dac_copy_sent_on,
    lambda s: s.dac_reminders,
    _count_dac,
)
SECRETARY_OF_STATE = Copy(
    "sos-copy",
    "sos-copy-reminder",
    lambda s: s.sos_copy_sent_on,
    lambda s: s.sos_reminders,
    _count_sos,
)


class DhrTimetable(DhrReportSteps):
    """The completion-target and Commissioner-copy watches of a review."""

    async def _policy_on_completion(self) -> DhrPolicy | None:
        """The area's DHR policy as it stands when the report is completed, for the date VPA
        2024 s.19 commences; None in a run from before the patch (no copy to the Secretary of
        State). Read again, not the policy recorded at opening: a review lasts years, and s.19
        will commence while many are open, its date set in a later policy version."""
        if not workflow.patched(S19_PATCH):
            return None
        current = await effects.run_effect("dhr_setup", self._case.notification.area, DhrSetup)
        return current.policy

    def _set_copy_deadlines(self, completed_on: date, statute: DhrPolicy | None) -> None:
        """The report's copies are due as soon as reasonably practicable after completion
        (s.9(3B)): a few working days by the policy, then reminders until recorded."""
        s, every = self._s, self.setup.policy.dac_copy_reminder_working_days
        due = add_working_days(completed_on, every, s.holidays)
        self._set_deadline(
            "dac-copy", due, "as soon as reasonably practicable after completion (s.9(3B))"
        )
        if s.sos_copy_required and statute is not None:
            self._set_deadline(
                "sos-copy",
                due,
                f"VPA 2024 s.19 in force from {statute.darr_commencement}: as soon as "
                "reasonably practicable after completion (s.9(3B) as amended)",
            )

    def _ensure_watches(self) -> None:
        """Start the watches the review's state calls for (again, in a continued run)."""
        s = self._s
        if self._watching:
            return
        if s.review_held and s.completion_target is not None:
            self._watching = True
            self._loops.append(asyncio.create_task(self._watch_timetable()))

    def _watch_stopped(self) -> bool:
        return self._stop() or self._finished

    async def _sleep_or_change(self, until: date, changed: Callable[[], bool]) -> bool:
        """Sleep until the notice moment of `until`; True when woken early by a change."""
        delay = (notice_moment(until) - workflow.now()).total_seconds()
        if delay <= 0:
            return False
        try:
            await workflow.wait_condition(
                lambda: changed() or self._watch_stopped(),
                timeout=delay,
            )
            return True
        except TimeoutError:
            return False

    async def _watch_timetable(self) -> None:
        """Remind before the completion target, escalate after it, then the Commissioner copy."""
        s = self._s
        while not self._watch_stopped() and s.signed_off_on is None:
            if s.pending_timetable is not None:
                await self._apply_timetable()
                continue
            if s.pause is not None:
                await workflow.wait_condition(lambda: s.pause is None or self._watch_stopped())
                continue
            target = s.completion_target
            assert target is not None and s.decided_on is not None
            points = [
                (day, "completion-reminder", n)
                for n, day in enumerate(completion_reminders(s.decided_on, self.setup.policy), 1)
                if day <= target
            ] + [(target + timedelta(days=1), "completion-missed", 0)]
            since = s.target_set_at or workflow.now()
            pending = [
                (day, kind, n)
                for day, kind, n in points
                if f"{kind}-{target}-{n}" not in s.chases_sent
                # A missed target is escalated at once even when the date was set late.
                and (kind == "completion-missed" or notice_moment(day) >= since)
            ]

            def moved(t: date = target) -> bool:
                return (
                    s.completion_target != t
                    or s.pending_timetable is not None
                    or s.pause is not None
                    or s.signed_off_on is not None
                )

            if not pending:
                await workflow.wait_condition(lambda: moved() or self._watch_stopped())
                continue
            day, kind, n = pending[0]
            if await self._sleep_or_change(day, moved):
                continue
            if self._watch_stopped():
                break
            s.chases_sent.add(f"{kind}-{target}-{n}")
            await self._completion_notice(kind, target, n)
        await self._watch_commissioner_copy()

    async def _completion_notice(self, kind: str, target: date, n: int) -> None:
        to = self._csp_chair()
        if self._s.chair_email:
            to = (self._s.chair_email, *to)
        context: dict[str, object] = {"target": target.isoformat()}
        if kind == "completion-reminder":
            context["months"] = self.setup.policy.completion_reminder_months[n - 1]
        else:
            context["days_overdue"] = days_late(target, workflow.now().date())
        await self._notice(kind, to, context, step=f"{kind}-{target.isoformat()}", n=n)

    async def _apply_timetable(self) -> None:
        """Record a revised timetable agreed with the CSP and tell the Home Office (§2.6)."""
        s = self._s
        revised = s.pending_timetable
        assert revised is not None and s.completion_target is not None
        previous = s.completion_target
        s.completion_target, s.target_set_at = revised.new_target, workflow.now()
        self._set_deadline(
            "completion-target",
            revised.new_target,
            f"revised timetable agreed by {revised.agreed_by}",
        )
        await self._decide(
            "revised-timetable",
            revised.new_target.isoformat(),
            revised.by,
            (revised.reason, f"agreed by {revised.agreed_by}", f"previous target {previous}"),
        )
        await self._notice(
            "revised-timetable",
            self._home_office(),
            {
                "area_name": self.setup.area_name,
                "target": revised.new_target.isoformat(),
                "previous_target": previous.isoformat(),
                "reason": revised.reason,
            },
            step=f"revised-timetable-{revised.new_target.isoformat()}",
        )
        s.pending_timetable = None
        await self._record_case()

    async def _watch_commissioner_copy(self) -> None:
        """Chase the report's statutory copies until each is recorded as sent.

        The Commissioner's always (s.9(3B)); the Secretary of State's too when VPA 2024 s.19
        was in force on completion (`sos_copy_required`, set only by runs with the patch
        dhr-s19-secretary-of-state, which also complete each copy's deadline when it is sent).
        """
        s = self._s
        if s.sos_copy_required:
            await asyncio.gather(
                self._watch_copy(COMMISSIONER), self._watch_copy(SECRETARY_OF_STATE)
            )
        else:
            await self._watch_copy(COMMISSIONER)

    async def _watch_copy(self, copy: Copy) -> None:
        """Remind the coordinators every few working days until the copy is recorded as sent."""
        s = self._s
        every = self.setup.policy.dac_copy_reminder_working_days
        while not self._watch_stopped() and copy.sent_on(s) is None:
            if s.signed_off_on is None:
                await workflow.wait_condition(
                    lambda: s.signed_off_on is not None or self._watch_stopped()
                )
                continue
            n = copy.reminders(s) + 1
            day = add_working_days(s.signed_off_on, every * n, s.holidays)
            if await self._sleep_or_change(day, lambda: copy.sent_on(s) is not None):
                continue
            if self._watch_stopped() or copy.sent_on(s) is not None:
                break
            copy.count_reminder(s, n)
            await self._notice(
                copy.template,
                self.setup.coordinator_emails,
                {"signed_off_on": s.signed_off_on.isoformat(), "reminder_number": n},
                n=n,
            )
        if copy.sent_on(s) is not None:
            deadline = s.deadlines.get(copy.deadline)
            patched = s.sos_copy_required is not None
            if patched and deadline is not None and deadline.state is DeadlineState.OPEN:
                sent = copy.sent_on(s)
                assert sent is not None
                late = days_late(deadline.due, sent)
                s.deadlines[copy.deadline] = deadline.model_copy(
                    update={
                        "state": DeadlineState.MISSED if late else DeadlineState.MET,
                        "completed_on": sent,
                        "days_late": late,
                    }
                )
                await self._record_case()
            await self._record_decisions()
