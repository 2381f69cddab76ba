"""The chaos run, small (issue 5): 12 mixed cases while the worker is killed twice, the
SMTP server and PostgreSQL are each stopped for 5 s and Temporal is restarted once; every
invariant of bench/chaos/invariants.py must hold. The full run is `python -m bench.chaos`.

Repeats a killed worker makes inevitable (at-least-once SMTP) are accepted and reported, as
with `--accept-inherent-repeats`; a duplicate without a kill in between fails.
"""

from __future__ import annotations

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
    problems = "\n".join(f"{p['check']} {p['case_id']}: {p['what']}" for p in document["problems"])
    assert document["passed"], f"invariants failed:\n{problems}"
