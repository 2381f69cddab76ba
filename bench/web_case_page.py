"""Web console case page (issue 6): "A case page with 50 events renders in under 200 ms at p95 on
a 2-core machine."

One Community Trigger case is started on a dev server with file persistence, worked by one
`python worker.py` process with the real records database, SMTP server and directory, and driven
by bench/whole_case.py's simulated coordinator and partners until its histories (the case and its
partner-task children) hold at least --events events; the driver is then stopped, the case left
open where it stands, and the exact number counted once the histories are quiet. The console
(starter/web) is then served in this process by uvicorn on a free loopback port, and an
httpx.AsyncClient, signed in as an administrator, makes N sequential GETs of the case page after
10 warm-up requests, over real HTTP, then the same of the case list. Last, a timing split of the
case page's parts (wall clock, by wrapping the functions the page calls) and a cProfile of a few
requests say where the time goes.

    .venv/bin/python -m bench.web_case_page [--requests 200] [--events 50]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import pstats
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

import starter.audit.timeline as timeline_module
import starter.web.auth as web_auth
import starter.web.coordinators as web_pages
from activities.accounts import add_user
from activities.configuration import load_directory
from activities.db import make_engine, make_session_factory, migrate
from bench import harness
from bench.whole_case import Tally, count_histories, cspflow_case
from schemas.accounts import Account, Role
from schemas.community_trigger import Application
from starter.client import Cspflow
from starter.codec import KeyRing, data_converter
from starter.settings import Settings
from starter.web.server import start_web

BY = "coordinator@bench.example.org"
ADMIN = "admin@bench.example.org"
PASSWORD = "correct horse battery staple"
WARM_UP = 10
GOAL_P95_MS = 200.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class SteppedCspflow(Cspflow):
    """Cspflow that lets whole_case's simulated people act one step at a time and stops them
    once the case's histories, quiet after a step, hold `target` events."""

    target: int
    case_id: str | None
    events: int
    reached: asyncio.Event
    lock: asyncio.Lock

    def prepare(self, target: int) -> None:
        self.target, self.case_id, self.events = target, None, 0
        self.reached, self.lock = asyncio.Event(), asyncio.Lock()

    async def start_community_trigger(self, application: Application) -> str:
        async with self.lock:
            self.case_id = await super().start_community_trigger(application)
            await self._count()
        return self.case_id

    async def step(
        self, case_id: str, update: str, payload: BaseModel, result_type: type | None = None
    ) -> Any:
        async with self.lock:
            if self.reached.is_set():
                await asyncio.Event().wait()  # held here until the driver is cancelled
            result = await super().step(case_id, update, payload, result_type)
            await self._count()
        return result

    async def _count(self) -> None:
        """Wait until the histories are quiet (unchanged for 1.5 s), count, and stop at target."""
        assert self.case_id is not None
        last, quiet_since = -1, time.monotonic()
        while True:
            totals, _ = await count_histories(self.client, [self.case_id])
            if totals["events"] != last:
                last, quiet_since = totals["events"], time.monotonic()
            elif time.monotonic() - quiet_since >= 1.5:
                break
            await asyncio.sleep(0.3)
        self.events = last
        if last >= self.target:
            self.reached.set()


async def drive_to(cspflow: SteppedCspflow, target: int, seed: int) -> tuple[str, int, bool]:
    """Drive one case (whole_case's simulated people) until its histories hold `target` events.

    Returns the case id, its events (counted once quiet) and whether the case ran to closure
    before reaching the target.
    """
    cspflow.prepare(target)
    today = datetime.now(UTC).date()
    driver = asyncio.create_task(cspflow_case(cspflow, 0, today, random.Random(seed), Tally()))
    reached = asyncio.create_task(cspflow.reached.wait())
    await asyncio.wait([driver, reached], return_when=asyncio.FIRST_COMPLETED)
    closed = driver.done()
    if closed:
        driver.result()  # raise what went wrong
    # Stop the coordinator and the partners it set answering (tasks made by cspflow_case).
    pending = [
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__qualname__", "").startswith("cspflow_case") and not t.done()
    ]
    for task in [*pending, reached]:
        task.cancel()
    await asyncio.gather(*pending, reached, return_exceptions=True)
    assert cspflow.case_id is not None
    return cspflow.case_id, cspflow.events, closed


