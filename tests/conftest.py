"""Fixtures shared by every test: a real SMTP server (aiosmtpd) and the binaries' paths."""

from __future__ import annotations

import email
import email.policy
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiosmtpd.controller import Controller

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
