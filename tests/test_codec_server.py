"""The codec server answers Temporal's remote codec protocol over HTTP, only with the token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from schemas.errors import CspflowError
from starter.codec import EncryptionCodec, KeyRing
from starter.codec_server import CodecServer, start_codec_server

TOKEN = "test-token-4f9c"
UI_ORIGIN = "http://127.0.0.1:8233"
NAME = "Alexandra Testperson"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def plain_structlog() -> None:
    """Log through structlog's defaults: a CLI test may have configured a stream now closed."""
    structlog.reset_defaults()


@pytest.fixture
async def server() -> AsyncIterator[CodecServer]:
    codec = EncryptionCodec(KeyRing.generate("k1"))
    running = await start_codec_server(codec, "127.0.0.1", 0, TOKEN, UI_ORIGIN)
    async with running:
        yield running


@pytest.fixture
async def http(server: CodecServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        yield client


def payloads_json(*texts: str) -> dict[str, object]:
    """A request body in the protobuf JSON form the Web UI and the CLI send."""
    message = Payloads(
        payloads=[
            Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(t).encode())
            for t in texts
        ]
    )
    return json_format.MessageToDict(message)


async def test_encode_then_decode_over_http_returns_the_original(
    http: httpx.AsyncClient,
) -> None:
    """POST /encode then POST /decode gives back exactly the payloads sent."""
    original = payloads_json(NAME, "second")
    encoded = await http.post("/encode", json=original, headers=AUTH)
    assert encoded.status_code == 200
    assert encoded.headers["content-type"] == "application/json"
    assert NAME not in encoded.text
    first = json_format.ParseDict(encoded.json(), Payloads()).payloads[0]
    assert first.metadata["encryption-key-id"] == b"k1"

    decoded = await http.post("/decode", json=encoded.json(), headers=AUTH)
    assert decoded.status_code == 200
    assert decoded.json() == original