async def sign_in(http: httpx.AsyncClient, email: str) -> None:
    page = await http.get("/sign-in")
    found = _CSRF.search(page.text)
    assert found, "the sign-in page has no csrf_token"
    response = await http.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": found.group(1), "next": "/cases"},
    )
    if response.status_code != 303 and "Sign out" not in response.text:
        raise RuntimeError(f"sign-in refused: {response.status_code} {response.text[:300]}")


async def timed_gets(http: httpx.AsyncClient, path: str, count: int, warm_up: int) -> list[float]:
    """`warm_up` unmeasured then `count` measured sequential GETs of `path`, in ms each."""
    samples = []
    for n in range(warm_up + count):
        started = time.perf_counter()
        response = await http.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        if n >= warm_up:
            samples.append(elapsed)
    return samples


# ---- where the time goes ------------------------------------------------------------------------


SPLIT: list[tuple[Any, str, str]] = [
    (web_auth, "get_account", "account lookup (records DB)"),
    (Cspflow, "case_status", "case_status (case Query + per-task Queries)"),
    (Cspflow, "task_status", "  of which per-task Queries"),
    (web_pages, "build_timeline", "build_timeline (total)"),
    (timeline_module, "fetch_histories", "  of which history fetch"),
    (timeline_module._Reader, "read", "  of which history decode/read"),
    (timeline_module, "read_case_view", "  of which status Query"),
    (web_pages, "record_access", "record_access (records DB write)"),
    (web_pages, "page", "page render (Jinja)"),
]
"""The functions the case page calls, by owner and name, and how the split names each."""


@contextmanager
def timing_split(parts: dict[str, list[float]]) -> Iterator[None]:
    """Wrap the functions the case page calls, noting each call's wall time (ms) under its name.

    Patched by module attribute, as the page looks them up at call time; restored on exit.
    """
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in SPLIT]

    def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        if asyncio.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await function(*args, **kwargs)
                finally:
                    parts.setdefault(label, []).append((time.perf_counter() - started) * 1000)

            return run_async

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                parts.setdefault(label, []).append((time.perf_counter() - started) * 1000)

        return run

    try:
        for (owner, name, label), (_, _, original) in zip(SPLIT, saved, strict=True):
            setattr(owner, name, timed(label, original))
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


