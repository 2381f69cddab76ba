"""`cspflow dev` keeps its data folder private and its Temporal Web UI read-only (issue 13).

One real `cspflow dev`, started under the usual umask 022, as a user starts it: a case is
started (so mail is caught), bundled for audit, and then every folder under the data folder must
be 0700 and every file 0600 (records.db and its -wal/-shm, temporal.db, mail, the bundle, the
generated password and keys). The embedded Web UI's settings say every write action is off, and
its API refuses a write (terminate) while reads still work.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_dev_codec import BIN, CASE_ID, READY_TIMEOUT, STOP_TIMEOUT, Dev


@pytest.fixture(scope="module")
def dev_under_umask_022(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """`cspflow dev` (normal mode) started with umask 022; always stopped."""
    system = Dev(tmp_path_factory.mktemp("private-data"))
    with system.stderr.open("w") as stderr:
        process = subprocess.Popen(
            [str(BIN / "cspflow"), "dev"],
            env=system.env,
            cwd=system.cwd,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            umask=0o022,
        )
    system.process = process
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(
        target=lambda: system.lines.extend(iter(stdout.readline, "")), daemon=True
    ).start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while "Press Ctrl-C to stop." not in system.output():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`cspflow dev` did not become ready\n{system.diagnostics()}")
            time.sleep(0.2)
        yield system
    finally:
        if process.poll() is None:
            process.send_signal(2)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def modes(root: Path) -> dict[str, str]:
    """Every folder and file under `root` (itself included) with its permission bits, in octal."""
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if not path.is_symlink():
                found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


def _served(url: str) -> httpx.Response:
    """GET `url` from the Web UI, waiting out its start: 503 until it listens behind the guard,
    and 503 ("connection refused") while its own gRPC connection to the dev server, first tried
    before the frontend listened, waits out its reconnect backoff (seen in 2 of 23 runs)."""
    deadline = time.monotonic() + 60
    while (response := httpx.get(url, timeout=10)).status_code == 503:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.5)
    return response


def test_the_web_ui_has_its_write_actions_off(dev_under_umask_022: Dev) -> None:
    """GET /api/v1/settings says every write action is disabled; a terminate is refused."""
    ui = f"http://127.0.0.1:{dev_under_umask_022.ui_port}"
    settings = _served(f"{ui}/api/v1/settings")
    assert settings.status_code == 200, settings.text
    shown = settings.json()
    assert shown["DisableWriteActions"] is True
    for name in (
        "WorkflowTerminateDisabled",
        "WorkflowResetDisabled",
        "BatchActionsDisabled",
        "WorkflowSignalDisabled",
        "WorkflowCancelDisabled",
        "WorkflowUpdateDisabled",
    ):
        assert shown[name] is True, name
    assert shown["Codec"]["Endpoint"] == dev_under_umask_022.codec_url
    listed = _served(f"{ui}/api/v1/namespaces/default/workflows")
    assert listed.status_code == 200, listed.text
    terminate = httpx.post(
        f"{ui}/api/v1/namespaces/default/workflows/{CASE_ID}/terminate",
        json={"reason": "by the Web UI"},
        timeout=10,
    )
    assert terminate.status_code == 403
    assert "CSPFLOW_UI_WRITE_ACTIONS" in terminate.json()["message"]
    page = httpx.get(f"{ui}/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_every_file_in_the_data_folder_is_the_owners_only(dev_under_umask_022: Dev) -> None:
    """Under umask 022, the data folder and its folders are 0700 and every file is 0600."""
    system = dev_under_umask_022
    cspflow = str(BIN / "cspflow")
    (system.cwd / "application.json").write_text(
        system.run(cspflow, "example", "community-trigger").stdout
    )
    system.run(cspflow, "start", "community-trigger", "--file", "application.json")
    mail = system.data_dir / "mail" / "new"
    deadline = time.monotonic() + 30
    while not (mail.is_dir() and any(mail.iterdir())):
        assert time.monotonic() < deadline, f"no mail was caught\n{system.diagnostics()}"
        time.sleep(0.2)
    system.run(cspflow, "audit", "bundle", CASE_ID, "--out", str(system.data_dir / "bundle"))

    found = modes(system.data_dir)
    for expected in (
        "records.db",
        "temporal.db",
        "web-password",
        "codec-token",
        "payload-keys.json",
        "web-secret",
        "dev.json",
        "temporal.log",
        "bundle/manifest.json",
    ):
        assert expected in found, f"{expected} not in {sorted(found)}"
    assert any(name.startswith("mail/new/") for name in found)
    assert any(name.startswith("records.db-") for name in found), "records.db runs in WAL mode"
    wrong = {
        name: mode
        for name, mode in found.items()
        if mode != ("0o700" if (system.data_dir / name).is_dir() else "0o600")
    }
    assert not wrong, wrong
