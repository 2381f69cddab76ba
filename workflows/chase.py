"""Wait for a step while chasing it: the updatable-timer loop shared by every dated step.

Partner tasks chase agencies and cases chase their coordinator with the same loop: sleep until
the next reminder or overdue notice (rules/chasing.py), wake early when the step is done or its
due date moves, and send each chase once (its key is remembered, so a changed due date starts a
new series and an unchanged one never repeats).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import effects
    from workflows.rules.chasing import Chase, chase_schedule, chases_due


@dataclass
class Chaser:
    """The chasing policy of one workflow, and the chases it has sent."""

    reminder_offsets: tuple[int, ...]
    interval: int
    max_overdue: int
    bank_holidays: Collection[date]
    sent: set[str] = field(default_factory=set)

    async def until(
        self,
        done: Callable[[], bool],
        due: Callable[[], date],
        send: Callable[[Chase], Awaitable[None]],
        since: Callable[[], datetime],
        prefix: str = "",
    ) -> None:
        """Chase until `done()`; `due()` and `since()` may change while waiting."""
        while not done():
            current_due, current_since = due(), since()

            def changed(d: date = current_due, s: datetime = current_since) -> bool:
                return done() or due() != d or since() != s

            schedule = chase_schedule(
                current_due,
                reminder_offsets=self.reminder_offsets,
                interval=self.interval,
                max_overdue=self.max_overdue,
                bank_holidays=self.bank_holidays,
            )
            pending = [
                c
                for c in chases_due(schedule, current_since)
                if effects.key(prefix + c.step, c.number) not in self.sent
            ]
            if not pending:
                await workflow.wait_condition(changed)
                continue
            chase = pending[0]
            delay = (chase.at - workflow.now()).total_seconds()
            if delay > 0:
                try:
                    await workflow.wait_condition(changed, timeout=delay)
                    continue
                except TimeoutError:
                    if changed():
                        continue
            self.sent.add(effects.key(prefix + chase.step, chase.number))
            await send(chase)
