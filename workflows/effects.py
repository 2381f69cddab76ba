"""The workflow side of every side effect: notices, records and the calendar, called by name.

Workflows call activities by name with pydantic models, so workflow code never imports the
activity modules (which hold SMTP and database clients). Every call carries an idempotency key
computed here from the workflow id and the step, so it is in history and stable across retries.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from schemas.notices import NoticeRequest, NoticeResult

# SMTP and database outages are waited out with backoff rather than failed: a statutory notice
# must go eventually, and the idempotency key makes every retry safe.
EFFECT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[
        "BadRecipient",
        "MissingPersonalisation",
        "UnknownTemplate",
        "UnknownArea",
    ],
)
EFFECT_TIMEOUT = timedelta(seconds=60)
EFFECT_HEARTBEAT = timedelta(seconds=10)
"""Every effect heartbeats while it runs (the worker's KeepAlive interceptor, at least every
2 s), so when a worker dies the server retries its work after this long, not after
EFFECT_TIMEOUT. Changing it changes only the options of activities scheduled from now on, which
replay does not compare."""


def key(step: str, n: int | str = 0) -> str:
    """Return the idempotency key of a step of the current workflow: '{workflow_id}:{step}:{n}'."""
    return f"{workflow.info().workflow_id}:{step}:{n}"


async def run_effect(name: str, arg: Any, result_type: type | None = None) -> Any:
    """Run one activity by name with the shared retry policy."""
    return await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        start_to_close_timeout=EFFECT_TIMEOUT,
        heartbeat_timeout=EFFECT_HEARTBEAT,
        retry_policy=EFFECT_RETRY,
    )


def is_bad_recipient(error: ActivityError) -> bool:
    """True when a notice failed because a recipient address is permanently bad."""
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == "BadRecipient"


async def send_notice(
    step: str,
    template: str,
    to: tuple[str, ...],
    context: dict[str, Any],
    *,
    case_id: str,
    n: int | str = 0,
    cc: tuple[str, ...] = (),
    fallback: str | None = None,
    version: int = 1,
) -> NoticeResult | None:
    """Send one notice once; a permanently bad address escalates to `fallback` instead of looping.

    `version` pins the template's wording: a workflow moves to a new version only behind a patch
    or for input that carries the new version's placeholders, so a running case keeps its words.
    Returns None when the notice could not be delivered and the failure was escalated.
    """
    request = NoticeRequest(
        idempotency_key=key(step, n),
        case_id=case_id,
        template=template,
        template_version=version,
        to=to,
        cc=cc,
        context=context,
        sent_at=workflow.now(),
    )
    try:
        result: NoticeResult = await run_effect("send_notice", request, NoticeResult)
        return result
    except ActivityError as error:
        if not is_bad_recipient(error) or fallback is None:
            raise
        workflow.logger.warning("notice_undeliverable", extra={"step": step})
        await run_effect(
            "send_notice",
            NoticeRequest(
                idempotency_key=key(f"{step}-delivery-failed", n),
                case_id=case_id,
                template="community-trigger/delivery-failed",
                to=(fallback,),
                context={
                    "case_reference": context.get("case_reference", case_id),
                    "case_id": case_id,
                    "template_failed": template,
                    "recipient_role": step,
                },
                sent_at=workflow.now(),
            ),
            NoticeResult,
        )
        return None


async def bank_holidays(first: date, last: date) -> tuple[date, ...]:
    """Fetch England and Wales bank holidays for the years from `first` to `last`.

    Computed in an activity so that a later release of the holiday tables never changes a
    running case on replay: the list is recorded in history.
    """
    years = list(range(first.year, last.year + 1))
    days: list[date] = await run_effect("bank_holidays", years, list[date])
    return tuple(days)
