"""`cspflow audit replay` and `cspflow audit export`: do the recorded cases replay on this release?

Replays a case's history and its partner tasks' histories against this release's workflow code
(starter.audit.replay) and says, per history, "replayed cleanly" or where the code departed from
the record. Exit code 1 when any history diverged, so a pipeline stops the release.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from schemas.errors import InputError
from schemas.validation import shown
from starter.cli.common import (
    EXIT_REFUSED,
    _connect,
    _err,
    _out,
    _print_json,
    _records,
    _run,
    _settings,
    audit_app,
    handled,
)

if TYPE_CHECKING:
    from rich.progress import Progress
    from temporalio.client import WorkflowHistory

    from starter.audit.replay import ReplayReport
    from starter.settings import Settings

PROGRESS_FROM = 4
"""Show a progress bar from this many histories (or cases to fetch) on."""

_CASE_HELP = "The case id, as `cspflow cases` lists it; its partner tasks come with it."
_ALL_HELP = "Every case on the Temporal server."
_PROCESS_HELP = "Only cases of this process (`cspflow processes` lists them)."
_AREA_HELP = "Only cases of this area, e.g. amber-valley."
_CLOSED_HELP = "Only cases closed on or after this date (YYYY-MM-DD)."


@audit_app.command("replay")
@handled
def replay(
    case_id: str | None = typer.Argument(None, help=_CASE_HELP),
    all_cases: bool = typer.Option(False, "--all", help=_ALL_HELP),
    process: str | None = typer.Option(None, "--process", help=_PROCESS_HELP),
    area: str | None = typer.Option(None, "--area", help=_AREA_HELP),
    closed_since: str | None = typer.Option(None, "--closed-since", help=_CLOSED_HELP),
    from_dir: Path | None = typer.Option(
        None,
        "--from",
        help="Replay the histories in this folder (from `cspflow audit export`), with no server.",
    ),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML to this file."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Replay case histories against this release's code; exit code 1 on any divergence.

    Per history it prints "replayed cleanly" or the first point where this release's code
    departs from the record: which event, and what the code did instead. A divergence means a
    case still running would fail once this release is deployed: put the change behind
    workflow.patched (README: changing a running workflow).
    """
    from starter.audit.replay import ReplayResults, junit_xml, load_histories
    from starter.runtime import keyring

    settings, _ = _settings()
    if from_dir is not None:
        if case_id or all_cases or process or area or closed_since:
            raise InputError(
                "--from replays every history in the folder: do not combine it with a case id, "
                "--all, --process, --area or --closed-since"
            )
        histories = load_histories(from_dir)
    else:
        histories = _gather(settings, case_id, all_cases, process, area, closed_since)
    reports = _replay(histories, keyring(settings), show=not as_json)
    results = ReplayResults.of(reports)
    if junit is not None:
        try:
            junit.write_text(junit_xml(reports), encoding="utf-8")
        except OSError as error:
            raise InputError(f"cannot write {junit}: {error.strerror or error}") from None
    if as_json:
        _print_json(results)
    else:
        _say_summary(results.replayed, results.clean, results.diverged)
    if results.diverged:
        raise typer.Exit(EXIT_REFUSED)


@audit_app.command("export")
@handled
def export(
    case_id: str | None = typer.Argument(None, help=_CASE_HELP),
    out: Path = typer.Option(..., "--out", help="Folder to write `<workflow_id>.json` files to."),
    all_cases: bool = typer.Option(False, "--all", help=_ALL_HELP),
    process: str | None = typer.Option(None, "--process", help=_PROCESS_HELP),
    area: str | None = typer.Option(None, "--area", help=_AREA_HELP),
    closed_since: str | None = typer.Option(None, "--closed-since", help=_CLOSED_HELP),
) -> None:
    """Write case histories (each case with its partner tasks) to files, one per workflow run.

    `cspflow audit replay --from DIR` replays them with no server; they are the JSON the
    Temporal CLI and Web UI read and write.
    """
    from starter.audit.replay import export_histories

    settings, _ = _settings()
    histories = _gather(settings, case_id, all_cases, process, area, closed_since)
    try:
        written = export_histories(histories, out)
    except OSError as error:
        raise InputError(f"cannot write to {out}: {error.strerror or error}") from None
    console = _out()
    for path in written:
        console.print(str(path))
    cases = len({h.workflow_id for h in histories if ".task." not in h.workflow_id})
    console.print(f"Wrote {len(written)} histories of {cases} case(s) to {out}.")


