"""Human-step latency (issue 5, benchmark 2): a coordinator's step and `cspflow status`, beside
bare Temporal's Update, with a background load of running cases.

K Community Trigger cases are started and left waiting at the threshold stage (each with three
open information requests), worked by one `python worker.py` process. Then, in rounds, in a seeded
random order within each round, the same client measures:

- a coordinator's Update through `Cspflow.step`: `assess_threshold` with an empty assessment,
  which a case accepts again and again at the threshold stage, from call to accepted result;
- `Cspflow.case_status` of one case (the case's Query plus one per open task, as `cspflow status`);
- bare Temporal: `execute_update` on an idle workflow with one Update handler, worked by its own
  bare worker process (bench/baseline.py).

    .venv/bin/python -m bench.latency [--cases 50] [--samples 200] [--seed 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from bench import harness
from bench.baseline import BareUpdate
from schemas.community_trigger import (
    AssessThreshold,
    CaseStatus,
    ThresholdAssessment,
    ThresholdDecision,
)
from starter.client import Cspflow
from starter.codec import KeyRing, data_converter
from tests.workflows.directory import application
from workflows.community_trigger import CommunityTriggerWorkflow

BY = "coordinator@bench.example.org"
WARM_UP = 10
STATUS_GOAL_MS = 300.0
RATIO_GOAL = 2.0


async def proposed(cspflow: Cspflow, case_id: str, limit_seconds: float = 120) -> None:
    """Wait until the case has proposed its threshold decision (it then waits for a step)."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        try:
            status: CaseStatus = await cspflow.client.get_workflow_handle(case_id).query(
                CommunityTriggerWorkflow.status
            )
            if status.proposed_threshold is not None and len(status.tasks) == 3:
                return
        except (RPCError, WorkflowQueryFailedError):
            pass
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{case_id} did not reach its threshold proposal in {limit_seconds} s")


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    """Milliseconds from call to result."""
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def main_async(args: argparse.Namespace) -> None:
    machine = harness.machine()
    keys = KeyRing.generate("bench")
    today = datetime.now(UTC).date()
    with (
        tempfile.TemporaryDirectory(prefix="cspflow-bench-") as tmp,
        harness.smtp_server() as (
            _,
            smtp_port,
        ),
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
            bare_command = (*harness.BASELINE_WORKER, "--address", server.address)
            async with (
                harness.worker_processes(harness.CSPFLOW_WORKER, 1, env, folder, "cspflow-worker"),
                harness.worker_processes(bare_command, 1, harness.plain_env(), folder, "bare"),
            ):
                cspflow = Cspflow(
                    await harness.connect(server, data_converter(keys)),
                    "bench-cspflow",
                    BY,
                    signer=harness.step_signer(env),
                )
                bare_client = await harness.connect(server)
                started = time.monotonic()
                case_ids = [
                    await cspflow.start_community_trigger(
                        application(today, reference=f"LAT-{n:04d}")
                    )
                    for n in range(args.cases)
                ]
                await harness.bounded(
                    asyncio.gather(*(proposed(cspflow, c) for c in case_ids)),
                    180,
                    f"{args.cases} cases reaching the threshold stage",
                )
                waited = time.monotonic() - started
                print(f"{args.cases} cases waiting at threshold after {waited:.1f} s")
                bare = await bare_client.start_workflow(
                    BareUpdate.run, id="bare-update", task_queue="bench-baseline"
                )
                step = AssessThreshold(by=BY, assessment=ThresholdAssessment())
                samples: dict[str, list[float]] = {"step": [], "status": [], "bare": []}
                rng = random.Random(args.seed)

                def calls(n: int) -> dict[str, Callable[[], Awaitable[Any]]]:
                    return {
                        "step": lambda: cspflow.step(
                            case_ids[n % len(case_ids)],
                            "assess_threshold",
                            step,
                            ThresholdDecision,
                        ),
                        "status": lambda: cspflow.case_status(
                            case_ids[(n * 7 + 3) % len(case_ids)]
                        ),
                        "bare": lambda: bare.execute_update(BareUpdate.touch, f"touch-{n}"),
                    }

                measuring = time.monotonic()
                for n in range(WARM_UP + args.samples):
                    kinds = list(samples)
                    rng.shuffle(kinds)
                    round_calls = calls(n)
                    for kind in kinds:
                        took = await harness.bounded(timed(round_calls[kind]), 60, kind)
                        if n >= WARM_UP:
                            samples[kind].append(took)
                    if time.monotonic() - measuring > args.limit:
                        print(f"stopped after {n + 1 - WARM_UP} rounds: --limit {args.limit} s")
                        break
                await bare.signal(BareUpdate.finish)
    report(args, machine, samples)


def report(
    args: argparse.Namespace, machine: dict[str, Any], samples: dict[str, list[float]]
) -> None:
    figures = {kind: harness.summary(values) for kind, values in samples.items()}
    labels = {
        "step": "cspflow Update (assess_threshold)",
        "status": "cspflow status (case + 3 tasks)",
        "bare": "bare Temporal Update, idle",
    }
    rows = [
        [labels[k], f["n"], f["p50"], f["p95"], f["p99"], f["mean"], f["max"]]
        for k, f in figures.items()
    ]
    print(f"\nHuman-step latency, ms, with {args.cases} cases waiting at threshold\n")
    print(harness.table(rows, ["", "n", "p50", "p95", "p99", "mean", "max"]))
    ratio = figures["step"]["p95"] / figures["bare"]["p95"]
    status_p95 = figures["status"]["p95"]
    print(
        f"\ncspflow Update p95 / bare p95: {ratio:.2f} (goal <= {RATIO_GOAL:g}: "
        f"{'met' if ratio <= RATIO_GOAL else 'NOT met'})"
    )
    print(
        f"status p95: {status_p95:.1f} ms (goal < {STATUS_GOAL_MS:g} ms: "
        f"{'met' if status_p95 < STATUS_GOAL_MS else 'NOT met'})"
    )
    harness.write_results(
        "latency",
        {
            "machine": machine,
            "arguments": vars(args),
            "server_args": harness.SERVER_ARGS,
            "milliseconds": figures,
            "update_p95_ratio": ratio,
            "update_p95_ratio_goal": RATIO_GOAL,
            "status_p95_ms": status_p95,
            "status_p95_goal_ms": STATUS_GOAL_MS,
        },
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Human-step latency of cspflow and bare Temporal")
    parser.add_argument("--cases", type=int, default=50, help="background cases (default 50)")
    parser.add_argument("--samples", type=int, default=200, help="samples of each (default 200)")
    parser.add_argument("--seed", type=int, default=5, help="seed of the order within a round")
    parser.add_argument("--limit", type=float, default=120, help="measuring limit, seconds")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
