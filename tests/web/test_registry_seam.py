"""The registry is the only seam: a process defined in the tests alone appears in every face.

`tests/registry/probe_process.py` declares a two-step process (its own schema, workflow, steps
and figure) and nothing outside the tests is edited. Registered, it must be offered by the CLI
(`--help`, `processes`, `example`, `schema`, `check`, `start`, `status`, `step`, `cases`,
`report`) and by the console (start form, case page, step form, figures page), and the
production worker must run it (issue 11).
"""

from __future__ import annotations

import ast
import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from starter import registry
from starter.cli import app as cli_app
from starter.settings import Settings
from starter.web.forms import as_posted, build_form
from tests.registry.probe_process import NAME, ProbeInput, ProbeStatus, definition
from tests.web.conftest import NORTH
from tests.workflows.helpers import eventually

ROOT = Path(__file__).resolve().parents[2]
KEYS = ROOT / "tests" / "histories" / "test-payload-keys.json"


@pytest.fixture
def probe() -> Iterator[registry.ProcessDefinition]:
    registered = registry.register(definition())
    yield registered
    registry.unregister(NAME)


@pytest.fixture
async def probe_worker(
    probe: registry.ProcessDefinition, make_worker: Callable[..., Worker]
) -> AsyncIterator[Worker]:
    """The production worker, built after the probe registered: it must run the probe too."""
    async with make_worker() as running:
        yield running


@pytest.fixture
def cli_env(env: WorkflowEnvironment, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI in this process, pointed at the test's server, records database and keys."""
    for name, value in {
        "CSPFLOW_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "CSPFLOW_DATA_DIR": str(settings.data_dir),
        "CSPFLOW_DIRECTORY_FILE": str(settings.directory_file),
        "CSPFLOW_TASK_QUEUE": settings.task_queue,
        "CSPFLOW_PAYLOAD_KEY_FILE": str(KEYS),
        "CSPFLOW_USER": NORTH,
        "COLUMNS": "200",
    }.items():
        monkeypatch.setenv(name, value)


async def cspflow(*args: str, code: int = 0) -> str:
    """Run a `cspflow` command in a thread (it runs its own event loop) and return stdout."""
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, list(args))
    assert result.exit_code == code, (args, result.output)
    return result.stdout


async def cspflow_json(*args: str) -> Any:
    """A command's JSON output (the worker in this process may log to the same stdout)."""
    out = await cspflow(*args)
    start = (
        min(i for i in (out.find("\n{"), out.find("\n[")) if i >= 0) if out[0] not in "{[" else -1
    )
    return json.JSONDecoder().raw_decode(out[start + 1 :])[0]


async def probe_status(case_id: str) -> ProbeStatus:
    return ProbeStatus.model_validate(await cspflow_json("status", case_id, "--json"))


