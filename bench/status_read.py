"""Status reads without a worker (issue 11): the memo against a Query, and a memo upsert against a
read-model activity per state change.

On one dev server:

1. K Community Trigger cases wait at the threshold stage (three open tasks each), worked by one
   `python worker.py` process. In rounds, in seeded random order, the same client reads one case
   as `cspflow status` does: through the memo (`Cspflow.case_status`: four raw describes, the case
   and its three tasks, starter/reads.py) and through Queries (the case's `status` Query and one
   per open task, as before issue 11).
2. A bare micro-comparison of what one state change costs, worked in-process by one worker with
   the encrypting converter, three workflows each taking N Updates that change their state:
   `plain` (nothing else), `memo` (the Update also upserts a status of the size of a real
   CaseStatus into the memo, as workflows/status_memo.py does) and `read model` (the change is
   written by an activity inserting a row into a SQLite read model, the alternative the issue
   names). For each: history events and bytes added per change, and Update p50/p95.

    .venv/bin/python -m bench.status_read [--cases 10] [--samples 100] [--updates 100]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench import harness
from bench.latency import BY, proposed, timed
from schemas.community_trigger import CaseStatus
from schemas.partner_task import PartnerTaskStatus
from starter import reads
from starter.client import Cspflow
from starter.codec import KeyRing, data_converter
from tests.workflows.directory import application
from workflows.community_trigger import CommunityTriggerWorkflow
from workflows.partner_task import PartnerTaskWorkflow
from workflows.status_memo import STATUS_KEY

WARM_UP = 5
MICRO_QUEUE = "bench-status-micro"


async def status_by_query(cspflow: Cspflow, case_id: str) -> CaseStatus:
    """`cspflow status` as it read before issue 11: the case's Query, then each open task's."""
    client = cspflow.client
    status: CaseStatus = await client.get_workflow_handle(case_id).query(
        CommunityTriggerWorkflow.status
    )
    await asyncio.gather(
        *(
            client.get_workflow_handle(t.task_id).query(PartnerTaskWorkflow.status)
            for t in status.tasks
            if t.state in ("open", "overdue")
        )
    )
    return status


# ---- 2. the bare micro-comparison ------------------------------------------------------------


@workflow.defn(name="BenchStatusChange", sandboxed=False)
class StatusChange:
    """Takes `change` Updates; publishes each change as `how` says, until `finish`."""

    def __init__(self) -> None:
        self.changes = 0
        self.written = 0
        self.done = False

    @workflow.run
    async def run(self, how: str, status: dict[str, Any]) -> int:
        while not self.done or self.written < self.changes:
            await workflow.wait_condition(lambda: self.done or self.written < self.changes)
            if how == "read model" and self.written < self.changes:
                self.written += 1
                await workflow.execute_activity(
                    write_read_model,
                    args=[workflow.info().workflow_id, self.written, status],
                    start_to_close_timeout=timedelta(seconds=30),
                )
            elif how != "read model":
                self.written = self.changes
        return self.changes

    @workflow.update
    def change(self, how: str, status: dict[str, Any]) -> int:
        self.changes += 1
        if how == "memo":
            workflow.upsert_memo({STATUS_KEY: {**status, "changes": self.changes}})
        return self.changes

    @workflow.signal
    def finish(self) -> None:
        self.done = True


READ_MODEL = Path(tempfile.gettempdir()) / f"cspflow-bench-read-model-{time.time_ns()}.sqlite"


@activity.defn(name="bench_write_read_model")
def write_read_model(workflow_id: str, changes: int, status: dict[str, Any]) -> None:
    """Upsert the workflow's status row in a SQLite read model (one transaction)."""
    import json

    with sqlite3.connect(READ_MODEL) as db:
        db.execute("create table if not exists status (id text primary key, n int, doc text)")
        db.execute(
            "insert into status values (?, ?, ?) on conflict(id) do update set n = ?, doc = ?",
            (workflow_id, changes, json.dumps(status), changes, json.dumps(status)),
        )


