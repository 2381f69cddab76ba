"""A read-only front for the embedded Temporal Web UI: its write actions are off.

Issue 13. The Web UI of `temporal server start-dev` has no sign-in and offers terminate, reset,
cancel, signal, update, start and batch actions to anyone who opens it. The dev server has no
option to turn them off (its UI configuration is fixed in the CLI: temporalio/cli
`internal/devserver/server.go`, `buildUIServer`), so `cspflow dev` runs that UI on an internal
loopback port and serves this front on the configured one. The front

* answers `GET /api/v1/settings` with every write action marked disabled, so the UI greys its
  buttons out (the settings the temporalio/ui image takes from TEMPORAL_DISABLE_WRITE_ACTIONS
  and its siblings), and
* refuses, with 403, every request to the UI's API that could change something: anything but
  GET, HEAD and OPTIONS, except a Query (`POST .../query/{name}`), which only reads. The flags
  alone would hide buttons; the refusal is what makes the UI read-only.

An operator who wants the write actions turns this front off deliberately with
CSPFLOW_UI_WRITE_ACTIONS=true (docs/security-notes.md). It is no protection against someone who
can reach the Temporal frontend itself: that must be kept to the server (README, "Security
model").

One request per connection, forwarded to the UI as HTTP/1.0, so its answer ends when the
connection closes and never comes chunked; the UI is one person's browser on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus

import structlog

from starter.http_subset import HttpError, Request, read_request, write_response

log = structlog.get_logger(__name__)

SETTINGS_PATH = "/api/v1/settings"
WRITE_SETTINGS = (
    "DisableWriteActions",
    "WorkflowTerminateDisabled",
    "WorkflowCancelDisabled",
    "WorkflowSignalDisabled",
    "WorkflowUpdateDisabled",
    "WorkflowResetDisabled",
    "WorkflowPauseDisabled",
    "BatchActionsDisabled",
    "StartWorkflowDisabled",
    "ActivityCommandsDisabled",
)
"""Settings of the UI server (ui-server `config.Config`) that each turn a write action off."""

READ_METHODS = ("GET", "HEAD", "OPTIONS")
_QUERY = re.compile(r"^/api/v1/namespaces/[^/]+/workflows/[^/]+/query/[^/?]+(\?.*)?$")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
        "expect",
    }
)
UPSTREAM_TIMEOUT = 60.0
REFUSAL = (
    "write actions are turned off in this Temporal Web UI: take the step in the cspflow console "
    "or CLI; an operator can turn them on deliberately with CSPFLOW_UI_WRITE_ACTIONS=true"
)


def allowed(method: str, path: str) -> bool:
    """Whether a request to the UI can only read: GET, HEAD, OPTIONS, or a workflow Query."""
    if method in READ_METHODS:
        return True
    return method == "POST" and bool(_QUERY.match(path))


def read_only_settings(body: bytes) -> bytes:
    """The UI's settings with every write action disabled."""
    settings = json.loads(body)
    for name in WRITE_SETTINGS:
        settings[name] = True
    return json.dumps(settings).encode()


@dataclass
class UiGuard:
    """A running front; `await stop()` to close it."""

    host: str
    port: int
    _server: asyncio.AbstractServer
    _connections: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()


async def start_ui_guard(host: str, port: int, upstream: tuple[str, int]) -> UiGuard:
    """Serve the read-only front on host:port for the Web UI at `upstream` (host, port)."""
    connections: set[asyncio.Task[None]] = set()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            await _serve(reader, writer, upstream)
        finally:
            connections.discard(task)

    server = await asyncio.start_server(on_connection, host, port, limit=64 * 1024)
    bound = server.sockets[0].getsockname()
    return UiGuard(host=host, port=int(bound[1]), _server=server, _connections=connections)


async def _serve(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: tuple[str, int]
) -> None:
    try:
        try:
            request = await asyncio.wait_for(read_request(reader, writer), 10.0)
        except HttpError as error:
            await _json(writer, error.status, error.message)
            return
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return
        if not allowed(request.method, request.path):
            log.warning("ui_write_refused", method=request.method, path=request.path[:200])
            await _json(writer, HTTPStatus.FORBIDDEN, REFUSAL)
            return
        try:
            await _forward(request, writer, upstream)
        except (TimeoutError, OSError, ValueError):
            with contextlib.suppress(ConnectionError):
                await _json(writer, HTTPStatus.BAD_GATEWAY, "the Temporal Web UI did not answer")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _forward(
    request: Request, writer: asyncio.StreamWriter, upstream: tuple[str, int]
) -> None:
    is_settings = request.method == "GET" and request.path.split("?")[0] == SETTINGS_PATH
    up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*upstream), 10.0)
    try:
        lines = [f"{request.method} {request.path} HTTP/1.0", f"Host: {upstream[0]}:{upstream[1]}"]
        for name, value in request.headers.items():
            if name in _HOP_BY_HOP or (is_settings and name == "accept-encoding"):
                continue
            lines.append(f"{name}: {value}")
        if request.body:
            lines.append(f"Content-Length: {len(request.body)}")
        lines.append("Connection: close")
        up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body)
        await up_writer.drain()
        if is_settings:
            answer = await asyncio.wait_for(up_reader.read(), UPSTREAM_TIMEOUT)
            head, _, body = answer.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if status != HTTPStatus.OK:
                writer.write(answer)
            else:
                await write_response(
                    writer,
                    HTTPStatus.OK,
                    {"Content-Type": "application/json", "Cache-Control": "no-store"},
                    read_only_settings(body),
                )
            return
        while chunk := await asyncio.wait_for(up_reader.read(65536), UPSTREAM_TIMEOUT):
            writer.write(chunk)
            await writer.drain()
    finally:
        up_writer.close()
        with contextlib.suppress(ConnectionError):
            await up_writer.wait_closed()


async def _json(writer: asyncio.StreamWriter, status: HTTPStatus, message: str) -> None:
    # The shape of the UI's own API errors (grpc-gateway): code 7 is PERMISSION_DENIED.
    body = json.dumps({"code": 7 if status == HTTPStatus.FORBIDDEN else 14, "message": message})
    await write_response(writer, status, {"Content-Type": "application/json"}, body.encode())