@pytest.mark.usefixtures("probe_worker", "cli_env")
async def test_a_process_defined_only_in_the_tests_appears_in_every_face(
    probe: registry.ProcessDefinition, browser: Any, tmp_path: Path, today: date
) -> None:
    """Registered, the test-only probe process is listed, started, stepped, counted and shown."""
    assert NAME in await cspflow("--help")
    assert "Probe review" in await cspflow("processes")

    example = await cspflow_json("example", NAME, "--reference", "PROBE-1")
    example["received_on"] = today.isoformat()
    application = tmp_path / "probe.json"
    application.write_text(json.dumps(example))
    assert "reference" in (await cspflow_json("schema", NAME))["properties"]
    assert "note" in (await cspflow_json("schema", NAME, "first"))["properties"]
    assert (await cspflow_json("check", NAME, "--file", str(application), "--json")) == {
        "proceed": True,
        "reasons": ["every probe proceeds"],
    }

    case_id = (await cspflow("start", NAME, "--file", str(application))).strip()
    assert case_id == "probe-north-PROBE-1"
    status = await eventually(lambda: probe_status(case_id), lambda s: s.stage == "first")
    assert status.allowed_steps == ("first_step",)
    shown = await cspflow("status", case_id)
    assert "Probe review: case probe-north-PROBE-1" in shown
    assert "Steps you can take now: first" in shown

    step = tmp_path / "first.json"
    step.write_text(json.dumps({"note": "looked at it"}))
    await cspflow("step", case_id, "first", "--file", str(step))
    status = await probe_status(case_id)
    assert status.stage == "second"
    assert status.decisions[0].decided_by == NORTH

    # The console: start form, case page, step form and figures, with no page code for it.
    coordinator = browser()
    assert (await coordinator.sign_in(NORTH)).status_code == 303
    chooser = await coordinator.http.get("/cases/new")
    assert f'href="/cases/new/{NAME}"' in chooser.text
    form = await coordinator.http.get(f"/cases/new/{NAME}")
    assert form.status_code == 200 and "Start a Probe review case" in form.text
    document = {"area": "north", "reference": "PROBE-2", "received_on": today.isoformat()}
    pairs = as_posted(build_form(ProbeInput.model_json_schema(), document, skip=frozenset()))
    started = await coordinator.submit(f"/cases/new/{NAME}", pairs)
    assert started.status_code == 303, started.text
    second = "probe-north-PROBE-2"
    assert started.headers["location"] == f"/cases/{second}"
    await eventually(lambda: probe_status(second), lambda s: s.stage == "first")
    page = await coordinator.http.get(f"/cases/{second}")
    assert page.status_code == 200 and "Probe review" in page.text
    assert f"/cases/{second}/steps/first_step" in page.text
    stepped = await coordinator.submit(
        f"/cases/{second}/steps/first_step", [("note", "seen through the console")]
    )
    assert stepped.status_code == 303, stepped.text

    finish = tmp_path / "finish.json"
    finish.write_text(json.dumps({"reason": "test finished"}))
    for each in (case_id, second):
        await cspflow("step", each, "finish", "--file", str(finish))

    def both_closed(rows: list[dict[str, Any]]) -> bool:
        return {r["case_id"] for r in rows if r["stage"] == "closed"} == {
            case_id,
            second,
        }

    await eventually(lambda: cspflow_json("cases", "--process", NAME, "--json"), both_closed)

    listed = await cspflow_json("cases", "--process", NAME, "--json")
    assert sorted(row["case_id"] for row in listed) == [case_id, second]
    report = await cspflow_json(
        "report", NAME, "--area", "north", "--year", str(today.year), "--format", "json"
    )
    assert report["probes"] == 2 and report["period_start"] == f"{today.year}-01-01"
    figures = await coordinator.http.get(f"/reports?process={NAME}&area=north&year={today.year}")
    assert figures.status_code == 200 and "Probes received" in figures.text


GENERIC = ["starter/cli", "starter/web", "starter/audit", "starter/runtime.py", "worker.py"]


def _generic_files() -> list[Path]:
    files: list[Path] = []
    for entry in GENERIC:
        path = ROOT / entry
        files.extend(
            sorted(path.rglob("*.py")) + sorted(path.rglob("*.j2")) if path.is_dir() else [path]
        )
    return files


def _names_of_processes() -> list[str]:
    """What would name a process: its name, title, case prefix, and its modules and workflows."""
    words: list[str] = []
    for process in registry.processes():
        module = process.name.replace("-", "_")
        words += [
            process.name,
            process.title.split(" (")[0],
            f"schemas.{module}",
            f"workflows.{module}",
            f"starter.processes.{module}",
            *(workflow.__name__ for workflow in process.workflows()),
            *(
                getattr(workflow, "__temporal_workflow_definition").name
                for workflow in process.workflows()
            ),
        ]
    return words


def test_no_generic_module_names_a_process() -> None:
    """The CLI, console, audit, runtime and worker modules never name a registered process."""
    words = _names_of_processes()
    found = [
        f"{path.relative_to(ROOT)}:{n}: {word}"
        for path in _generic_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for word in words
        if word in line
    ]
    assert not found, "generic modules name a process:\n" + "\n".join(found)


def test_the_scan_finds_a_process_named_in_a_generic_module(tmp_path: Path) -> None:
    """The scan above can fail: a line naming the Community Trigger is caught."""
    words = _names_of_processes()
    line = "from schemas.community_trigger import CaseStatus"
    assert any(word in line for word in words)


def test_activities_never_import_the_faces() -> None:
    """Dependencies point one way: activities/ imports no module of starter/ (house style §1)."""
    found = []
    for path in sorted((ROOT / "activities").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            found += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "starter"
            ]
    assert not found, "\n".join(found)
