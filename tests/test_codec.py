"""Every payload is encrypted at rest with a named, rotatable key (issue 4, "Personal data")."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import structlog
from pydantic import BaseModel
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from starter.codec import (
    ENV_VAR,
    EncryptionCodec,
    KeyRing,
    KeyRingError,
    PayloadDecryptionError,
    UnknownKeyError,
    data_converter,
    is_encrypted,
)
from starter.codec_server import start_codec_server
from tests.conftest import TEMPORAL_CLI, TEMPORAL_TEST_SERVER
from tests.workflows.helpers import eventually

NAME = "Alexandra Testperson"
DATE_OF_BIRTH = date(1987, 3, 14)
ADDRESS = "12 Acacia Avenue, Exampletown EX1 2MP"
PERSONAL = (NAME, DATE_OF_BIRTH.isoformat(), ADDRESS)


class Person(BaseModel):
    """A test person, as a case input would carry one."""

    name: str
    date_of_birth: date
    address: str


@workflow.defn(name="CodecTestEcho")
class EchoWorkflow:
    """Return the person it was given."""

    @workflow.run
    async def run(self, person: Person) -> Person:
        return person


@workflow.defn(name="CodecTestAwaitNote")
class AwaitNoteWorkflow:
    """Wait for a note about the person, then return both: a case that spans a key rotation."""

    def __init__(self) -> None:
        self.note: str | None = None

    @workflow.run
    async def run(self, person: Person) -> str:
        await workflow.wait_condition(lambda: self.note is not None)
        return f"{person.name}: {self.note}"

    @workflow.signal
    def add_note(self, note: str) -> None:
        self.note = note


@workflow.defn(name="CodecTestFail")
class FailWorkflow:
    """Fail with a message that names the person, as a careless error message would."""

    @workflow.run
    async def run(self, person: Person) -> None:
        raise ApplicationError(f"no postal address for {person.name}", non_retryable=True)


WORKFLOWS = [EchoWorkflow, AwaitNoteWorkflow, FailWorkflow]
RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "pydantic", "pydantic_core", "annotated_types", "starter", "tests", "cryptography"
    )
)
PERSON = Person(name=NAME, date_of_birth=DATE_OF_BIRTH, address=ADDRESS)


@pytest.fixture(autouse=True)
def plain_structlog() -> None:
    """Log through structlog's defaults: a CLI test may have configured a stream now closed."""
    structlog.reset_defaults()


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


# Key ring ------------------------------------------------------------------------------------


def test_a_key_ring_round_trips_through_its_json_form() -> None:
    """A key ring written as JSON reads back with the same keys and current key id."""
    ring = KeyRing.generate("k1")
    ring.add("k2")
    again = KeyRing.from_json(ring.to_json())
    assert again.current == "k2"
    assert again.key_ids == ("k1", "k2")
    assert again.key("k1") == ring.key("k1")
    assert "k1" in again and "k3" not in again


def test_a_key_ring_loads_from_the_environment_before_the_key_file(tmp_path: Path) -> None:
    """CSPFLOW_PAYLOAD_KEYS wins over the key file; with neither there is no key ring."""
    from_file = KeyRing.generate("file-key")
    from_env = KeyRing.generate("env-key")
    key_file = tmp_path / "keys.json"
    from_file.write(key_file)
    assert key_file.stat().st_mode & 0o777 == 0o600
    loaded = KeyRing.load(key_file, environ={ENV_VAR: from_env.to_json()})
    assert loaded is not None and loaded.current == "env-key"
    loaded = KeyRing.load(key_file, environ={})
    assert loaded is not None and loaded.current == "file-key"
    assert KeyRing.load(None, environ={}) is None


def test_a_key_of_the_wrong_size_is_refused_naming_its_key_id() -> None:
    """A key that is not 32 bytes is refused, and the error names the key id and the fix."""
    document = {
        "current": "k1",
        "keys": {"k1": base64.b64encode(b"x" * 16).decode()},
    }
    with pytest.raises(KeyRingError, match=r"key 'k1' is 16 bytes, not 32"):
        KeyRing.from_json(json.dumps(document))


def test_a_current_key_id_without_a_key_is_refused() -> None:
    """The current key id must be one of the keys held."""
    document = {"current": "k9", "keys": {"k1": base64.b64encode(b"x" * 32).decode()}}
    with pytest.raises(KeyRingError, match=r"current key id 'k9' is not among the keys \(k1\)"):
        KeyRing.from_json(json.dumps(document), source="key file keys.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"keys": {}}', 'no "current"'),
        ('{"current": "k1", "keys": {"k1": "%%%"}}', "key 'k1' .* not valid base64"),
    ],
)
def test_a_malformed_key_ring_says_what_is_wrong(text: str, message: str) -> None:
    """Every malformed key ring is refused with a message saying what to correct."""
    with pytest.raises(KeyRingError, match=message):
        KeyRing.from_json(text)