# --------------------------------------------------------------------------------------------


def _gather(
    settings: Settings,
    case_id: str | None,
    all_cases: bool,
    process: str | None,
    area: str | None,
    closed_since: str | None,
) -> list[WorkflowHistory]:
    """Fetch the histories of one case, or of every case the filters select."""
    selecting = all_cases or process is not None or area is not None or closed_since is not None
    if case_id is not None and selecting:
        raise InputError("give either a case id or --all/--process/--area/--closed-since, not both")
    if case_id is None and not selecting:
        raise InputError(
            "say which cases: a case id, --all, --process P, --area A or --closed-since DATE "
            "(or, for replay, --from DIR)"
        )
    since = _date(closed_since) if closed_since is not None else None

    async def go(sessions: Any) -> list[WorkflowHistory]:
        from starter.audit.replay import fetch_case_histories, select_cases

        client = (await _connect(settings)).client
        if case_id is not None:
            return await fetch_case_histories(client, case_id)
        ids = await select_cases(
            client, process=process, area=area, closed_since=since, session_factory=sessions
        )
        if not ids:
            _err().print("No cases match these filters: check them with `cspflow cases`.")
        histories: list[WorkflowHistory] = []
        with _progress(len(ids), "Fetching histories") as advance:
            for ident in ids:
                histories.extend(await fetch_case_histories(client, ident))
                advance()
        return histories

    if case_id is not None:
        return _run(go(None))
    return _run(_records(settings, go))


def _replay(histories: Sequence[WorkflowHistory], keyring: Any, *, show: bool) -> list[Any]:
    from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    from starter.audit.replay import replay_histories

    # sdk-core logs each divergence as a warning; the report below says it in plain words.
    quiet = Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )
    console = _out()

    async def go() -> list[ReplayReport]:
        with _progress(len(histories), "Replaying histories") as advance:

            def reported(report: ReplayReport) -> None:
                advance()
                if show:
                    _say_report(console, report)

            return await replay_histories(histories, keyring, runtime=quiet, on_report=reported)

    return _run(go())


class _progress:
    """A progress bar on stderr for long runs; `with _progress(n, what) as advance: advance()`."""

    def __init__(self, total: int, what: str) -> None:
        self.total = total
        self.what = what
        self.bar: Progress | None = None

    def __enter__(self) -> Callable[[], None]:
        console = _err()
        if self.total < PROGRESS_FROM or not console.is_terminal:
            return lambda: None
        from rich.progress import Progress

        self.bar = Progress(console=console, transient=True)
        self.bar.start()
        task = self.bar.add_task(self.what, total=self.total)
        bar = self.bar
        return lambda: bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _say_report(console: Any, report: ReplayReport) -> None:
    name = f"{report.workflow_id} ({report.workflow_type}, run {report.run_id})"
    if report.ok:
        console.print(f"{name}: replayed cleanly")
    else:
        console.print(f"{name}: DIVERGED: {report.divergence}")


def _say_summary(replayed: int, clean: int, diverged: int) -> None:
    console = _out()
    console.print(
        f"Replayed {replayed} histories against this release: {clean} cleanly, {diverged} diverged."
    )
    if diverged:
        console.print(
            "A case that diverges would fail on its next step once this release is deployed: "
            "put the change behind workflow.patched (README: changing a running workflow), "
            "then replay again."
        )


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--closed-since {shown(text)} is not a date: write it as YYYY-MM-DD, e.g. 2025-04-01"
        ) from None
