"""Replay throughput (issue 5, benchmark 4): stored histories replayed per second per core.

Replays the histories in tests/histories/ (their payloads encrypted with the test key ring beside
them) through temporalio's Replayer, configured as tests/replay/test_replay.py configures it
(this release's workflows, the production sandbox with its pass-through modules), round after
round for about `--seconds`. One process replays one history at a time, so the rate per wall
second is the rate of one core; the rate per CPU second of this process is printed beside it.
Only CommunityTrigger histories count as full cases; every history counts in the overall rate.

For scale, the same is measured for bare Temporal: a `BaselineCase` (bench/baseline.py) with the
activities, children, timers and Updates of the stored full case but empty bodies is run once on
a dev server, and its history replayed the same way with the SDK's default sandbox, and again
with no sandbox at all (`UnsandboxedWorkflowRunner`): the second is the most the SDK's Replayer
does on this machine for a history of that shape whatever the workflow code, so it bounds what
any change to cspflow could reach (--no-bare skips this).

    .venv/bin/python -m bench.replay [--seconds 10] [--no-bare]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from bench import harness
from bench.baseline import BASELINE_WORKFLOWS, noop, shape_from_history
from bench.whole_case import Tally, baseline_case
from starter.codec import KeyRing, data_converter
from starter.runtime import PASSTHROUGH, workflows

HISTORIES = harness.PROJECT_ROOT / "tests" / "histories"
KEY_FILE = HISTORIES / "test-payload-keys.json"
FULL_CASE = "CommunityTrigger"
GOAL = 100.0


def load(path: Path) -> tuple[str, WorkflowHistory]:
    """A stored history and its workflow type."""
    document = json.loads(path.read_text())
    started = document["events"][0]["workflowExecutionStartedEventAttributes"]
    workflow_id = started.get("workflowId") or path.stem
    return started["workflowType"]["name"], WorkflowHistory.from_json(workflow_id, document)


@dataclass
class Replayed:
    """How many histories of each workflow type replayed, in how much wall and CPU time."""

    counts: Counter[str]
    wall: float
    cpu: float
    failures: list[str]


async def replay_for(
    replayer: Replayer, stored: Sequence[tuple[str, WorkflowHistory]], seconds: float, rounds: int
) -> Replayed:
    """Replay the histories round after round, one at a time, for about `seconds`."""
    kind_of = {id(history): kind for kind, history in stored}
    deadline = time.monotonic() + seconds

    async def passes() -> AsyncIterator[WorkflowHistory]:
        # Bounded in time and in count: at most `rounds` passes over the histories.
        for _ in range(rounds):
            for _, history in stored:
                yield history
            if time.monotonic() >= deadline:
                return

    counts: Counter[str] = Counter()
    failures: list[str] = []
    wall_start, cpu_start = time.monotonic(), time.process_time()
    async with replayer.workflow_replay_iterator(passes()) as results:
        async for result in results:
            counts[kind_of[id(result.history)]] += 1
            if result.replay_failure is not None:
                failures.append(f"{result.history.workflow_id}: {result.replay_failure}")
    return Replayed(
        counts, time.monotonic() - wall_start, time.process_time() - cpu_start, failures
    )


async def bare_history(full_case: WorkflowHistory) -> WorkflowHistory:
    """Run one baseline case shaped like the stored full case; return its history."""
    shape = shape_from_history("bare-replay", full_case.events, defaultdict(list))
    with tempfile.TemporaryDirectory(prefix="cspflow-bench-") as tmp:
        async with harness.dev_server(Path(tmp)) as server:
            client = await harness.connect(server)
            async with Worker(
                client,
                task_queue="bench-replay",
                workflows=list(BASELINE_WORKFLOWS),
                activities=[noop],
            ):
                case_id = await harness.bounded(
                    baseline_case(client, "bench-replay", shape, 0, random.Random(5), Tally()),
                    120,
                    "the bare case",
                )
            return await client.get_workflow_handle(case_id).fetch_history()


async def main_async(args: argparse.Namespace) -> None:
    machine = harness.machine()
    stored = [load(p) for p in sorted(HISTORIES.glob("*.json")) if p != KEY_FILE]
    kinds = dict(Counter(kind for kind, _ in stored))
    print(f"{len(stored)} stored histories: {kinds}")
    replayer = Replayer(
        workflows=workflows(),
        data_converter=data_converter(KeyRing.from_file(KEY_FILE)),
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
        ),
    )
    measured = await replay_for(replayer, stored, args.seconds, args.max_rounds)
    wall, cpu, failures = measured.wall, measured.cpu, measured.failures
    replayed = measured.counts
    total = sum(replayed.values())
    full = replayed[FULL_CASE]
    rows = [
        ["full cases (CommunityTrigger)", full, full / wall, full / cpu],
        ["all histories", total, total / wall, total / cpu],
    ]
    bare: dict[str, Any] = {}
    if args.bare:
        full_case = next(h for k, h in stored if k == FULL_CASE and "full" in h.workflow_id)
        history = await bare_history(full_case)
        bare_measured = await replay_for(
            Replayer(workflows=list(BASELINE_WORKFLOWS)),
            [("BaselineCase", history)],
            args.seconds,
            args.max_rounds,
        )
        unsandboxed = await replay_for(
            Replayer(
                workflows=list(BASELINE_WORKFLOWS), workflow_runner=UnsandboxedWorkflowRunner()
            ),
            [("BaselineCase", history)],
            args.seconds,
            args.max_rounds,
        )
        n = bare_measured.counts["BaselineCase"]
        m = unsandboxed.counts["BaselineCase"]
        bare = {
            "events": len(history.events),
            "full_case_events": len(full_case.events),
            "replayed": n,
            "per_second": n / bare_measured.wall,
            "per_cpu_second": n / bare_measured.cpu,
            "failures": bare_measured.failures[:10],
            "unsandboxed_replayed": m,
            "unsandboxed_per_second": m / unsandboxed.wall,
            "unsandboxed_per_cpu_second": m / unsandboxed.cpu,
            "unsandboxed_failures": unsandboxed.failures[:10],
        }
        rows.append(
            [
                f"bare Temporal, same shape ({len(history.events)} events)",
                n,
                bare["per_second"],
                bare["per_cpu_second"],
            ]
        )
        rows.append(
            [
                "the same with no sandbox (the SDK's ceiling)",
                m,
                bare["unsandboxed_per_second"],
                bare["unsandboxed_per_cpu_second"],
            ]
        )
    print(f"\nReplay for {wall:.1f} s wall, {cpu:.1f} s CPU (one process)\n")
    print(harness.table(rows, ["", "replayed", "per wall s (one core)", "per CPU s"]))
    rate = full / wall
    print(
        f"\nfull-case histories per second per core: {rate:.1f} "
        f"(goal >= {GOAL:g}: {'met' if rate >= GOAL else 'NOT met'})"
    )
    if bare:
        ceiling = bare["unsandboxed_per_second"]
        print(
            f"bare Temporal of the same shape with no sandbox: {ceiling:.1f} a second per core, "
            f"the Replayer's ceiling here ({'above' if ceiling >= GOAL else 'below'} the goal)"
        )
    if failures:
        print(f"\n{len(failures)} replay failures, first: {failures[0]}")
    harness.write_results(
        "replay",
        {
            "machine": machine,
            "arguments": vars(args),
            "stored_histories": kinds,
            "replayed": dict(replayed),
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "full_cases_per_second_per_core": rate,
            "full_cases_per_cpu_second": full / cpu,
            "histories_per_second": total / wall,
            "histories_per_cpu_second": total / cpu,
            "goal": GOAL,
            "replay_failures": failures[:10],
            "bare_same_shape": bare,
        },
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Replay throughput of the stored histories")
    parser.add_argument("--seconds", type=float, default=10, help="how long to replay (default 10)")
    parser.add_argument("--max-rounds", type=int, default=10_000, help="bound on passes")
    parser.add_argument(
        "--bare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also replay a bare-Temporal case of the same shape (default: yes)",
    )
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
