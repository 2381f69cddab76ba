"""`cspflow dev` runs the codec server, so payloads can be read in clear only with its token.

Issue 4 ("Personal data"): the embedded default run starts the codec server and points the Web UI
at it. The `temporal` CLI sends the bearer token; a browser, which the Web UI cannot make send a
bearer token, is signed in once at /login and then sends an HttpOnly, SameSite=Strict cookie,
accepted only from the Web UI's origin.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads

from starter import dev
from starter.codec import EncryptionCodec, KeyRing
from starter.codec_server import CodecServer, start_codec_server
from starter.settings import Settings
from tests.conftest import free_port

BIN = Path(sys.executable).parent
READY_TIMEOUT = 60.0
COMMAND_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
CASE_ID = "ct-amber-valley-AV-EXAMPLE-001"
TOKEN = "dev-codec-token-7d1e"
UI = "http://127.0.0.1:8233"


# --------------------------------------------------------------------------------------------
# The token and the server command
# --------------------------------------------------------------------------------------------


def test_the_token_is_made_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The first start writes a random token to codec-token (0600); later starts reuse it."""
    settings = Settings(data_dir=tmp_path)
    token = dev.codec_token(settings)
    assert len(token) >= 40
    path = tmp_path / "codec-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == token
    assert dev.codec_token(settings) == token
    path.chmod(0o644)
    assert dev.codec_token(settings) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_configured_token_wins_and_a_blank_one_is_refused(tmp_path: Path) -> None:
    """CSPFLOW_CODEC_SERVER_TOKEN is used as given, and no file is written; blank is an error."""
    settings = Settings(data_dir=tmp_path, codec_server_token=SecretStr("from-the-environment"))
    assert dev.codec_token(settings) == "from-the-environment"
    assert not (tmp_path / "codec-token").exists()
    with pytest.raises(dev.DevError, match="CSPFLOW_CODEC_SERVER_TOKEN is blank"):
        dev.codec_token(settings.model_copy(update={"codec_server_token": SecretStr("  ")}))


def test_the_dev_server_points_its_web_ui_at_the_codec_server(tmp_path: Path) -> None:
    """`temporal server start-dev` gets --ui-codec-endpoint, loopback, on the configured port;
    the codec server allows the Web UI by 127.0.0.1 and by localhost."""
    settings = Settings(
        data_dir=tmp_path, temporal_address="127.0.0.1:7299", ui_port=8299, codec_server_port=8399
    )
    command = dev.server_command(settings, rehearsal=False)
    at = command.index("--ui-codec-endpoint")
    assert command[at + 1] == "http://127.0.0.1:8399"
    assert dev.ui_origins(settings) == ["http://127.0.0.1:8299", "http://localhost:8299"]


# --------------------------------------------------------------------------------------------
# Signing a browser in
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[CodecServer]:
    codec = EncryptionCodec(KeyRing.generate("k1"))
    running = await start_codec_server(
        codec, "127.0.0.1", 0, TOKEN, [UI, "http://localhost:8233"], cookie_login=True
    )
    async with running:
        yield running


def body(text: str) -> dict[str, Any]:
    message = Payloads(
        payloads=[Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())]
    )
    return json_format.MessageToDict(message)


async def signed_in(server: CodecServer) -> str:
    """Sign in through the form, as a browser does; return the cookie header it then sends."""
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        answer = await http.post("/login", data={"token": TOKEN})
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert TOKEN not in cookie  # the browser holds a derived value, never the CLI's token
    assert answer.headers["cache-control"] == "no-store"
    return cookie.split(";")[0]


