"""StallWatch: tell an area's coordinators when one of their cases cannot move on.

A case whose workflow task keeps failing chases no deadline (starter/health.py). `cspflow
stalled` and the console show such cases to whoever looks; this workflow makes sure somebody is
told without looking. A Temporal Schedule ('cspflow-stall-watch',
`starter.runtime.ensure_stall_watch_schedule`) starts it every STALL_WATCH_EVERY. One activity
lists the stalled cases with their coordinators (it reads Temporal, the records database and the
directory, so what it found is recorded in history), then one notice per case goes out, keyed by
the case and the moment its failing run of workflow tasks began: each run of failures is
reported once, however many watches see it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    # As in workflows/community_trigger.py: this form passes the worker's copy of effects through.
    import workflows.effects as effects
    from schemas.health import StallAlert
    from schemas.notices import NoticeRequest, NoticeResult

STALL_WATCH_EVERY = timedelta(minutes=15)
"""How often the schedule looks: a stalled case's coordinators hear within this of it stopping
(plus the few minutes Temporal takes to count STALL_ATTEMPTS failures)."""

# Listing is a few visibility and describe calls; a run that keeps failing gives way to the next.
LIST_TIMEOUT = timedelta(minutes=5)
LIST_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5)


@workflow.defn(name="StallWatch")
class StallWatch:
    """One look: alert the coordinators of every case that cannot move on, once per stop."""

    @workflow.run
    async def run(self) -> int:
        alerts: list[StallAlert] = await workflow.execute_activity(
            "stalled_cases",
            start_to_close_timeout=LIST_TIMEOUT,
            retry_policy=LIST_RETRY,
            result_type=list[StallAlert],
        )
        for alert in alerts:
            await effects.run_effect(
                "send_notice",
                NoticeRequest(
                    idempotency_key=alert.key,
                    case_id=alert.case_id,
                    template="system/case-stalled",
                    to=alert.to,
                    context={
                        "case_reference": alert.case_reference,
                        "case_id": alert.case_id,
                        "since": (alert.since or workflow.now()).isoformat(),
                        "attempts": alert.attempts,
                        "workflows": list(alert.workflows),
                        "cause": (
                            "its recorded history no longer replays (a nondeterminism error)"
                            if alert.nondeterminism
                            else "an error in its workflow code"
                        ),
                    },
                    sent_at=workflow.now(),
                ),
                NoticeResult,
            )
        return len(alerts)