async def micro(client: Client, status: dict[str, Any], updates: int) -> dict[str, Any]:
    """Events, bytes and Update latency per state change, for each way of publishing it."""
    from concurrent.futures import ThreadPoolExecutor

    figures: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(
            client,
            task_queue=MICRO_QUEUE,
            workflows=[StatusChange],
            activities=[write_read_model],
            activity_executor=pool,
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            for how in ("plain", "memo", "read model"):
                handle = await client.start_workflow(
                    StatusChange.run,
                    args=[how, status],
                    id=f"bench-status-{how.replace(' ', '-')}-{time.time_ns()}",
                    task_queue=MICRO_QUEUE,
                )
                for _ in range(WARM_UP):
                    await handle.execute_update(StatusChange.change, args=[how, status])
                before = await handle.fetch_history()
                took = []
                for _ in range(updates):
                    started = time.perf_counter()
                    await handle.execute_update(StatusChange.change, args=[how, status])
                    took.append((time.perf_counter() - started) * 1000)
                await handle.signal(StatusChange.finish)
                await handle.result()
                after = await handle.fetch_history()
                added_events = len(after.events) - len(before.events)
                added_bytes = sum(e.ByteSize() for e in after.events) - sum(
                    e.ByteSize() for e in before.events
                )
                summary = harness.summary(took)
                figures[how] = {
                    "events_per_change": added_events / updates,
                    "bytes_per_change": added_bytes / updates,
                    "update_p50_ms": summary["p50"],
                    "update_p95_ms": summary["p95"],
                }
    return figures


# ---- the run -------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    machine = harness.machine()
    keys = KeyRing.generate("bench")
    converter = data_converter(keys)
    today = datetime.now(UTC).date()
    with (
        tempfile.TemporaryDirectory(prefix="cspflow-bench-") as tmp,
        harness.smtp_server() as (_, smtp_port),
    ):
        folder = Path(tmp)
        async with harness.dev_server(folder) as server:
            env = harness.cspflow_worker_env(
                server,
                task_queue="bench-cspflow",
                data_dir=folder / "cspflow-data",
                smtp_port=smtp_port,
                directory_file=harness.write_directory(folder),
                payload_keys_json=keys.to_json(),
            )
            async with harness.worker_processes(
                harness.CSPFLOW_WORKER, 1, env, folder, "cspflow-worker"
            ):
                cspflow = Cspflow(
                    await harness.connect(server, converter),
                    "bench-cspflow",
                    BY,
                    signer=harness.step_signer(env),
                )
                case_ids = [
                    await cspflow.start_community_trigger(
                        application(today, reference=f"READ-{n:04d}")
                    )
                    for n in range(args.cases)
                ]
                await harness.bounded(
                    asyncio.gather(*(proposed(cspflow, c) for c in case_ids)),
                    180,
                    f"{args.cases} cases reaching the threshold stage",
                )
                one = await cspflow.case_status(case_ids[0])
                memo_sizes = {
                    "case": await _memo_bytes(cspflow.client, case_ids[0]),
                    "task": await _memo_bytes(cspflow.client, one.tasks[0].task_id),
                }
                task = await reads.workflow_status(
                    cspflow.client, one.tasks[0].task_id, PartnerTaskStatus
                )
                assert task is not None, "the task published no memo: is the worker this release?"
                samples: dict[str, list[float]] = {"memo": [], "query": []}
                rng = random.Random(args.seed)
                for n in range(WARM_UP + args.samples):
                    case_id = case_ids[(n * 7 + 3) % len(case_ids)]
                    calls: dict[str, Callable[[], Awaitable[Any]]] = {
                        "memo": lambda c=case_id: cspflow.case_status(c),  # type: ignore[misc]
                        "query": lambda c=case_id: status_by_query(cspflow, c),  # type: ignore[misc]
                    }
                    kinds = list(calls)
                    rng.shuffle(kinds)
                    for kind in kinds:
                        took = await harness.bounded(timed(calls[kind]), 60, kind)
                        if n >= WARM_UP:
                            samples[kind].append(took)
                status_doc = one.model_dump(mode="json")
                changes = await micro(cspflow.client, status_doc, args.updates)
    READ_MODEL.unlink(missing_ok=True)
    report(args, machine, samples, changes, memo_sizes)


async def _memo_bytes(client: Client, workflow_id: str) -> int:
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest

    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    return int(described.workflow_execution_info.memo.fields[STATUS_KEY].ByteSize())


def report(
    args: argparse.Namespace,
    machine: dict[str, Any],
    samples: dict[str, list[float]],
    changes: dict[str, Any],
    memo_sizes: dict[str, int],
) -> None:
    reads_ = {kind: harness.summary(values) for kind, values in samples.items()}
    print(f"\nStatus read of one case (case + 3 open tasks), ms, {args.cases} cases waiting\n")
    print(
        harness.table(
            [
                [label, f["n"], f["p50"], f["p95"], f["p99"], f["max"]]
                for label, f in (
                    ("memo (4 describes)", reads_["memo"]),
                    ("Query (4 Queries)", reads_["query"]),
                )
            ],
            ["", "n", "p50", "p95", "p99", "max"],
        )
    )
    read_ratio = reads_["memo"]["p95"] / reads_["query"]["p95"]
    print(f"\nmemo p95 / Query p95: {read_ratio:.2f}")
    print(f"memo payload (encrypted): case {memo_sizes['case']} B, task {memo_sizes['task']} B")
    print(f"\nOne state change, {args.updates} Updates each, CaseStatus-sized status\n")
    print(
        harness.table(
            [
                [
                    how,
                    f"{c['events_per_change']:.2f}",
                    f"{c['bytes_per_change']:.0f}",
                    c["update_p50_ms"],
                    c["update_p95_ms"],
                ]
                for how, c in changes.items()
            ],
            ["", "events/change", "bytes/change", "Update p50", "Update p95"],
        )
    )
    plain, memo, model = changes["plain"], changes["memo"], changes["read model"]
    print(
        f"\nmemo upsert vs read-model activity, added per change: events "
        f"{memo['events_per_change'] - plain['events_per_change']:.2f} vs "
        f"{model['events_per_change'] - plain['events_per_change']:.2f}, bytes "
        f"{memo['bytes_per_change'] - plain['bytes_per_change']:.0f} vs "
        f"{model['bytes_per_change'] - plain['bytes_per_change']:.0f}"
    )
    print(
        f"Update p95 with upsert / without: {memo['update_p95_ms'] / plain['update_p95_ms']:.2f}; "
        f"with read-model activity / without: "
        f"{model['update_p95_ms'] / plain['update_p95_ms']:.2f}"
    )
    harness.write_results(
        "status_read",
        {
            "machine": machine,
            "arguments": vars(args),
            "server_args": harness.SERVER_ARGS,
            "read_milliseconds": reads_,
            "memo_p95_over_query_p95": read_ratio,
            "memo_bytes": memo_sizes,
            "per_change": changes,
        },
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Status read: memo against Query (issue 11)")
    parser.add_argument("--cases", type=int, default=10, help="waiting cases (default 10)")
    parser.add_argument("--samples", type=int, default=100, help="reads of each (default 100)")
    parser.add_argument("--updates", type=int, default=100, help="changes of each (default 100)")
    parser.add_argument("--seed", type=int, default=5, help="seed of the order within a round")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