async def test_a_signed_in_browser_decodes_from_the_web_ui_only(server: CodecServer) -> None:
    """The cookie opens /encode and /decode to requests from the Web UI's origin, and to none
    from another origin or without one (a script on another page, or curl with a stolen
    cookie, must still have the token)."""
    cookie = await signed_in(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        plain = body("Alexandra Testperson")
        as_ui = {"Cookie": cookie, "Origin": UI}
        encoded = await http.post("/encode", json=plain, headers=as_ui)
        assert encoded.status_code == 200, encoded.text
        assert encoded.headers["access-control-allow-origin"] == UI
        assert encoded.headers["access-control-allow-credentials"] == "true"
        decoded = await http.post(
            "/decode?preserveStorageRefs=true", json=encoded.json(), headers=as_ui
        )
        assert decoded.json() == plain
        localhost = {"Cookie": cookie, "Origin": "http://localhost:8233"}
        assert (
            await http.post("/decode", json=encoded.json(), headers=localhost)
        ).status_code == 200
        for headers in (
            {"Cookie": cookie, "Origin": "http://evil.example"},
            {"Cookie": cookie, "Origin": "http://127.0.0.1:9999"},
            {"Cookie": cookie},
            {"Origin": UI},
            {"Cookie": "cspflow-codec-1=forged", "Origin": UI},
        ):
            refused = await http.post("/decode", json=encoded.json(), headers=headers)
            assert refused.status_code == 401, headers
            assert "/login" in refused.json()["error"]


async def test_login_shows_a_form_refuses_a_wrong_token_and_logout_clears(
    server: CodecServer,
) -> None:
    """GET /login is a form (the token never goes in an address); a wrong token sets nothing;
    /logout expires the cookie. The query form works too, for a script."""
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        form = await http.get("/login")
        assert form.status_code == 200 and 'type="password"' in form.text
        assert "set-cookie" not in form.headers
        wrong = await http.post("/login", data={"token": "guess"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        by_query = await http.get("/login", params={"token": TOKEN})
        assert by_query.status_code == 200 and "set-cookie" in by_query.headers
        assert server.url in by_query.text and "Include cross-origin credentials" in by_query.text
        out = await http.get("/logout")
        assert "Max-Age=0" in out.headers["set-cookie"]


async def test_without_cookie_login_there_is_no_login_page() -> None:
    """A codec server started for the CLI only (the default) answers bearer tokens only."""
    codec = EncryptionCodec(KeyRing.generate("k1"))
    running = await start_codec_server(codec, "127.0.0.1", 0, TOKEN, UI)
    async with running, httpx.AsyncClient(base_url=running.url, timeout=5) as http:
        assert (await http.get("/login", params={"token": TOKEN})).status_code == 404


# --------------------------------------------------------------------------------------------
# The whole embedded system, as a user runs it
# --------------------------------------------------------------------------------------------


class Dev:
    """`cspflow dev` running in its own process, and the environment to talk to it."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.data_dir = tmp_path / "data"
        self.temporal = f"127.0.0.1:{free_port()}"
        self.ui_port = free_port()
        self.codec_port = free_port()
        self.env = {
            **os.environ,
            "CSPFLOW_DATA_DIR": str(self.data_dir),
            "CSPFLOW_TEMPORAL_ADDRESS": self.temporal,
            "CSPFLOW_SMTP_PORT": str(free_port()),
            "CSPFLOW_UI_PORT": str(self.ui_port),
            "CSPFLOW_CODEC_SERVER_PORT": str(self.codec_port),
            "CSPFLOW_USER": "coordinator@example.org",
            "CSPFLOW_LOG_FORMAT": "json",
        }
        for name in ("CSPFLOW_DATABASE_URL", "CSPFLOW_CODEC_SERVER_TOKEN"):
            self.env.pop(name, None)
        self.stderr = tmp_path / "dev.stderr"
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    @property
    def codec_url(self) -> str:
        return f"http://127.0.0.1:{self.codec_port}"

    def output(self) -> str:
        return "".join(self.lines)

    def diagnostics(self) -> str:
        log = self.stderr.read_text(errors="replace")[-4000:]
        return f"--- cspflow dev stdout ---\n{self.output()}\n--- stderr (tail) ---\n{log}"

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            command,
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        assert result.returncode == 0, (
            f"{' '.join(command)} exited {result.returncode}\nstdout:\n{result.stdout}\n"
            f"stderr:\n{result.stderr}\n{self.diagnostics()}"
        )
        return result

    def started_input(self, *codec: str) -> str:
        """The case's input as `temporal workflow show` prints it (decoded when `codec` says)."""
        shown = self.run(
            str(BIN / "temporal"), "workflow", "show", "--address", self.temporal,
            "--workflow-id", CASE_ID, "--output", "json", *codec,
        )  # fmt: skip
        started = json.loads(shown.stdout)["events"][0]["workflowExecutionStartedEventAttributes"]
        return base64.b64decode(started["input"]["payloads"][0]["data"]).decode(errors="replace")


@pytest.fixture
def running_dev(tmp_path: Path) -> Iterator[Dev]:
    """`cspflow dev` (normal mode) on free ports in its own data folder; always stopped."""
    system = Dev(tmp_path)
    with system.stderr.open("w") as stderr:
        process = subprocess.Popen(
            [str(BIN / "cspflow"), "dev"],
            env=system.env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
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
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_cspflow_dev_serves_payloads_in_clear_only_with_the_codec_token(running_dev: Dev) -> None:
    """`cspflow dev` starts the codec server with a generated token, points the Web UI at it
    and prints the exact `temporal workflow show` command; that command shows a case's input
    in clear, and without the codec the input stays encrypted; Ctrl-C stops it cleanly."""
    system = running_dev
    banner = system.output()
    token_file = system.data_dir / "codec-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert f"Codec server      {system.codec_url}" in banner
    assert f"--codec-endpoint {system.codec_url}" in banner
    assert '--codec-auth "Bearer $(cat data/codec-token)"' in banner
    assert token not in banner
    state = json.loads((system.data_dir / "dev.json").read_text())
    assert state["codec_url"] == system.codec_url

    # The Web UI was told where the codec server is.
    ui_settings = httpx.get(f"http://127.0.0.1:{system.ui_port}/api/v1/settings", timeout=10)
    assert ui_settings.json()["Codec"]["Endpoint"] == system.codec_url

    # The daily archive schedule was created, and closed cases are kept for the configured 30
    # days (the dev server's own default is 24 hours), so they are archived before deletion.
    system.run(
        str(BIN / "temporal"), "schedule", "describe", "--address", system.temporal,
        "--schedule-id", "cspflow-archive",
    )  # fmt: skip
    namespace = system.run(
        str(BIN / "temporal"), "operator", "namespace", "describe", "--address", system.temporal,
        "--output", "json", "default",
    )  # fmt: skip
    assert json.loads(namespace.stdout)["config"]["workflowExecutionRetentionTtl"] == "2592000s"

    cspflow = str(BIN / "cspflow")
    application = system.run(cspflow, "example", "community-trigger").stdout
    name = json.loads(application)["applicant"]["name"]
    (system.cwd / "application.json").write_text(application)
    assert (
        system.run(
            cspflow, "start", "community-trigger", "--file", "application.json"
        ).stdout.strip()
        == CASE_ID
    )

    clear = system.started_input(
        "--codec-endpoint", system.codec_url, "--codec-auth", f"Bearer {token}"
    )
    assert name in clear and CASE_ID in clear
    assert name not in system.started_input()

    assert system.process is not None
    system.process.send_signal(signal.SIGINT)
    assert system.process.wait(STOP_TIMEOUT) == 0, system.diagnostics()
    assert "Stopped." in system.output()
    assert not (system.data_dir / "dev.json").exists()
    assert dev._port_free("127.0.0.1", system.codec_port)
