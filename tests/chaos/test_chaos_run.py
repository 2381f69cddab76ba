"""The chaos run, small (issue 5): 12 mixed cases while the worker is killed twice, the
SMTP server and PostgreSQL are each stopped for 5 s and Temporal is restarted once; every
invariant of bench/chaos/invariants.py must hold. The full run is `python -m bench.chaos`.

Repeats a killed worker makes inevitable (at-least-once SMTP) are accepted and reported, as
with `--accept-inherent-repeats`; a duplicate without a kill in between fails. A case stuck on
temporalio's known Update ordering bug after a kill is reported as an expected failure (see
tests/replay), and only when every other case held every invariant: only a case whose every
nondeterminism is one of that bug's known messages; any other nondeterminism fails the test.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from bench.chaos.run import run_in_process

KNOWN_SDK_ORDERING = Path(__file__).parents[1] / "histories" / "known-sdk-ordering"

# The messages a replay gives on temporalio's Update ordering bug (docs/upstream-temporalio-
# update-ordering.md, tests/replay/test_sdk_update_ordering.py): the Update's acceptance replayed
# before a command the history has first: a timer or search-attribute upsert, a patch marker, or
# a signal to another workflow.
KNOWN_SDK_ORDERING_BUG = re.compile(
    r"\[TMPRL1100\] Nondeterminism error: (?:"
    r"Update machine does not handle this event: HistoryEvent\(id: \d+, \w+\)"
    r"|Non-deprecated patch marker encountered for change [\w.-]+, "
    r"but there is no corresponding change command!"
    r"|Signal external WF machine does not handle this event: )"
)


def _nondeterminism(what: str) -> bool:
    return "TMPRL1100" in what or "NON_DETERMINISTIC" in what or "Nondeterminism" in what


def stuck_on_known_sdk_bug(problems: Iterable[Mapping[str, str]]) -> set[str]:
    """The cases whose problems include a nondeterminism, every one of them the known SDK bug's.

    Such a case is stuck (its other problems follow from that); a case with any other
    nondeterminism is not in the set, so its problems fail the test.
    """
    by_case: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        if _nondeterminism(problem["what"]):
            by_case[problem["case_id"]].append(problem["what"])
    return {
        case_id
        for case_id, found in by_case.items()
        if all(KNOWN_SDK_ORDERING_BUG.search(what) for what in found)
    }


async def test_every_invariant_holds_through_kills_and_outages() -> None:
    """Twelve cases reach their scripted end, each notice once, each record once, none stuck.

    It timed out in 2 of 4 runs after defect 5 of issue 12 (recording the review closes open
    information requests): the review script recorded the review before every partner answer
    had landed, and then waited for an answer that could no longer come. The script now waits
    for those answers first (bench/chaos/scripts.py), as a review panel reads them first.
    """
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
    stuck_by_sdk = stuck_on_known_sdk_bug(document["problems"])
    others = [p for p in document["problems"] if p["case_id"] not in stuck_by_sdk]
    problems = "\n".join(f"{p['check']} {p['case_id']}: {p['what']}" for p in others)
    assert not others, f"invariants failed:\n{problems}"
    if stuck_by_sdk:
        pytest.xfail(
            f"{', '.join(sorted(stuck_by_sdk))} stuck on the known temporalio Update ordering bug "
            "after a worker kill; every other case held every invariant"
        )
    assert document["passed"]


def _problem(case_id: str, message: str) -> dict[str, str]:
    """A problem as bench/chaos/invariants.py reports a failed workflow task."""
    return {
        "check": "state",
        "case_id": case_id,
        "what": f"workflow task failed: {case_id} event 60: "
        f"WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR: {message}",
    }


def test_the_stored_sdk_bug_histories_fail_with_the_known_messages() -> None:
    """Each workflow task failure in the three stored chaos-run histories of the bug is
    recognised as the known bug."""
    problems = []
    for path in sorted(KNOWN_SDK_ORDERING.glob("ct-*.json")):
        for event in json.loads(path.read_text())["events"]:
            failed = event.get("workflowTaskFailedEventAttributes")
            if failed:
                problems.append(_problem(path.stem, failed["failure"]["message"]))
    assert len({p["case_id"] for p in problems}) == 3
    assert stuck_on_known_sdk_bug(problems) == {p["case_id"] for p in problems}


@pytest.mark.parametrize(
    "message",
    [
        "[TMPRL1100] Nondeterminism error: Timer machine does not handle this event: "
        "HistoryEvent(id: 13, ActivityTaskScheduled)",
        "[TMPRL1100] Nondeterminism error: Activity type of scheduled event 'send_notice' does "
        "not match activity type of activity command 'record_case'",
        "[TMPRL1100] Nondeterminism error: No command scheduled for event HistoryEvent(id: 9, "
        "TimerStarted)",
    ],
    ids=["another-machine", "activity-type", "no-command"],
)
def test_any_other_nondeterminism_is_not_taken_for_the_sdk_bug(message: str) -> None:
    """A new nondeterminism after a kill fails the chaos test, even in a case that also shows
    the known bug's message."""
    known = (
        "[TMPRL1100] Nondeterminism error: Update machine does not handle this event: "
        "HistoryEvent(id: 58, UpsertWorkflowSearchAttributes)"
    )
    problems = [
        _problem("ct-north-CHAOS-1", message),
        _problem("ct-north-CHAOS-2", known),
        _problem("ct-north-CHAOS-2", message),
        _problem("ct-north-CHAOS-3", known),
        {"check": "notices", "case_id": "ct-north-CHAOS-3", "what": "no decision notice"},
    ]
    assert stuck_on_known_sdk_bug(problems) == {"ct-north-CHAOS-3"}
