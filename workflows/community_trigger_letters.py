"""Letters to an applicant with no email: a task for the point of contact, done when posted.

ASBCPA 2014 s.104(3): the point of contact is where applications are made and the applicant is
told about the case. An applicant without email gets each letter by post, so every such letter
goes to the area's point of contact with the name, postal address and what to do, and stays an
open task (with its own deadline) until they record that it went (`letter_posted`). The case does
not close while a letter is unposted (issue 12, defect 11).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.community_trigger import LETTER_TITLES, LetterPosted, LetterToPost
    from schemas.shared import DeadlineState
    from workflows.community_trigger_tasks import CommunityTriggerTasks
    from workflows.rules.deadlines import add_working_days, days_late

POST_WITHIN = 1
"""Working days the point of contact has to post a letter after it reaches them."""


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


class CommunityTriggerLetters(CommunityTriggerTasks):
    """Letters by post: the task, the step that closes it, and the wait before closing."""

    async def _to_applicant(
        self, template: str, context: dict[str, Any], *, step: str | None = None
    ) -> None:
        applicant = self._case.application.applicant
        if applicant.email or not workflow.patched("ct-letter-to-post"):
            await super()._to_applicant(template, context, step=step)
            return
        letter = step or template
        contact = self.setup.point_of_contact
        today = workflow.now().date()
        task = LetterToPost(
            letter=letter,
            title=LETTER_TITLES.get(template, template.replace("-", " ").capitalize()),
            assigned_to=contact.name,
            assigned_email=contact.email,
            addressee=applicant.name,
            postal_address=applicant.postal_address or "",
            ready_on=today,
            due=add_working_days(today, POST_WITHIN, self._holidays),
        )
        self._letters[letter] = task
        self._set_deadline(
            f"letter-{letter}", task.due, f"{POST_WITHIN} working day after it was ready"
        )
        # The letter itself, to print, then what to do with it.
        await self._notice(template, (contact.email,), context, step=step)
        await self._notice(
            "letter-to-post",
            (contact.email,),
            {
                "letter_title": task.title,
                "letter": letter,
                "addressee": task.addressee,
                "postal_address": task.postal_address,
                "assigned_to": task.assigned_to,
                "due": task.due.isoformat(),
            },
            step=f"letter-to-post-{letter}",
        )

    def _unposted(self) -> list[str]:
        return [k for k, v in self._letters.items() if v.posted_on is None]

    async def _until_letters_posted(self) -> None:
        """Wait until every letter to post went: the case is done only then."""
        if self._letters:
            await workflow.wait_condition(lambda: not self._unposted())

    def _mark_posted(self, step: LetterPosted) -> None:
        task = self._letters[step.letter]
        self._letters[step.letter] = task.model_copy(
            update={"posted_on": step.posted_on, "posted_by": step.by}
        )
        name = f"letter-{step.letter}"
        late = days_late(self._deadlines[name].due, step.posted_on)
        self._deadlines[name] = self._deadlines[name].model_copy(
            update={
                "state": DeadlineState.MISSED if late else DeadlineState.MET,
                "completed_on": step.posted_on,
                "days_late": late,
            }
        )
        self._note(step.by, "letter-posted", step.letter, (f"posted on {step.posted_on}",))

    def _check_posted(self, step: LetterPosted) -> None:
        task = self._letters.get(step.letter)
        waiting = ", ".join(self._unposted()) or "none"
        if task is None:
            raise ValueError(
                f"There is no letter '{step.letter}' waiting to be posted in this case. Letters "
                f"waiting to be posted: {waiting} (`cspflow status {self.case_id}` lists them)"
            )
        if task.posted_on is not None:
            raise ValueError(
                f"The {task.title[0].lower()}{task.title[1:]} was already recorded as posted on "
                f"{_day(task.posted_on)}"
            )
        self._posted_on_is_possible(step.posted_on, task.ready_on)

    @staticmethod
    def _posted_on_is_possible(posted_on: date, ready_on: date) -> None:
        if posted_on > workflow.now().date():
            raise ValueError(
                f"Date posted must be today or in the past: {_day(posted_on)} has not happened "
                "yet. Record the letter once it is posted"
            )
        if posted_on < ready_on:
            raise ValueError(
                f"Date posted must be on or after {_day(ready_on)}, the day the letter was ready"
            )
