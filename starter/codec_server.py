"""The codec server: Temporal's remote codec protocol over HTTP, behind an access token.

The Temporal Web UI and the `temporal` CLI never hold the payload keys; to show a case's inputs
and results in clear they send the encrypted payloads here (`POST /decode`) and, to start or
signal from the UI, ask for payloads to be encrypted (`POST /encode`). Both take and return
`{"payloads": [...]}` in the protobuf JSON form of `temporalio.api.common.v1.Payloads`; each is
also served under a namespace segment (`/{namespace}/decode`) for the CLI's endpoint templating.
Only a request carrying `Authorization: Bearer <token>` (or, from the Web UI, the sign-in cookie
below) is answered, so only people given the token see personal data (issue 4, "Personal
data"; docs.temporal.io/codec-server).

The browser calls this server from the Web UI's origin, so that origin (the same UI may be
reached as 127.0.0.1 and as localhost), and no other, is allowed by CORS, with credentials.

A browser cannot send the bearer token: the Web UI sends an `Authorization` header only with its
own OIDC access token, and only to an https endpoint. With `cookie_login`, a person who holds the
token signs a browser in once at `/login`; the server sets an HttpOnly, SameSite=Strict cookie
derived from the token, and accepts it in place of the header on requests from an allowed Web UI
origin that ask with credentials (the Web UI's "Include cross-origin credentials" setting).
Cookies belong to a host, not a port, so the UI at 127.0.0.1:8233 sends the cookie set by
127.0.0.1:8081; SameSite=Strict keeps it off requests from any other site, and the Origin check
keeps it off requests from any other page on the same host.

The server is the standard library's asyncio streams and a deliberately small HTTP/1.1 subset
(starter/http_subset.py: one request per connection, Content-Length bodies): it needs no web
framework, and the protocol is two routes (and, for browsers, `/login` and `/logout`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import structlog
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from schemas.errors import CspflowError
from starter.http_subset import (
    MAX_BODY_BYTES,
    MAX_HEADERS,
    HttpError,
    Request,
    error_body,
    read_request,
    write_response,
)

if TYPE_CHECKING:
    from activities.db import SessionFactory

__all__ = [
    "ALLOWED_HEADERS",
    "ALLOWED_METHODS",
    "HEADER_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_HEADERS",
    "OPERATIONS",
    "CodecServer",
    "start_codec_server",
]

log = structlog.get_logger(__name__)

HEADER_TIMEOUT = 10.0
"""Seconds a client has to send its request line, headers and body."""
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"
ALLOWED_METHODS = "POST, OPTIONS"
OPERATIONS = ("encode", "decode")


@dataclass
class CodecServer:
    """A running codec server; `await stop()` (or leave its `async with`) to close it."""

    host: str
    port: int
    _server: asyncio.AbstractServer
    _connections: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The endpoint to give `temporal --codec-endpoint` and the Web UI."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting requests and close the connections still open."""
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    async def __aenter__(self) -> CodecServer:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()


async def start_codec_server(
    codec: PayloadCodec,
    host: str,
    port: int,
    token: str,
    ui_origin: str | Sequence[str] | None,
    *,
    cookie_login: bool = False,
    access_log: SessionFactory | None = None,
) -> CodecServer:
    """Start the codec server on host:port (0 picks a free port) and return its handle.

    `token` is the bearer token every encode and decode request must carry; `ui_origin` is the
    Web UI's origin (e.g. `http://127.0.0.1:8233`), or several, allowed by CORS, or None for CLI
    use only. `cookie_login` serves `/login`, which lets a browser holding the token send a
    cookie instead (see the module docstring).
    """
    if not token:
        raise CspflowError(
            "the codec server needs an access token: set one, or anyone who can reach the port "
            "could read every case's personal data"
        )
    given = [ui_origin] if isinstance(ui_origin, str) else list(ui_origin or ())
    origins = tuple(dict.fromkeys(_check_origin(origin) for origin in given))
    handler = _Handler(codec, token, origins, cookie_login, access_log)
    connections: set[asyncio.Task[None]] = set()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            await handler.serve(reader, writer)
        finally:
            connections.discard(task)

    server = await asyncio.start_server(on_connection, host, port, limit=64 * 1024)
    bound = server.sockets[0].getsockname()
    running = CodecServer(host=host, port=int(bound[1]), _server=server, _connections=connections)
    handler.bound(running.url, running.port)
    log.info("codec_server_started", url=running.url, ui_origins=origins, login=cookie_login)
    return running


