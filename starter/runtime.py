"""Build the parts every cspflow process needs, once: the Temporal client and the worker.

The composition root shared by worker.py, `cspflow dev` and the tests, so the worker the tests run
is the worker production runs (cosmicpython's bootstrap).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.calendar import bank_holidays
from activities.configuration import ConfigurationActivities
from activities.db import SessionFactory
from activities.notices import NoticeActivities, SmtpConfig
from activities.records import RecordActivities
from starter.codec import KeyRing, data_converter
from starter.settings import Settings
from workflows.community_trigger import CommunityTriggerWorkflow
from workflows.partner_task import PartnerTaskWorkflow

WORKFLOWS: Sequence[type] = (CommunityTriggerWorkflow, PartnerTaskWorkflow)

# Under docker-compose's stop_grace_period (30 s), so a stop never kills a send half-way.
GRACEFUL_SHUTDOWN = timedelta(seconds=20)

# Schemas and pure rules are deterministic; passing them through the sandbox instead of
# re-importing them per workflow run cut worker CPU per workflow from 12.1 ms to 4.2 ms here.
PASSTHROUGH = ("schemas", "workflows.rules", "pydantic", "pydantic_core", "annotated_types")


def keyring(settings: Settings) -> KeyRing | None:
    """The payload key ring: from CSPFLOW_PAYLOAD_KEYS, or the key file when it exists.

    A key file named explicitly must exist; the default one exists once `cspflow dev` made it.
    """
    path = settings.key_file
    return KeyRing.load(path if settings.payload_key_file or path.exists() else None)


def ensure_keyring(settings: Settings) -> KeyRing:
    """Load the key ring, creating the default key file with one new key on first start."""
    found = keyring(settings)
    if found is not None:
        return found
    created = KeyRing.generate("k1")
    settings.key_file.parent.mkdir(parents=True, exist_ok=True)
    created.write(settings.key_file)
    return created


async def connect(settings: Settings, identity: str | None = None) -> Client:
    """Connect to Temporal; every payload is encrypted when a key ring is configured."""
    kwargs: dict[str, Any] = {
        "namespace": settings.temporal_namespace,
        "data_converter": data_converter(keyring(settings)),
    }
    if identity:
        kwargs["identity"] = identity
    return await Client.connect(settings.temporal_address, **kwargs)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox workflows run in; replay (tests, `cspflow audit replay`) uses the same."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def activities_for(settings: Settings, session_factory: SessionFactory) -> list[Any]:
    """Every activity, bound to its dependencies."""
    records = RecordActivities(session_factory)
    notices = NoticeActivities(session_factory, SmtpConfig.from_settings(settings))
    configuration = ConfigurationActivities(settings.directory_file)
    return [
        bank_holidays,
        notices.send_notice,
        configuration.community_trigger_setup,
        configuration.independent_chairs,
        records.record_case,
        records.record_decision,
        records.record_task,
        records.record_recommendation,
        records.chair_loads,
        records.reserve_chair,
        records.release_chair,
    ]


def build_worker(
    client: Client,
    settings: Settings,
    session_factory: SessionFactory,
    *,
    task_queue: str | None = None,
    **options: Any,
) -> Worker:
    """The cspflow worker: every workflow and activity on one task queue."""
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(settings, session_factory),
        activity_executor=ThreadPoolExecutor(4),
        # Let running activities finish on a routine stop: a notice cancelled between the SMTP
        # server accepting it and its row being marked sent would be sent again on retry.
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflow_runner=workflow_runner(),
        **options,
    )