async def split_case_page(
    http: httpx.AsyncClient, path: str, count: int
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per-request wall time of each part of the case page over `count` GETs (mean per request),
    and the whole request, for comparison."""
    parts: dict[str, list[float]] = {}
    with timing_split(parts):
        whole = await timed_gets(http, path, count, 0)
    split = {
        label: {
            "calls_per_request": len(values) / count,
            "ms_per_request": sum(values) / count,
            **{k: v for k, v in harness.summary(values).items() if k in ("p50", "p95")},
        }
        for label, values in ((label, parts.get(label, [])) for _, _, label in SPLIT)
    }
    return split, harness.summary(whole)


async def profile_case_page(http: httpx.AsyncClient, path: str, count: int) -> list[str]:
    """cProfile `count` GETs (client and server share this process): the top functions by
    cumulative CPU time, as lines of text."""
    profiler = cProfile.Profile()
    profiler.enable()
    await timed_gets(http, path, count, 0)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(
        re.escape(f"{harness.PROJECT_ROOT}/") + "(starter|activities|schemas)/", 25
    )
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue().splitlines()


# ---- the run ------------------------------------------------------------------------------------


async def serve_and_measure(
    args: argparse.Namespace, folder: Path, client: Any, case_id: str, task_queue: str, smtp: int
) -> dict[str, Any]:
    directory_file = folder / "directory.yaml"
    settings = Settings(
        data_dir=folder / "cspflow-data",
        task_queue=task_queue,
        smtp_port=smtp,
        directory_file=directory_file,
        web_host="127.0.0.1",
        web_port=harness.free_port(),
    )
    await migrate(settings.records_url)
    engine = make_engine(settings.records_url)
    try:
        sessions = make_session_factory(engine)
        admin = Account(email=ADMIN, name="admin", role=Role.ADMINISTRATOR, areas=())
        await add_user(sessions, admin, PASSWORD)
        web = await start_web(settings, client, sessions, load_directory(directory_file))
        try:
            async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
                await sign_in(http, ADMIN)
                case_path = f"/cases/{case_id}"
                first = await http.get(case_path)
                if first.status_code != 200:
                    raise RuntimeError(f"GET {case_path}: {first.status_code} {first.text[:300]}")
                case_samples = await timed_gets(http, case_path, args.requests, WARM_UP)
                list_samples = await timed_gets(http, "/cases", args.requests, WARM_UP)
                split, split_whole = await split_case_page(http, case_path, min(args.requests, 100))
                profile = await profile_case_page(http, case_path, 20)
        finally:
            await web.stop()
    finally:
        await engine.dispose()
    return {
        "case_page_bytes": len(first.content),
        "case_page_ms": harness.summary(case_samples),
        "case_list_ms": harness.summary(list_samples),
        "case_page_split": split,
        "case_page_during_split_ms": split_whole,
        "profile_top": profile,
    }


async def main_async(args: argparse.Namespace) -> None:
    machine = harness.machine()
    print(f"load average at start: {machine['load_average_at_start']}")
    keys = KeyRing.generate("bench")
    task_queue = "bench-web"
    with tempfile.TemporaryDirectory(prefix="cspflow-bench-") as tmp:
        folder = Path(tmp)
        directory_file = harness.write_directory(folder)
        with harness.smtp_server() as (_, smtp_port):
            async with harness.dev_server(folder) as server:
                env = harness.cspflow_worker_env(
                    server,
                    task_queue=task_queue,
                    data_dir=folder / "cspflow-data",
                    smtp_port=smtp_port,
                    directory_file=directory_file,
                    payload_keys_json=keys.to_json(),
                )
                async with harness.worker_processes(
                    harness.CSPFLOW_WORKER, 1, env, folder, "cspflow-worker"
                ):
                    client = await harness.connect(server, data_converter(keys))
                    cspflow = SteppedCspflow(
                        client, task_queue, BY, signer=harness.step_signer(env)
                    )
                    case_id, events, closed = await harness.bounded(
                        drive_to(cspflow, args.events, args.seed), 360, "driving the case"
                    )
                    _, histories = await count_histories(client, [case_id])
                    status = await cspflow.case_status(case_id)
                    print(
                        f"case {case_id}: {events} events in {len(histories)} histories "
                        f"(target {args.events}); stage {status.stage.value}, "
                        f"{len(status.tasks)} tasks"
                        + (" (the case closed before reaching the target)" if closed else "")
                    )
                    figures = await serve_and_measure(
                        args, folder, client, case_id, task_queue, smtp_port
                    )
    report(figures)
    harness.write_results(
        "web_case_page",
        {
            "machine": machine,
            "arguments": vars(args),
            "server_args": harness.SERVER_ARGS,
            "case": {
                "events": events,
                "histories": {ident: len(h) for ident, h in histories.items()},
                "stage": status.stage.value,
                "tasks": len(status.tasks),
                "open_tasks": sum(t.state in ("open", "overdue") for t in status.tasks),
                "closed_before_target": closed,
            },
            "goal_p95_ms": GOAL_P95_MS,
            "goal_met": figures["case_page_ms"]["p95"] < GOAL_P95_MS,
            **figures,
        },
    )


def report(figures: dict[str, Any]) -> None:
    rows = [
        [name, *(figures[key][k] for k in ("n", "p50", "p95", "p99", "mean", "max"))]
        for name, key in (("case page", "case_page_ms"), ("case list", "case_list_ms"))
    ]
    print()
    print(harness.table(rows, ["ms", "n", "p50", "p95", "p99", "mean", "max"]))
    p95 = figures["case_page_ms"]["p95"]
    verdict = "met" if p95 < GOAL_P95_MS else "NOT met"
    print(f"\ncase page p95 {p95:.1f} ms against the goal of < {GOAL_P95_MS:.0f} ms: {verdict}")
    print(f"case page size: {figures['case_page_bytes']} bytes")
    whole = figures["case_page_during_split_ms"]
    print(
        f"\nwhere a case page's time goes (wall ms per request, mean over {whole['n']} requests "
        f"whose own mean was {whole['mean']:.1f} ms, p50 {whole['p50']:.1f}):"
    )
    split_rows = [
        [label, part["calls_per_request"], part["ms_per_request"], part["p50"], part["p95"]]
        for label, part in figures["case_page_split"].items()
    ]
    print(
        harness.table(
            split_rows, ["part", "calls/request", "ms/request", "p50 ms/call", "p95 ms/call"]
        )
    )
    print(
        "\ncProfile of 20 case-page requests (client and server in this process), top by cumtime:"
    )
    print("\n".join(figures["profile_top"]))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Web console case page latency (issue 6)")
    parser.add_argument("--requests", type=int, default=200, help="measured GETs per page")
    parser.add_argument("--events", type=int, default=50, help="events the case must hold")
    parser.add_argument("--seed", type=int, default=5, help="seed of the simulated people")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
