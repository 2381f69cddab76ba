"""The chaos run, small (issue 5): 12 mixed cases while the worker is killed twice, the
SMTP server and PostgreSQL are each stopped for 5 s and Temporal is restarted once; every
invariant of bench/chaos/invariants.py must hold. The full run is `python -m bench.chaos`.

Repeats a killed worker makes inevitable (at-least-once SMTP) are accepted and reported, as
with `--accept-inherent-repeats`; a duplicate without a kill in between fails. A case stuck on
temporalio's known Update ordering bug after a kill is reported as an expected failure (see
tests/replay), and only when every other case held every invariant.
"""

from __future__ import annotations

import pytest

from bench.chaos.run import run_in_process


async def test_every_invariant_holds_through_kills_and_outages() -> None:
    """Twelve cases reach their scripted end, each notice once, each record once, none stuck."""
    document = await run_in_process(
        [
            "--cases", "12",
            "--kills", "2",
            "--window", "30",
            "--smtp-down", "5",
            "--pg-down", "5",
            "--seed", "11",
            "--timeout", "240",
            "--accept-inherent-repeats",
            "--name", "chaos-ci",
        ]
    )  # fmt: skip

    counts = document["event_counts"]
    assert counts.get("worker_sigkill") == 2
    assert counts.get("smtp_stopped") == counts.get("postgres_stopped") == 1
    assert counts.get("temporal_stopped") == 1
    # A case stuck on temporalio's Update ordering bug after a kill (tests/replay: the strict
    # xfail of tests/histories/known-sdk-ordering) is reported, not failed; any other problem,
    # in any other case, fails the test.
    stuck_by_sdk = {p["case_id"] for p in document["problems"] if "[TMPRL1100]" in p["what"]}
    others = [p for p in document["problems"] if p["case_id"] not in stuck_by_sdk]
    problems = "\n".join(f"{p['check']} {p['case_id']}: {p['what']}" for p in others)
    assert not others, f"invariants failed:\n{problems}"
    if stuck_by_sdk:
        pytest.xfail(
            f"{', '.join(sorted(stuck_by_sdk))} stuck on the known temporalio Update ordering bug "
            "after a worker kill; every other case held every invariant"
        )
    assert document["passed"]