def test_a_key_id_cannot_be_reused_for_another_key() -> None:
    """Reusing a key id with new bytes would orphan every payload encrypted with the old key."""
    ring = KeyRing.generate("k1")
    with pytest.raises(KeyRingError, match="'k1' is already in the key ring"):
        ring.add("k1")


def test_a_key_ring_repr_shows_no_key() -> None:
    """The repr (which may reach a log or a traceback) names key ids, never key bytes."""
    ring = KeyRing.generate("k1")
    encoded = base64.b64encode(ring.key("k1")).decode()
    assert encoded not in repr(ring)
    assert "k1" in repr(ring)


# Codec ---------------------------------------------------------------------------------------


async def test_a_payload_round_trips_through_the_codec() -> None:
    """Decoding an encoded payload gives back exactly the original payload."""
    codec = EncryptionCodec(KeyRing.generate("k1"))
    original = [payload(NAME), payload("second")]
    encoded = await codec.encode(original)
    assert await codec.decode(encoded) == original


async def test_an_encrypted_payload_is_tagged_with_its_key_id_and_hides_the_data() -> None:
    """The metadata names the key id and cipher; the data holds no trace of the original."""
    codec = EncryptionCodec(KeyRing.generate("k1"))
    [encoded] = await codec.encode([payload(NAME)])
    assert encoded.metadata["encoding"] == b"binary/encrypted"
    assert encoded.metadata["encryption-key-id"] == b"k1"
    assert encoded.metadata["encryption-cipher"] == b"AES-256-GCM"
    assert NAME.encode() not in encoded.SerializeToString()
    assert b"json/plain" not in encoded.SerializeToString()
    [again] = await codec.encode([payload(NAME)])
    assert again.data != encoded.data, "a fresh nonce per payload"


async def test_after_rotation_old_payloads_decrypt_and_new_ones_use_the_new_key() -> None:
    """A payload encrypted under k1 still decrypts once k2 is current; new ones use k2."""
    ring = KeyRing.generate("k1")
    codec = EncryptionCodec(ring)
    [old] = await codec.encode([payload(NAME)])
    ring.add("k2")
    [new] = await codec.encode([payload(NAME)])
    assert old.metadata["encryption-key-id"] == b"k1"
    assert new.metadata["encryption-key-id"] == b"k2"
    assert await codec.decode([old, new]) == [payload(NAME), payload(NAME)]


async def test_a_payload_whose_key_is_missing_is_an_error_naming_the_key_id() -> None:
    """Without the key a payload names, decoding fails and says which key to add."""
    [encoded] = await EncryptionCodec(KeyRing.generate("k1")).encode([payload(NAME)])
    with pytest.raises(UnknownKeyError) as raised:
        await EncryptionCodec(KeyRing.generate("k2")).decode([encoded])
    assert str(raised.value) == (
        "payload encrypted with key 'k1', which is not in the key ring: add it to "
        "CSPFLOW_PAYLOAD_KEYS or the key file"
    )
    assert raised.value.key_id == "k1"


async def test_a_wrong_key_under_the_right_key_id_is_an_error_not_garbage() -> None:
    """A different key held under the same id fails authentication, naming the key id."""
    [encoded] = await EncryptionCodec(KeyRing.generate("k1")).encode([payload(NAME)])
    with pytest.raises(PayloadDecryptionError, match="key 'k1' failed authentication"):
        await EncryptionCodec(KeyRing.generate("k1")).decode([encoded])


@pytest.mark.parametrize("position", [0, 12, 20, -1])
async def test_a_changed_byte_is_an_error_naming_the_key_id(position: int) -> None:
    """Any changed byte (nonce, ciphertext or tag) fails authentication; nothing is returned."""
    codec = EncryptionCodec(KeyRing.generate("k1"))
    [encoded] = await codec.encode([payload(NAME)])
    data = bytearray(encoded.data)
    data[position] ^= 0x01
    encoded.data = bytes(data)
    with pytest.raises(PayloadDecryptionError, match="key 'k1' failed authentication") as raised:
        await codec.decode([encoded])
    assert raised.value.key_id == "k1"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def test_a_payload_relabelled_with_another_key_id_fails_authentication() -> None:
    """The key id is authenticated data: moving a payload to another key id is detected."""
    ring = KeyRing.generate("k1")
    ring.add("k2", key=ring.key("k1"))
    codec = EncryptionCodec(ring)
    [encoded] = await codec.encode([payload(NAME)])
    encoded.metadata["encryption-key-id"] = b"k1"
    with pytest.raises(PayloadDecryptionError, match="key 'k1' failed authentication"):
        await codec.decode([encoded])