def _check_origin(origin: str) -> str:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise CspflowError(
            f"Web UI origin {origin!r} must be scheme://host[:port] with no path, e.g. "
            "http://127.0.0.1:8233"
        )
    return f"{parts.scheme}://{parts.netloc}"


class _Handler:
    def __init__(
        self,
        codec: PayloadCodec,
        token: str,
        ui_origins: tuple[str, ...],
        cookie_login: bool,
        access_log: SessionFactory | None = None,
    ) -> None:
        self._access_log = access_log
        self._operations: dict[str, Callable[[Sequence[Payload]], Awaitable[list[Payload]]]] = {
            "encode": codec.encode,
            "decode": codec.decode,
        }
        self._token = token.encode()
        self._expected = f"Bearer {token}".encode()
        self._ui_origins = ui_origins
        self._cookie_login = cookie_login
        # Derived, so the cookie a browser holds is not the token the CLI is given.
        self._session = hmac.new(self._token, b"cspflow codec browser", hashlib.sha256).hexdigest()
        self._cookie = "cspflow-codec"
        self._url = ""

    def bound(self, url: str, port: int) -> None:
        """Name the cookie for the port: two systems on one host keep their own sessions."""
        self._url = url
        self._cookie = f"cspflow-codec-{port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        origin: str | None = None
        try:
            try:
                request = await asyncio.wait_for(read_request(reader, writer), HEADER_TIMEOUT)
                peer = writer.get_extra_info("peername")
                request.peer = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
                origin = request.headers.get("origin")
                status, headers, body = await self._respond(request)
            except HttpError as error:
                status, headers = error.status, {"Content-Type": "application/json"}
                body = error_body(error.message)
                if error.status == HTTPStatus.UNAUTHORIZED:
                    headers["WWW-Authenticate"] = 'Bearer realm="cspflow codec"'
            except TimeoutError:
                return
            headers.update(self._cors(origin))
            await write_response(writer, status, headers, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(self, request: Request) -> tuple[HTTPStatus, dict[str, str], bytes]:
        route = urlsplit(request.path).path.rstrip("/")
        if self._cookie_login and route in ("/login", "/logout"):
            return self._login(request, route)
        operation = _operation(request.path)
        if request.method == "OPTIONS":
            # A CORS preflight never carries credentials; the real request is checked.
            return HTTPStatus.NO_CONTENT, {"Allow": ALLOWED_METHODS}, b""
        if request.method != "POST":
            raise HttpError(
                HTTPStatus.METHOD_NOT_ALLOWED, f"use POST /{operation} with a JSON body"
            )
        who = self._authorize(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise HttpError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                'send Content-Type: application/json with a body {"payloads": [...]}',
            )
        try:
            payloads = json_format.Parse(request.body, Payloads())
        except (json_format.ParseError, UnicodeDecodeError) as error:
            raise HttpError(
                HTTPStatus.BAD_REQUEST,
                f'the body is not {{"payloads": [...]}} in protobuf JSON form ({error})',
            ) from error
        try:
            result = await self._operations[operation](payloads.payloads)
        except CspflowError as error:
            log.warning("codec_request_failed", operation=operation, error=str(error))
            raise HttpError(HTTPStatus.UNPROCESSABLE_ENTITY, str(error)) from error
        namespace = request.headers.get("x-namespace")
        log.info("codec_request", operation=operation, namespace=namespace, payloads=len(result))
        if operation == "decode" and self._access_log is not None:
            await self._record_decode(request, who, namespace, result)
        body = json_format.MessageToJson(Payloads(payloads=result)).encode()
        return HTTPStatus.OK, {"Content-Type": "application/json"}, body

    async def _record_decode(
        self, request: Request, who: str, namespace: str | None, decoded: list[Payload]
    ) -> None:
        """Write the decode to the access log before the payloads are shown (issue 13).

        The case is the X-Workflow-Id header when the caller sends it, otherwise each case whose
        ids the decoded payloads carry (starter/codec_access.py), otherwise none; who, from where
        and how much are always written. A decode that cannot be logged is refused: nothing is
        shown unlogged.
        """
        from activities.access_log import record_access
        from starter.codec_access import decode_rows

        assert self._access_log is not None
        detail = f"{len(decoded)} payloads, namespace {namespace or 'default'}, from {request.peer}"
        try:
            for case_id, note in decode_rows(request.headers.get("x-workflow-id"), decoded):
                row_detail = f"{detail}; {note}" if note else detail
                await record_access(
                    self._access_log, who, case_id, "codec-decode", detail=row_detail
                )
        except Exception as error:
            log.error("codec_access_log_failed", error=type(error).__name__)
            raise HttpError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "the access log cannot be written, so nothing is decoded: try again later",
            ) from None

    def _authorize(self, request: Request) -> str:
        """Check the token or the browser's sign-in; return who asked, for the access log."""
        given = request.headers.get("authorization", "").encode()
        if hmac.compare_digest(given, self._expected):
            return "codec token (bearer)"
        if self._signed_in_ui(request):
            return f"codec browser sign-in ({request.headers.get('origin')})"
        log.warning("codec_request_refused", reason="missing or wrong access token")
        browser = " or sign this browser in at /login" if self._cookie_login else ""
        raise HttpError(
            HTTPStatus.UNAUTHORIZED,
            "send the codec server's access token as 'Authorization: Bearer <token>' "
            f"(temporal CLI: --codec-auth 'Bearer <token>'){browser}",
        )

    def _signed_in_ui(self, request: Request) -> bool:
        """A browser signed in at /login, asking from an allowed Web UI page."""
        if not self._cookie_login or request.headers.get("origin") not in self._ui_origins:
            return False
        value = _cookies(request.headers.get("cookie", "")).get(self._cookie, "")
        return hmac.compare_digest(value.encode(), self._session.encode())

    def _login(self, request: Request, route: str) -> tuple[HTTPStatus, dict[str, str], bytes]:
        headers = {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'; form-action 'self'",
            "X-Frame-Options": "DENY",
        }
        cookie = f"{self._cookie}={{}}; Path=/; HttpOnly; SameSite=Strict"
        if route == "/logout":
            headers["Set-Cookie"] = cookie.format("") + "; Max-Age=0"
            return HTTPStatus.OK, headers, _page("Signed out", "<p>This browser is signed out.</p>")
        if request.method not in ("GET", "POST"):
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "use GET or POST /login")
        query = request.body.decode("latin-1") if request.method == "POST" else ""
        query = query or urlsplit(request.path).query
        given = parse_qs(query).get("token", [""])[0].strip()
        if not given:
            return HTTPStatus.OK, headers, _page("Sign in", _FORM)
        if not hmac.compare_digest(given.encode(), self._token):
            log.warning("codec_login_refused", reason="wrong access token")
            body = "<p>That is not the codec server's access token.</p>" + _FORM
            return HTTPStatus.UNAUTHORIZED, headers, _page("Sign in", body)
        log.info("codec_login")
        headers["Set-Cookie"] = cookie.format(self._session)
        where = ", ".join(html.escape(origin) for origin in self._ui_origins) or "(none)"
        body = (
            f"<p>This browser is signed in to the codec server {html.escape(self._url)} until it "
            f"closes. The Web UI at {where} may now decode payloads with it.</p><p>In the Web UI "
            "open the Codec Server settings, choose <em>Use my browser setting and ignore "
            f"Cluster-level setting</em>, enter <code>{html.escape(self._url)}</code>, tick "
            "<em>Include cross-origin credentials</em> and Apply.</p>"
        )
        return HTTPStatus.OK, headers, _page("Signed in", body)

    def _cors(self, origin: str | None) -> dict[str, str]:
        headers = {"Vary": "Origin"}
        if origin is not None and origin in self._ui_origins:
            headers.update(
                {
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Credentials": "true",
                    "Access-Control-Allow-Methods": ALLOWED_METHODS,
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "600",
                }
            )
        return headers


_FORM = (
    '<form method="post" action="/login"><label>Access token (the file codec-token in the data '
    'folder) <input type="password" name="token" autocomplete="off" autofocus></label> '
    '<button type="submit">Sign in</button></form>'
)


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{title} - cspflow codec '
        f"server</title><h1>{title}</h1>{body}</html>"
    ).encode()


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value for name, sep, value in pairs if sep}


def _operation(path: str) -> str:
    segments = [s for s in urlsplit(path).path.split("/") if s]
    # /encode, /decode, or /{namespace}/encode for the CLI's endpoint templating.
    if 1 <= len(segments) <= 2 and segments[-1] in OPERATIONS:
        return segments[-1]
    raise HttpError(HTTPStatus.NOT_FOUND, "the codec server answers POST /encode and /decode")
