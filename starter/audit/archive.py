"""Archive closed cases: a signed bundle of each before Temporal's retention period removes it.

Temporal deletes a closed workflow's history once the namespace retention period has passed
(CSPFLOW_RETENTION_DAYS, per process); the bundle (`starter.audit.bundle`) is then the record of
the case (issue 4, "Tamper evidence"). `archive_closed_cases` bundles, into
`<archive>/<case_id>/`, every case the records database shows closed more than retention minus
CSPFLOW_ARCHIVE_MARGIN_DAYS days before `now`, signed with CSPFLOW_AUDIT_SIGNING_KEY_FILE when
it is set. Each bundle is a read of the case's personal data, so it is logged as view 'archive'.

It is idempotent: a case whose `manifest.json` exists is skipped; a bundle is written into
`.<case_id>.partial` and renamed into place only when complete, so a run cut off half-way leaves
nothing that looks finished and the next run writes it again.

The daily `ArchiveClosedCases` workflow (workflows/archive.py) runs it as an activity;
`cspflow audit archive` runs it once from the command line.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.access_log import record_access
from activities.queries import CaseRow, list_cases
from schemas.errors import CspflowError
from starter.audit.bundle import MANIFEST, load_signing_key, write_bundle
from starter.private_files import private_dir
from workflows.archive import ArchiveEntry, ArchiveReport, ArchiveRequest, Outcome

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from activities.db import SessionFactory
    from starter.settings import Settings

log = structlog.get_logger(__name__)

VIEW = "archive"
"""The access log's name for a read made to bundle a case into the archive."""

_RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING


def due_at(row: CaseRow, settings: Settings) -> datetime | None:
    """When a closed case must be bundled: closed_at + its process's retention - the margin."""
    if row.closed_at is None:
        return None
    days = settings.retention_for(row.process) - settings.archive_margin_days
    return row.closed_at + timedelta(days=days)


def bundle_dir(settings: Settings, case_id: str) -> Path:
    """The archive directory of one case."""
    return settings.archive_path / case_id


def is_archived(settings: Settings, case_id: str) -> bool:
    """A case is archived once its bundle's manifest is in place (written last, renamed in)."""
    return (bundle_dir(settings, case_id) / MANIFEST).is_file()


def _clear(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


async def archive_closed_cases(
    client: Client,
    session_factory: SessionFactory,
    settings: Settings,
    now: datetime,
    by: str,
    *,
    progress: Callable[[str], object] | None = None,
) -> ArchiveReport:
    """Bundle every closed case whose bundle is due at `now`; report every closed case.

    `progress(case_id)` is called before each case is bundled (the activity heartbeats there).
    A case Temporal no longer holds is reported as failed and the others go on; an outage
    (Temporal or the database unreachable) raises, for the caller to retry.
    """
    key_file = settings.audit_signing_key_file
    signing_key = load_signing_key(key_file) if key_file else None
    root = settings.archive_path
    await asyncio.to_thread(private_dir, root)
    closed = [row for row in await list_cases(session_factory) if row.closed_at is not None]
    closed.sort(key=lambda row: (row.closed_at, row.case_id))
    entries = []
    for row in closed:
        due = due_at(row, settings)
        assert row.closed_at is not None and due is not None
        target = bundle_dir(settings, row.case_id)
        if await asyncio.to_thread(is_archived, settings, row.case_id):
            outcome: tuple[Outcome, str | None] = ("already archived", str(target))
        elif due > now:
            outcome = ("not due", None)
        else:
            if progress is not None:
                progress(row.case_id)
            outcome = await _archive_one(client, session_factory, row, target, by, signing_key)
        entries.append(
            ArchiveEntry(
                case_id=row.case_id,
                process=row.process,
                closed_at=row.closed_at,
                due=due,
                outcome=outcome[0],
                detail=outcome[1],
            )
        )
    report = ArchiveReport(
        now=now, archive_dir=str(root), signed=signing_key is not None, entries=tuple(entries)
    )
    log.info(
        "archive_run",
        archived=len(report.with_outcome("archived")),
        failed=len(report.with_outcome("failed")),
        signed=report.signed,
    )
    return report


async def _archive_one(
    client: Client,
    session_factory: SessionFactory,
    row: CaseRow,
    target: Path,
    by: str,
    signing_key: Ed25519PrivateKey | None,
) -> tuple[Outcome, str]:
    """Bundle one case into `target`; return its outcome and detail."""
    case_id = row.case_id
    try:
        # The raw call: the SDK's describe() cannot parse the test server's Datetime attributes.
        description = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=case_id)
            )
        )
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        log.warning("archive_case_gone", case_id=case_id)
        return "failed", (
            f"Temporal no longer holds case {case_id}: its retention period ended before it was "
            "bundled, so only an export made earlier (`cspflow audit export`) can stand in; "
            "lengthen CSPFLOW_ARCHIVE_MARGIN_DAYS if the daily run is often missed"
        )
    if description.workflow_execution_info.status == _RUNNING:
        # Closed in the records but still finishing: a bundle now would miss its last events.
        return "not due", "its workflow is still finishing; the next run bundles it"
    partial = target.with_name(f".{case_id}.partial")
    # A directory without a manifest is a bundle cut off half-way: written again from scratch.
    await asyncio.to_thread(_clear, partial, target)
    await record_access(session_factory, by, case_id, VIEW, detail=str(target))
    try:
        await write_bundle(client, case_id, partial, session_factory, signing_key, created_by=by)
    except CspflowError as error:
        await asyncio.to_thread(_clear, partial)
        log.warning("archive_case_failed", case_id=case_id, error=str(error))
        return "failed", str(error)
    await asyncio.to_thread(partial.rename, target)
    log.info("case_archived", case_id=case_id, process=row.process)
    return "archived", str(target)


class ArchiveActivities:
    """The archive activity, bound to the settings, records database and Temporal client."""

    def __init__(self, settings: Settings, session_factory: SessionFactory, client: Client):
        self._settings = settings
        self._session_factory = session_factory
        self._client = client

    @activity.defn(name="archive_closed_cases")
    async def archive_closed_cases(self, request: ArchiveRequest) -> ArchiveReport:
        """Bundle the closed cases due at the workflow's time; heartbeat before each one."""
        return await archive_closed_cases(
            self._client,
            self._session_factory,
            self._settings,
            request.now,
            request.by,
            progress=lambda case_id: activity.heartbeat(case_id),
        )
