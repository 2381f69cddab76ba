"""The local mail catcher of the embedded system: an SMTP server that delivers into a Maildir.

In a rehearsal or on a laptop no notice should reach a real person, yet every one should be
readable: the worker sends to this catcher (CSPFLOW_SMTP_HOST/PORT default to it) and
`cspflow mail` lists what arrived, dated with the workflow's (possibly simulated) time.

Addresses in the reserved `.invalid` top-level domain (RFC 2606) are refused with a permanent
`550`, so a rehearsal can exercise the bad-address escalation to the coordinator.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller

from starter.private_files import FILE_MODE, private_dir

if TYPE_CHECKING:
    from starter.settings import Settings

REFUSED_DOMAIN = "invalid"
"""Recipients in this top-level domain are refused with 550, as a real server refuses a typo."""


class _MaildirHandler:
    """aiosmtpd handler: accept every recipient but `.invalid` ones, file each message."""

    def __init__(self, mail_dir: Path) -> None:
        # Maildir(create=True) skips tmp/new/cur when the folder exists already (an empty
        # data_dir/mail, say), so they are made here.
        # Caught mail holds live answer links and addresses: folders 0700, messages 0600.
        private_dir(mail_dir)
        for sub in ("tmp", "new", "cur"):
            private_dir(mail_dir / sub)
        self._mail_dir = mail_dir
        self._maildir = mailbox.Maildir(mail_dir, create=False)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower().rstrip(".")
        if domain == REFUSED_DOMAIN or domain.endswith("." + REFUSED_DOMAIN):
            return "550 5.1.1 No such user: the .invalid domain never receives mail"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        trace = (
            f"X-Envelope-From: {envelope.mail_from}\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\n"
        ).encode()
        # SMTP lines end in CRLF; a Maildir file, like any local mailbox, uses LF.
        key = self._maildir.add(trace + content.replace(b"\r\n", b"\n"))
        # Maildir.add creates the file 0666 less the umask, and files a new message (no info
        # flags) in new/ under its key.
        os.chmod(self._mail_dir / "new" / key, FILE_MODE)
        return "250 Message accepted for delivery"


class MailCatcher:
    """An SMTP server on (host, port) that files every message in a Maildir at `mail_dir`.

    Runs in its own thread (aiosmtpd's Controller), so it serves a worker in the same process.
    Use `start()`/`stop()` or `with MailCatcher(...) as catcher:`.
    """

    def __init__(self, mail_dir: Path, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.mail_dir = Path(mail_dir)
        self.host = host
        self.port = port
        self._controller = Controller(
            _MaildirHandler(self.mail_dir),
            hostname=host,
            port=port,
            server_hostname="cspflow-mailcatcher",
            enable_SMTPUTF8=True,
        )
        self._running = False

    @classmethod
    def from_settings(cls, settings: Settings) -> MailCatcher:
        """Listen where the worker sends (smtp_host, smtp_port); file into settings.mail_dir."""
        return cls(settings.mail_dir, settings.smtp_host, settings.smtp_port)

    def start(self) -> None:
        """Start listening; raises OSError naming the address when the port is taken."""
        try:
            self._controller.start()
        except OSError as error:
            raise OSError(
                f"the mail catcher cannot listen on {self.host}:{self.port} ({error}): stop "
                "whatever uses the port or set CSPFLOW_SMTP_PORT to another one"
            ) from error
        self._running = True

    def stop(self) -> None:
        """Stop listening; messages already filed stay in the Maildir."""
        if self._running:
            self._controller.stop()
            self._running = False

    def __enter__(self) -> MailCatcher:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# Reading the Maildir (`cspflow mail`, `cspflow mail show ID`)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailSummary:
    """One caught message, as `cspflow mail` lists it."""

    id: str
    date: datetime | None
    from_: str
    to: tuple[str, ...]
    subject: str
    message_id: str


def _open(mail_dir: Path) -> mailbox.Maildir | None:
    path = Path(mail_dir)
    if not (path / "new").is_dir() and not (path / "cur").is_dir():
        return None
    return mailbox.Maildir(path, create=False)


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _date(message: EmailMessage) -> datetime | None:
    value = message.get("Date")
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _summary(key: str, message: EmailMessage) -> MailSummary:
    recipients = getaddresses(
        [str(value) for header in ("To", "Cc") for value in message.get_all(header, [])]
    )
    return MailSummary(
        id=key,
        date=_date(message),
        from_=str(message.get("From", "")),
        to=tuple(address for _, address in recipients if address),
        subject=str(message.get("Subject", "")),
        message_id=str(message.get("Message-ID", "")),
    )


def _sort_key(summary: MailSummary) -> tuple[float, str]:
    return (summary.date.timestamp() if summary.date else float("-inf"), summary.id)


def list_messages(mail_dir: Path) -> list[MailSummary]:
    """List the caught messages, oldest first by their Date header (workflow time)."""
    maildir = _open(mail_dir)
    if maildir is None:
        return []
    summaries = [_summary(key, _parse(maildir.get_bytes(key))) for key in maildir.iterkeys()]
    return sorted(summaries, key=_sort_key)


def _text_body(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    assert isinstance(body, EmailMessage)
    content = body.get_content()
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def get_message(mail_dir: Path, id_or_prefix: str) -> tuple[MailSummary, str]:
    """Return one message's summary and plain-text body, by its id or a unique id prefix.

    Raises LookupError saying what to do when no message, or more than one, matches.
    """
    maildir = _open(mail_dir)
    wanted = id_or_prefix.strip()
    keys = list(maildir.iterkeys()) if maildir is not None else []
    matches = [key for key in keys if key == wanted] or [
        key for key in keys if wanted and key.startswith(wanted)
    ]
    if not matches:
        raise LookupError(
            f"no caught message has an id starting {wanted!r} in {mail_dir}: run `cspflow mail` "
            "to list the ids"
        )
    if len(matches) > 1:
        raise LookupError(
            f"{wanted!r} is the start of {len(matches)} message ids: give more characters of "
            "the id (see `cspflow mail`)"
        )
    assert maildir is not None
    message = _parse(maildir.get_bytes(matches[0]))
    return _summary(matches[0], message), _text_body(message)