async def test_a_truncated_payload_is_an_error_naming_the_key_id() -> None:
    """A payload too short to hold a nonce and a tag is refused."""
    codec = EncryptionCodec(KeyRing.generate("k1"))
    [encoded] = await codec.encode([payload(NAME)])
    encoded.data = encoded.data[:10]
    with pytest.raises(PayloadDecryptionError, match="key 'k1' is 10 bytes, too short"):
        await codec.decode([encoded])


async def test_a_payload_that_was_never_encrypted_passes_through() -> None:
    """Histories written before encryption was switched on still read."""
    codec = EncryptionCodec(KeyRing.generate("k1"))
    plain = payload(NAME)
    assert not is_encrypted(plain)
    assert await codec.decode([plain]) == [plain]


def test_without_a_key_ring_the_converter_is_the_plain_pydantic_one() -> None:
    """No key ring configured: payloads are not encrypted (the embedded default until keyed)."""
    assert data_converter(None) is pydantic_data_converter
    encrypting = data_converter(KeyRing.generate("k1"))
    assert isinstance(encrypting.payload_codec, EncryptionCodec)
    assert encrypting.payload_converter_class is pydantic_data_converter.payload_converter_class


# Whole workflows on the time-skipping server -------------------------------------------------


@pytest.fixture(scope="module")
def keyring() -> KeyRing:
    return KeyRing.generate("k1")


@pytest.fixture(scope="module")
async def env(keyring: KeyRing) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server whose client encrypts every payload with `keyring`."""
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(keyring),
        test_server_existing_path=str(TEMPORAL_TEST_SERVER),
    )
    async with environment:
        yield environment


def client_for(env: WorkflowEnvironment, keyring: KeyRing | None) -> Client:
    """Another client of the same server, encrypting with `keyring` (or not at all)."""
    return Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=data_converter(keyring),
    )


async def raw_history(env: WorkflowEnvironment, workflow_id: str) -> WorkflowHistory:
    """The history exactly as the server stores it, read by a client holding no key."""
    return await client_for(env, None).get_workflow_handle(workflow_id).fetch_history()


def personal_details_in(history: WorkflowHistory) -> list[str]:
    """Which of the test person's details appear anywhere in the stored history."""
    raw = History(events=history.events).SerializeToString()
    text = history.to_json()
    return [d for d in PERSONAL if d.encode() in raw or d in text]


def key_ids_in(history: WorkflowHistory, event_type: EventType.ValueType) -> set[bytes]:
    """The key ids of the payloads of the history's events of one type."""
    found: set[bytes] = set()
    for event in history.events:
        if event.event_type != event_type:
            continue
        if event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payloads = event.workflow_execution_started_event_attributes.input.payloads
        elif event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            payloads = event.workflow_execution_signaled_event_attributes.input.payloads
        else:
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
        found |= {p.metadata["encryption-key-id"] for p in payloads}
    return found


async def test_a_workflow_stores_no_personal_detail_in_its_history(
    env: WorkflowEnvironment,
) -> None:
    """The raw history holds no name, date of birth or address; the keyed client reads them."""
    workflow_id = f"codec-echo-{uuid.uuid4().hex[:8]}"
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=WORKFLOWS, workflow_runner=RUNNER
    ):
        result = await env.client.execute_workflow(
            EchoWorkflow.run,
            PERSON,
            id=workflow_id,
            task_queue=task_queue,
            memo={"applicant": NAME},
        )
    assert result == PERSON
    history = await raw_history(env, workflow_id)
    assert personal_details_in(history) == []
    assert key_ids_in(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) == {b"k1"}
    assert key_ids_in(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) == {b"k1"}


async def test_without_the_codec_the_same_workflow_stores_personal_details(
    env: WorkflowEnvironment,
) -> None:
    """The control for the test above: unencrypted, every detail is found in the history."""
    plain = client_for(env, None)
    workflow_id = f"codec-plain-{uuid.uuid4().hex[:8]}"
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(plain, task_queue=task_queue, workflows=WORKFLOWS, workflow_runner=RUNNER):
        await plain.execute_workflow(
            EchoWorkflow.run, PERSON, id=workflow_id, task_queue=task_queue
        )
    assert personal_details_in(await raw_history(env, workflow_id)) == list(PERSONAL)


async def test_a_failure_message_naming_a_person_is_encrypted_too(
    env: WorkflowEnvironment,
) -> None:
    """A workflow's error message is stored encrypted; the keyed client still reads it."""
    workflow_id = f"codec-fail-{uuid.uuid4().hex[:8]}"
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=WORKFLOWS, workflow_runner=RUNNER
    ):
        with pytest.raises(WorkflowFailureError) as raised:
            await env.client.execute_workflow(
                FailWorkflow.run, PERSON, id=workflow_id, task_queue=task_queue
            )
    assert isinstance(raised.value.cause, ApplicationError)
    assert raised.value.cause.message == f"no postal address for {NAME}"
    assert personal_details_in(await raw_history(env, workflow_id)) == []


