"""A deliberately small HTTP/1.1 subset over asyncio streams, for cspflow's two local servers.

The codec server (starter/codec_server.py) and the Web UI's read-only front (starter/ui_guard.py)
each answer one request per connection on loopback or behind a token, so they need no web
framework: a request line, at most MAX_HEADERS headers, a body sent with Content-Length (never
chunked), and a response that closes the connection. What a request may not be is refused as an
HttpError carrying the status and a sentence saying what to send instead.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from http import HTTPStatus

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest request accepted: a page of history holds many payloads of up to 2 MB each."""
MAX_HEADERS = 100


class HttpError(Exception):
    """A request refused: the status to answer with and what to send instead."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    """One request as read off the connection; `peer` is filled in by the server."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    peer: str = ""


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request:
    """Read one request: its line, headers and Content-Length body, within the limits above."""
    try:
        line = await reader.readuntil(b"\r\n")
    except asyncio.LimitOverrunError as error:
        raise HttpError(HTTPStatus.REQUEST_URI_TOO_LONG, "request line too long") from error
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(HTTPStatus.BAD_REQUEST, "not an HTTP/1.x request")
    method, path, _ = parts
    headers: dict[str, str] = {}
    for _count in range(MAX_HEADERS + 1):
        try:
            raw = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError as error:
            raise HttpError(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "header too long"
            ) from error
        if raw == b"\r\n":
            break
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed header line")
        headers[name.strip().lower()] = value.strip()
    else:
        raise HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many headers")
    body = b""
    if method == "POST":
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError as error:
            raise HttpError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from error
        if length < 0 or length > MAX_BODY_BYTES:
            raise HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body is {length} bytes; at most {MAX_BODY_BYTES} are accepted",
            )
        if headers.get("expect", "").lower() == "100-continue":
            # curl asks before sending a body over 1 KiB, and would otherwise wait a second.
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        body = await reader.readexactly(length)
    return Request(method=method, path=path, headers=headers, body=body)


async def write_response(
    writer: asyncio.StreamWriter, status: HTTPStatus, headers: dict[str, str], body: bytes
) -> None:
    """Write the whole response and say the connection closes after it."""
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    headers = {**headers, "Content-Length": str(len(body)), "Connection": "close"}
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


def error_body(message: str) -> bytes:
    """The JSON body of a refusal: `{"error": "..."}`."""
    return json.dumps({"error": message}).encode()
