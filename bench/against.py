"""The read and step figures of this tree against another commit's, measured in one run.

Issue 11 asks for `status` p95, the console case page p95 and the Update p95 against bare
Temporal "measured in one run against the previous main on the same machine". Run apart, two
measurements differ by whatever else the machine was doing (load here swings from 0.5 to 6 on
two cores), so this script checks the other commit out into a temporary worktree and runs the
same benchmark in both trees, alternating (previous, this, previous, this, ...), and reports each
figure's median over the rounds and the ratio this / previous.

    .venv/bin/python -m bench.against --previous e450926 [--rounds 2] [--samples 100]

Each benchmark runs as its own process in its tree (`python -m bench.latency`, `python -m
bench.web_case_page`), with that tree first on PYTHONPATH, so its worker, schemas and workflows
are that commit's; both use this venv's packages. The figures are read from the results file the
benchmark writes in its tree (bench/results/<name>.json) and the whole comparison is written to
bench/results/against.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import harness

Figure = Callable[[Mapping[str, Any]], float]

BENCHMARKS: dict[str, tuple[str, Callable[[argparse.Namespace], list[str]], dict[str, Figure]]] = {
    "latency": (
        "bench.latency",
        lambda a: ["--cases", str(a.cases), "--samples", str(a.samples), "--seed", "5"],
        {
            "status p95 ms": lambda r: float(r["milliseconds"]["status"]["p95"]),
            "Update p95 ms": lambda r: float(r["milliseconds"]["step"]["p95"]),
            "bare Update p95 ms": lambda r: float(r["milliseconds"]["bare"]["p95"]),
            "Update p95 / bare p95": lambda r: float(r["update_p95_ratio"]),
        },
    ),
    "web_case_page": (
        "bench.web_case_page",
        lambda a: ["--requests", str(a.samples), "--seed", "5"],
        {
            "case page p95 ms": lambda r: float(r["case_page_ms"]["p95"]),
            "case list p95 ms": lambda r: float(r["case_list_ms"]["p95"]),
        },
    ),
}


def checkout(commit: str, into: Path) -> Path:
    """A detached worktree of `commit` (this repository's history) under `into`."""
    tree = into / commit
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(tree), commit],
        cwd=harness.PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    # The console's static files come from npm (`make install`): the previous commit's
    # package-lock.json pins the same GOV.UK Frontend, so it borrows this tree's copy.
    modules = harness.PROJECT_ROOT / "node_modules"
    if modules.exists() and not (tree / "node_modules").exists():
        (tree / "node_modules").symlink_to(modules, target_is_directory=True)
    return tree


def run_one(tree: Path, module: str, arguments: list[str], name: str) -> dict[str, Any]:
    """Run one benchmark in `tree` and return the results it wrote."""
    results = tree / "bench" / "results" / f"{name}.json"
    results.unlink(missing_ok=True)
    env = os.environ | {"PYTHONPATH": str(tree)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not results.exists():
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise SystemExit(f"{module} failed in {tree} (exit {done.returncode}):\n{tail}")
    print(f"  {module} in {tree.name}: {time.monotonic() - started:.0f} s")
    document: dict[str, Any] = json.loads(results.read_text())
    return document


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--previous", required=True, help="the commit to measure against")
    parser.add_argument("--rounds", type=int, default=2, help="alternations (default 2)")
    parser.add_argument("--samples", type=int, default=100, help="samples of each figure")
    parser.add_argument("--cases", type=int, default=20, help="background cases (latency)")
    parser.add_argument(
        "--only", choices=sorted(BENCHMARKS), action="append", help="run only this benchmark"
    )
    args = parser.parse_args(argv)
    machine = harness.machine()
    print(f"load average at start: {machine['load_average_at_start']}")
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=harness.PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix="cspflow-against-"))
    previous = checkout(args.previous, folder)
    trees = {"previous": previous, "this": harness.PROJECT_ROOT}
    figures: dict[str, dict[str, list[float]]] = {}
    try:
        for name in args.only or sorted(BENCHMARKS):
            module, arguments, wanted = BENCHMARKS[name]
            for round_ in range(args.rounds):
                print(f"{name}, round {round_ + 1} of {args.rounds}")
                for side, tree in trees.items():
                    result = run_one(tree, module, arguments(args), name)
                    for label, read in wanted.items():
                        figures.setdefault(label, {}).setdefault(side, []).append(read(result))
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(previous)],
            cwd=harness.PROJECT_ROOT,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
    rows = []
    summary: dict[str, dict[str, float]] = {}
    for label, sides in figures.items():
        before, after = statistics.median(sides["previous"]), statistics.median(sides["this"])
        ratio = after / before if before else float("nan")
        summary[label] = {"previous": before, "this": after, "ratio": ratio}
        rows.append([label, f"{before:.1f}", f"{after:.1f}", f"{ratio:.2f}"])
    print(
        f"\nMedians over {args.rounds} alternating rounds; previous = {args.previous}, "
        f"this = {head}\n"
    )
    print(harness.table(rows, ["", "previous", "this", "this / previous"]))
    harness.write_results(
        "against",
        {
            "machine": machine,
            "arguments": vars(args),
            "previous": args.previous,
            "this": head,
            "runs": figures,
            "medians": summary,
        },
    )


if __name__ == "__main__":
    main()
