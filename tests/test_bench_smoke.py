"""The figure-printing benchmarks still run against today's code (issue 11's figures).

A benchmark is only run by hand, so a change to what it calls can break it unseen until the day
its figures are needed: `bench.latency` failed after its first step when steps became signed
(issue 13), because the step's result type changed under it. Each benchmark that issue 11's
comparison runs (`bench.against`) is run here at its smallest size, in its own process as it is
run by hand, and must print its figures. The figures themselves are not judged: a timed test on
a shared machine would be a flaky test (README "Performance").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("module", "arguments", "printed"),
    [
        ("bench.latency", ["--cases", "2", "--samples", "3"], "status p95"),
        ("bench.web_case_page", ["--requests", "3", "--events", "12"], "case page p95"),
    ],
    ids=["latency", "web_case_page"],
)
def test_the_benchmark_runs_and_prints_its_figures(
    module: str, arguments: list[str], printed: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
    assert done.returncode == 0, tail
    assert printed in done.stdout, tail
