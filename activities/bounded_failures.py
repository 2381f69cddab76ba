"""Keep every activity failure small enough for Temporal to keep its reason.

Temporal keeps a retrying activity's last failure in the workflow's mutable state and replaces
one above its size limit (4 KB by default, `limit.mutableStateActivityFailureSize.error`) with
"Failure exceeds size limit.". An unexpected exception carries its whole stack trace and every
chained cause's (an asyncpg connection refused under SQLAlchemy is some fifty frames), and the
payload codec's encryption adds to it: the chaos run with PostgreSQL stopped lost the reason of
such retries, so an operator, `cspflow stalled` and the audit timeline saw no cause.

This worker interceptor turns an unexpected exception into an ApplicationError whose type is
the exception's class name (so a retry policy's non-retryable types match as before, and it is
retryable as before), whose message names the class, a few hundred characters of its message
and the classes of its causes, with no cause chain. An ApplicationError an activity raised on
purpose passes unchanged unless its message is too long or it carries a cause; then it is
shortened the same way, keeping its type, retryability and details.

The full traceback stays in the worker's log (`activity_failed`): the frames and the class of
each exception in the chain, never an exception's message, which can echo an address or a SQL
statement's parameters (house style §11; `notice_deferred` logs only the class for that reason).
"""

from __future__ import annotations

import traceback
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

log = structlog.get_logger(__name__)

MAX_MESSAGE = 400
"""Characters of an exception's message kept in the failure Temporal records."""

MAX_CAUSES = 5
"""Chained causes named (by class) in the failure's message."""


class BoundedFailures(Interceptor):
    """Bound the size of every failure an activity reports to Temporal.

    Registered first among the worker's interceptors, so that the failure's own stack trace is
    only the few frames between this interceptor and the SDK.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BoundedInbound(next)


class _BoundedInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except ApplicationError as error:
            if len(error.message) <= MAX_MESSAGE and error.__cause__ is None:
                raise
            _log_failure(error)
            raise ApplicationError(
                _short(error.message, error),
                *error.details,
                type=error.type,
                non_retryable=error.non_retryable,
                next_retry_delay=error.next_retry_delay,
                category=error.category,
            ) from None
        except FailureError:
            raise  # cancellation and timeouts: the SDK reports them itself
        except Exception as error:
            _log_failure(error)
            name = type(error).__name__
            raise ApplicationError(_short(f"{name}: {error}", error), type=name) from None


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and the causes Python would print with it, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain


def _short(message: str, error: BaseException) -> str:
    """`message` cut to MAX_MESSAGE characters, followed by the classes of its causes."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    causes = [type(cause).__name__ for cause in _chain(error)[1:]]
    if not causes:
        return message
    named = ", ".join(causes[:MAX_CAUSES]) + (", …" if len(causes) > MAX_CAUSES else "")
    return f"{message} (caused by {named}; the worker's log has the traceback)"


def _frames(error: BaseException) -> list[str]:
    """Each exception of the chain, innermost first as Python prints it: class, then frames."""
    lines: list[str] = []
    for exception in reversed(_chain(error)):
        lines.append(f"{type(exception).__module__}.{type(exception).__qualname__}")
        lines.extend(
            f"  {frame.filename}:{frame.lineno} in {frame.name}"
            for frame in traceback.extract_tb(exception.__traceback__)
        )
    return lines


def _log_failure(error: BaseException) -> None:
    info = activity.info()
    log.warning(
        "activity_failed",
        activity=info.activity_type,
        workflow_id=info.workflow_id or "",
        attempt=info.attempt,
        error=type(error).__name__,
        traceback=_frames(error),
    )