async def test_the_namespace_path_form_is_served(http: httpx.AsyncClient) -> None:
    """`/{namespace}/decode` works too, for the CLI's endpoint templating."""
    encoded = await http.post("/default/encode", json=payloads_json(NAME), headers=AUTH)
    decoded = await http.post(
        "/default/decode", json=encoded.json(), headers={**AUTH, "X-Namespace": "default"}
    )
    assert decoded.json() == payloads_json(NAME)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ],
    ids=["no-token", "wrong-token", "no-scheme", "basic-scheme"],
)
@pytest.mark.parametrize("operation", ["encode", "decode"])
async def test_a_request_without_the_token_is_refused(
    http: httpx.AsyncClient, headers: dict[str, str], operation: str
) -> None:
    """Without `Authorization: Bearer <token>` the answer is 401 and no payload."""
    response = await http.post(f"/{operation}", json=payloads_json(NAME), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "payloads" not in response.json()
    assert "Authorization: Bearer <token>" in response.json()["error"]


async def test_the_web_ui_origin_passes_the_cors_preflight(http: httpx.AsyncClient) -> None:
    """The configured Web UI origin, and only it, is allowed, with credentials and our headers."""
    response = await http.options(
        "/decode",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert allowed >= {"authorization", "content-type", "x-namespace"}


async def test_another_origin_gets_no_cors_headers(http: httpx.AsyncClient) -> None:
    """A page from any other origin is not allowed to read the answers."""
    response = await http.options(
        "/decode",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    posted = await http.post(
        "/encode", json=payloads_json(NAME), headers={**AUTH, "Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in posted.headers


async def test_the_cors_headers_come_on_answers_and_refusals(http: httpx.AsyncClient) -> None:
    """The browser can read both a decoded answer and a 401 from the Web UI's origin."""
    ok = await http.post("/encode", json=payloads_json(NAME), headers={**AUTH, "Origin": UI_ORIGIN})
    refused = await http.post("/encode", json=payloads_json(NAME), headers={"Origin": UI_ORIGIN})
    assert ok.headers["access-control-allow-origin"] == UI_ORIGIN
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_a_payload_under_an_unknown_key_is_refused_naming_the_key(
    http: httpx.AsyncClient,
) -> None:
    """Decoding a payload the server has no key for says which key, never returns garbage."""
    [foreign] = await EncryptionCodec(KeyRing.generate("k9")).encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')]
    )
    body = json_format.MessageToDict(Payloads(payloads=[foreign]))
    response = await http.post("/decode", json=body, headers=AUTH)
    assert response.status_code == 422
    assert "key 'k9', which is not in the key ring" in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "content", "status"),
    [
        ("POST", "/encode", b"not json", 400),
        ("POST", "/elsewhere", b"{}", 404),
        ("GET", "/decode", b"", 405),
    ],
)
async def test_malformed_requests_are_answered_with_what_to_do(
    http: httpx.AsyncClient, method: str, path: str, content: bytes, status: int
) -> None:
    """A bad body, path or method gets the right status and a message, not a dropped socket."""
    response = await http.request(
        method, path, content=content, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.json()["error"]


async def test_a_server_without_a_token_is_not_started() -> None:
    """An open codec server would show every case to anyone who can reach its port."""
    codec = EncryptionCodec(KeyRing.generate("k1"))
    with pytest.raises(CspflowError, match="needs an access token"):
        await start_codec_server(codec, "127.0.0.1", 0, "", UI_ORIGIN)


async def test_every_decode_is_written_to_the_access_log(tmp_path: object) -> None:
    """A decode through the codec server is in the access log: who, which case, from where;
    an encode (which shows nothing) is not."""
    from pathlib import Path

    from activities.access_log import list_access
    from activities.db import make_engine, make_session_factory, migrate

    url = f"sqlite+aiosqlite:///{Path(str(tmp_path)) / 'records.db'}"
    await migrate(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    codec = EncryptionCodec(KeyRing.generate("k1"))
    running = await start_codec_server(codec, "127.0.0.1", 0, TOKEN, None, access_log=sessions)
    try:
        async with running, httpx.AsyncClient(base_url=running.url, timeout=5) as client:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            encoded = await client.post("/encode", json=payloads_json("a", "b"), headers=auth)
            assert encoded.status_code == 200
            assert await list_access(sessions) == []
            decoded = await client.post(
                "/default/decode",
                json=encoded.json(),
                headers={**auth, "X-Namespace": "default", "X-Workflow-Id": "ct-north-R-1"},
            )
            assert decoded.status_code == 200
        [entry] = await list_access(sessions)
        assert entry.user == "codec token (bearer)"
        assert entry.case_id == "ct-north-R-1"
        assert entry.view == "codec-decode"
        assert entry.detail == "2 payloads, namespace default, from 127.0.0.1"
    finally:
        await engine.dispose()


async def test_a_decode_without_the_workflow_header_names_the_case_from_the_payloads(
    tmp_path: object,
) -> None:
    """The Web UI sends no X-Workflow-Id: the access log names the case from the case_id and
    task_id fields of the decoded payloads (ids only, never another value), or no case."""
    from pathlib import Path

    from activities.access_log import list_access
    from activities.db import make_engine, make_session_factory, migrate

    url = f"sqlite+aiosqlite:///{Path(str(tmp_path)) / 'records.db'}"
    await migrate(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    codec = EncryptionCodec(KeyRing.generate("k1"))
    task = "ct-north-R-2.task.information.police"
    objects = [
        {"case_id": "ct-north-R-2", "applicant": {"name": NAME}},
        {"answer": {"task_id": task, "case_id": NAME}},
    ]
    body = json_format.MessageToDict(
        Payloads(
            payloads=[
                Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(o).encode())
                for o in objects
            ]
        )
    )
    running = await start_codec_server(codec, "127.0.0.1", 0, TOKEN, None, access_log=sessions)
    try:
        async with running, httpx.AsyncClient(base_url=running.url, timeout=5) as client:
            for sent in (body, payloads_json("no ids here")):
                encoded = await client.post("/encode", json=sent, headers=AUTH)
                decoded = await client.post("/decode", json=encoded.json(), headers=AUTH)
                assert decoded.status_code == 200, decoded.text
        named, unnamed = await list_access(sessions)
        assert named.case_id == "ct-north-R-2"
        assert named.detail == (
            f"2 payloads, namespace default, from 127.0.0.1; ids in payloads: ct-north-R-2, {task}"
        )
        assert (unnamed.case_id, unnamed.detail) == (
            None,
            "1 payloads, namespace default, from 127.0.0.1",
        )
        assert NAME not in repr([named, unnamed])
    finally:
        await engine.dispose()