async def test_a_case_started_under_key_1_finishes_and_replays_after_key_2_becomes_current(
    env: WorkflowEnvironment,
) -> None:
    """Rotation mid-case: k1 inputs still decrypt, later payloads use k2, and replay is clean."""
    workflow_id = f"codec-rotation-{uuid.uuid4().hex[:8]}"
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    before = KeyRing.generate("k1")
    under_k1 = client_for(env, before)
    # No sticky cache, so the next worker takes the case up at once after this one stops.
    async with Worker(
        under_k1,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=RUNNER,
        max_cached_workflows=0,
    ):
        handle = await under_k1.start_workflow(
            AwaitNoteWorkflow.run, PERSON, id=workflow_id, task_queue=task_queue
        )
        await eventually(
            handle.fetch_history,
            lambda h: any(
                e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in h.events
            ),
            what="first workflow task",
        )

    after = KeyRing.from_json(before.to_json())
    after.add("k2")
    under_k2 = client_for(env, after)
    async with Worker(under_k2, task_queue=task_queue, workflows=WORKFLOWS, workflow_runner=RUNNER):
        await under_k2.get_workflow_handle(workflow_id).signal(
            AwaitNoteWorkflow.add_note, "consulted"
        )
        result = await under_k2.get_workflow_handle(workflow_id).result()
    assert result == f"{NAME}: consulted"

    history = await raw_history(env, workflow_id)
    assert personal_details_in(history) == []
    assert key_ids_in(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) == {b"k1"}
    assert key_ids_in(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == {b"k2"}
    assert key_ids_in(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) == {b"k2"}

    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=data_converter(after), workflow_runner=RUNNER
    )
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None

    only_k2 = KeyRing({"k2": after.key("k2")}, current="k2")
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=data_converter(only_k2), workflow_runner=RUNNER
    )
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    # The workflow task failure's message is itself encrypted; its type names the cause.
    assert replayed.replay_failure is not None
    assert "UnknownKeyError" in str(replayed.replay_failure)


async def test_reading_a_case_without_its_key_names_the_key(env: WorkflowEnvironment) -> None:
    """A client whose key ring lacks the case's key gets an error naming it, not the data."""
    workflow_id = f"codec-nokey-{uuid.uuid4().hex[:8]}"
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=WORKFLOWS, workflow_runner=RUNNER
    ):
        await env.client.execute_workflow(
            EchoWorkflow.run,
            PERSON,
            id=workflow_id,
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=1),
        )
    stranger = client_for(env, KeyRing.generate("k-other"))
    with pytest.raises(UnknownKeyError, match="key 'k1', which is not in the key ring"):
        await stranger.get_workflow_handle(workflow_id).result()


async def test_the_temporal_cli_shows_a_case_in_clear_only_through_the_codec_server(
    env: WorkflowEnvironment, keyring: KeyRing
) -> None:
    """`temporal workflow show --codec-endpoint --codec-auth` decodes; without them it cannot."""
    workflow_id = f"codec-cli-{uuid.uuid4().hex[:8]}"
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=WORKFLOWS, workflow_runner=RUNNER
    ):
        await env.client.execute_workflow(
            EchoWorkflow.run, PERSON, id=workflow_id, task_queue=task_queue
        )
    base = [
        str(TEMPORAL_CLI), "workflow", "show", "--workflow-id", workflow_id,
        "--address", env.client.service_client.config.target_host, "--output", "json",
    ]  # fmt: skip

    async def show(*extra: str) -> str:
        process = await asyncio.create_subprocess_exec(
            *base, *extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, err.decode()
        events = json.loads(out)["events"]
        started = events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
        return base64.b64decode(started["data"]).decode(errors="replace")

    token = "cli-token"
    codec = EncryptionCodec(keyring)
    async with await start_codec_server(codec, "127.0.0.1", 0, token, None) as server:
        shown = await show("--codec-endpoint", server.url, "--codec-auth", f"Bearer {token}")
    assert Person.model_validate_json(shown) == PERSON
    assert NAME not in await show()


def test_a_key_ring_with_a_key_written_twice_is_refused_naming_it() -> None:
    """Which key is current must be unambiguous: a duplicate `current` is refused, not the last
    one silently taken (issue 12, defect 9)."""
    ring = KeyRing.generate("k1").to_json()
    doubled = ring.replace('"current": "k1"', '"current": "k1",\n  "current": "k2"', 1)
    with pytest.raises(KeyRingError, match="the key 'current' appears twice"):
        KeyRing.from_json(doubled, "the test key ring")
