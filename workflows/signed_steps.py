"""Every human step is checked against the front's signature before anything is recorded.

Issue 13. The Temporal frontend has no authentication: whoever reaches it (and holds the
payload key) could send `close_case` with any `by`. So the console, and `cspflow` where it holds
the key, sign each step (starter/step_signing.py), and the worker's `SignedStepsInterceptor`
runs before every Update validator: a step that is unsigned, signed with a key the case does not
know, signed for another case, step or input, or whose `by` is not the signer is refused with
an `ApplicationError`, so no Update is accepted and nothing reaches history or the records.

Fail-closed, and when:
- Each case and partner task calls `load_step_keys()` first thing in its run. Behind
  `workflow.patched(PATCH)`, it marks the run "signatures required" and fetches the public keys
  through the `step_verification_keys` activity (data in history, so replay is unchanged).
- A run started by this release refuses unsigned steps from its first workflow task on, even
  before its keys arrive (Update validators can run before run() starts); a signed step that
  arrives before the keys is refused with "the case is still opening" (type CaseOpening), which
  `starter.client` retries for a few seconds.
- A workflow that never calls `load_step_keys()` refuses every step: a new process must call it.
- A run started before this release (no patch marker in its history) keeps taking unsigned steps
  until it closes; only the payload codec (starter/codec.py) guards it.
- A step signed with a key the case does not know (the front's key was rotated) is refused with
  type UnknownStepKey; the `REFRESH_SIGNAL` signal makes the case fetch the keys again (at most
  once a minute), and `starter.client` sends it and retries.

Validators do not run on replay, so the checks add nothing to replay; the activity and the
signal handler are behind the patch, so histories from before this release replay unchanged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

with workflow.unsafe.imports_passed_through():
    from schemas.shared import Acting, StepKeys
    from workflows.rules.signatures import step_refusal

PATCH = "signed-steps"
"""The patch behind which a run requires signed steps and loads the keys."""

STEP_VERIFICATION_KEYS = "step_verification_keys"
"""The activity that returns the front's public keys (activities/step_keys.py)."""

REFRESH_SIGNAL = "cspflow_refresh_step_keys"
"""Ask a running case to fetch the front's keys again (after a rotation)."""

REFRESH_EVERY = timedelta(minutes=1)
"""A refresh asked sooner than this after the last one does nothing (the signal needs no key)."""

_STATE = "_cspflow_signed_steps"

OPENING = "CaseOpening"
UNKNOWN_KEY = "UnknownStepKey"
UNSIGNED = "UnsignedStep"

_log = structlog.get_logger("cspflow.steps")


@dataclass
class SignedSteps:
    """What a run knows about step signatures: whether it needs them, and the keys."""

    required: bool
    keys: StepKeys | None = None
    refreshed_at: datetime | None = None
    loading: list[asyncio.Task[None]] = field(default_factory=list)


def load_step_keys() -> None:
    """Require signed steps in this run and start fetching the keys; call first in run().

    A run from before this release (no patch marker) keeps taking unsigned steps.
    """
    instance = workflow.instance()
    if not workflow.patched(PATCH):
        setattr(instance, _STATE, SignedSteps(required=False))
        return
    state = SignedSteps(required=True)
    setattr(instance, _STATE, state)

    async def refresh() -> None:
        now = workflow.now()
        if state.refreshed_at is not None and now - state.refreshed_at < REFRESH_EVERY:
            return
        state.refreshed_at = now
        await _fetch(state)

    workflow.set_signal_handler(REFRESH_SIGNAL, refresh)
    state.loading.append(asyncio.create_task(_fetch(state)))


async def _fetch(state: SignedSteps) -> None:
    state.keys = await workflow.execute_activity(
        STEP_VERIFICATION_KEYS,
        result_type=StepKeys,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
    )


def _refuse(reason: str, kind: str, input: HandleUpdateInput) -> ApplicationError:
    info = workflow.info()
    _log.warning(
        "unsigned_step_refused",
        workflow_id=info.workflow_id,
        run_id=info.run_id,
        update=input.update,
        reason=reason,
        kind=kind,
    )
    if kind == OPENING:
        return ApplicationError(
            "the case is still opening, try again in a moment: nothing was recorded",
            type=OPENING,
            non_retryable=True,
        )
    return ApplicationError(
        f"this step is not signed by the console ({reason}): nothing was recorded; take it "
        "through the console or `cspflow`",
        type=kind,
        non_retryable=True,
    )


def check_step(input: HandleUpdateInput) -> None:
    """Refuse a step whose signature does not prove the front sent it (see the module doc)."""
    state: SignedSteps | None = getattr(workflow.instance(), _STATE, None)
    if state is not None and not state.required:
        return
    step: Any = input.args[0] if input.args else None
    if not isinstance(step, Acting) or step.signed is None:
        raise _refuse("the step carries no signature", UNSIGNED, input)
    if state is None or state.keys is None:
        raise _refuse("the case's keys are not loaded yet", OPENING, input)
    reason = step_refusal(workflow.info().workflow_id, input.update, step, state.keys)
    if reason is not None:
        known = {key.key_id for key in state.keys.keys}
        kind = UNSIGNED if step.signed.key_id in known else UNKNOWN_KEY
        raise _refuse(reason, kind, input)


class _SignedStepsInbound(WorkflowInboundInterceptor):
    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        check_step(input)
        self.next.handle_update_validator(input)


class SignedStepsInterceptor(Interceptor):
    """The worker's check of every step's signature, before each Update validator."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _SignedStepsInbound
