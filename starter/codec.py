"""Encryption of every workflow payload at rest: AES-256-GCM keyed by a named, rotatable key ring.

Workflow inputs, results, Update arguments, activity arguments and failure messages name victims,
applicants, children and people referred to Channel; Temporal keeps them in its histories for the
retention period and shows them to anyone with access to the namespace. The payload codec
encrypts each payload on the client and worker side, so the Temporal server only ever stores
ciphertext tagged with the id of the key that made it (issue 4, "Personal data"; house style §3;
the `encryption/` sample of temporalio/samples-python shows the shape).

Fail closed: a worker decodes with a codec that refuses a payload which is not encrypted. The
Temporal frontend has no authentication of its own, so without this anyone who reaches it could
send an Update such as `temporal workflow update execute --input '{"by": "mallory@..."}'` and
have it recorded as a decision (issue 13). A refused payload is not an exception (which would
fail the whole workflow task and retry it for ever) but a `REFUSED_ENCODING` payload that no
payload converter reads, so the SDK refuses just what carries it: an Update is rejected before
its validator runs and nothing reaches the history; a Signal is dropped; a workflow started with
plain input fails its first workflow task, which `cspflow stalled` reports. Each refusal is logged
as `unencrypted_payload_refused` with the workflow id. Payloads the server makes itself are not
codec payloads (search attributes) or carry no payload (timeouts, cancellations), so they still
pass. Reading old histories (replay, timelines, the codec server) accepts plain payloads: it
records nothing new, and histories written before encryption was switched on must still read.

Rotation: a key ring holds every key still needed to read old histories and one current key for
new payloads. Add a key and make it current; keep the old one until no history encrypted with it
is still retained or replayed.

Errors (all `schemas.errors.CspflowError`, so the CLI prints them without a traceback):

* ConfigurationError
  * KeyRingError - the key file or CSPFLOW_PAYLOAD_KEYS is malformed
* PayloadDecryptionError - a payload cannot be decrypted: the key is wrong or it was changed
  * UnknownKeyError - the payload names a key id the key ring does not hold
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from schemas.errors import ConfigurationError, CspflowError
from starter import strict_json

ENV_VAR = "CSPFLOW_PAYLOAD_KEYS"
"""Environment variable holding the key ring as JSON, as the key file does."""

ENCODING = b"binary/encrypted"
REFUSED_ENCODING = b"binary/cspflow-refused-unencrypted"
"""What a refusing codec decodes an unencrypted payload to: no payload converter reads it."""
CIPHER = b"AES-256-GCM"
KEY_ID_METADATA = "encryption-key-id"
CIPHER_METADATA = "encryption-cipher"

KEY_BYTES = 32
"""AES-256: a 32-byte key."""
NONCE_BYTES = 12
"""The 96-bit nonce NIST SP 800-38D recommends for GCM; random per payload."""
TAG_BYTES = 16

_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_FIX = f"correct the key file or {ENV_VAR}"


class KeyRingError(ConfigurationError):
    """The key ring (key file or CSPFLOW_PAYLOAD_KEYS) is malformed; the message says how."""


class PayloadDecryptionError(CspflowError):
    """A payload could not be decrypted with the key its metadata names."""

    def __init__(self, message: str, key_id: str | None) -> None:
        super().__init__(message)
        self.key_id = key_id


class UnknownKeyError(PayloadDecryptionError):
    """A payload was encrypted with a key id that is not in the key ring."""


class KeyRing:
    """Named AES-256 keys, one of them current: new payloads use it, old ones keep decrypting.

    The JSON form, in a key file or in CSPFLOW_PAYLOAD_KEYS, is
    `{"current": "k2", "keys": {"k1": "<base64 of 32 bytes>", "k2": "..."}}`.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        self._keys: dict[str, bytes] = {}
        for key_id, key in keys.items():
            self._keys[_check_key_id(key_id)] = _check_key(key_id, key)
        if current not in self._keys:
            held = ", ".join(sorted(self._keys)) or "none"
            raise KeyRingError(
                f'current key id {current!r} is not among the keys ({held}): add it to "keys" '
                f'or set "current" to one of them, in the key file or {ENV_VAR}'
            )
        self._current = current

    @classmethod
    def generate(cls, key_id: str) -> KeyRing:
        """Make a key ring holding one new random key, current."""
        return cls({key_id: AESGCM.generate_key(bit_length=256)}, current=key_id)

    @classmethod
    def from_json(cls, text: str, source: str = ENV_VAR) -> KeyRing:
        """Read a key ring from its JSON form; `source` names where it came from in errors."""
        try:
            document = strict_json.loads(text)
        except json.JSONDecodeError as error:
            raise KeyRingError(f"{source} is not valid JSON ({error}): {_FIX}") from error
        if not isinstance(document, dict):
            raise KeyRingError(
                f'{source} must be a JSON object {{"current": ..., "keys": {{...}}}}: {_FIX}'
            )
        current = document.get("current")
        encoded = document.get("keys")
        if not isinstance(current, str) or not current:
            raise KeyRingError(f'{source} has no "current" key id: {_FIX}')
        if not isinstance(encoded, dict) or not encoded:
            raise KeyRingError(
                f'{source} has no "keys" object of key id to base64 key: {_FIX}; '
                "make a key with `KeyRing.generate`"
            )
        keys: dict[str, bytes] = {}
        for key_id, value in encoded.items():
            if not isinstance(value, str):
                raise KeyRingError(f"key {key_id!r} in {source} is not a base64 string: {_FIX}")
            try:
                keys[key_id] = base64.b64decode(value, validate=True)
            except binascii.Error as error:
                raise KeyRingError(
                    f"key {key_id!r} in {source} is not valid base64 ({error}): {_FIX}"
                ) from error
        return cls(keys, current=current)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """Read a key ring from a key file."""
        try:
            text = path.read_text()
        except OSError as error:
            raise KeyRingError(
                f"cannot read the key file {path} ({error.strerror}): check the path and its "
                "permissions"
            ) from error
        return cls.from_json(text, source=f"key file {path}")

    @classmethod
    def load(
        cls, key_file: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> KeyRing | None:
        """Load the key ring from CSPFLOW_PAYLOAD_KEYS if set, else from `key_file` if given.

        Returns None when neither is configured (payloads are then not encrypted).
        """
        environ = os.environ if environ is None else environ
        text = environ.get(ENV_VAR, "").strip()
        if text:
            return cls.from_json(text, source=ENV_VAR)
        if key_file is not None:
            return cls.from_file(key_file)
        return None

    @property
    def current(self) -> str:
        """The key id new payloads are encrypted with."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id held, sorted."""
        return tuple(sorted(self._keys))

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def key(self, key_id: str) -> bytes:
        """The key named `key_id`; UnknownKeyError when the ring does not hold it."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyError(
                f"payload encrypted with key {key_id!r}, which is not in the key ring: add it to "
                f"{ENV_VAR} or the key file",
                key_id,
            ) from None

    def add(self, key_id: str, key: bytes | None = None, make_current: bool = True) -> None:
        """Add a key (a new random one when `key` is None), by default making it current.

        Re-adding a key id with different bytes is refused: payloads already encrypted with the
        old key would become unreadable.
        """
        key = AESGCM.generate_key(bit_length=256) if key is None else key
        _check_key_id(key_id)
        _check_key(key_id, key)
        if key_id in self._keys and self._keys[key_id] != key:
            raise KeyRingError(
                f"key id {key_id!r} is already in the key ring with a different key: choose a new "
                "key id; never reuse one, or payloads encrypted with the old key cannot be read"
            )
        self._keys[key_id] = key
        if make_current:
            self._current = key_id

    def to_json(self) -> str:
        """The JSON form, for a key file or CSPFLOW_PAYLOAD_KEYS. It holds the secret keys."""
        keys = {key_id: base64.b64encode(self._keys[key_id]).decode() for key_id in self.key_ids}
        return json.dumps({"current": self._current, "keys": keys}, indent=2)

    def write(self, path: Path) -> None:
        """Write the key file readable by its owner only (mode 0600)."""
        temporary = path.with_name(path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(self.to_json() + "\n")
        os.replace(temporary, path)

    def __repr__(self) -> str:
        # Never the key bytes: a repr ends up in logs and tracebacks.
        return f"KeyRing(current={self._current!r}, key_ids={list(self.key_ids)!r})"


def _check_key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise KeyRingError(
            f"key id {key_id!r} must be 1 to 64 letters, digits, '.', '_' or '-': {_FIX}"
        )
    return key_id


def _check_key(key_id: str, key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        size = len(key) if isinstance(key, bytes) else type(key).__name__
        raise KeyRingError(
            f"key {key_id!r} is {size} bytes, not {KEY_BYTES} (AES-256): give the base64 of 32 "
            "random bytes, e.g. from `KeyRing.generate`"
        )
    return key


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """Encrypt each payload with the key ring's current key; decrypt with the key it names.

    The ciphertext covers the whole serialized payload, its metadata (encoding, type) included.
    The key id is the GCM associated data, so a payload relabelled with another key id fails
    authentication instead of decrypting.

    A payload that is not encrypted passes through decode unchanged when `accept_unencrypted`
    (reading histories written before encryption was switched on); otherwise it is decoded to a
    `REFUSED_ENCODING` payload that nothing can read, and logged (the module docstring says why).
    """

    def __init__(
        self,
        keyring: KeyRing,
        *,
        accept_unencrypted: bool = True,
        context: SerializationContext | None = None,
    ) -> None:
        self.keyring = keyring
        self.accept_unencrypted = accept_unencrypted
        self._context = context

    def with_context(self, context: SerializationContext) -> Self:
        """The same codec, knowing which workflow its payloads belong to (for the refusal log)."""
        return type(self)(self.keyring, accept_unencrypted=self.accept_unencrypted, context=context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload with the current key."""
        key_id = self.keyring.current
        cipher = AESGCM(self.keyring.key(key_id))
        associated = key_id.encode()
        encrypted = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), associated)
            encrypted.append(
                Payload(
                    metadata={
                        "encoding": ENCODING,
                        KEY_ID_METADATA: associated,
                        CIPHER_METADATA: CIPHER,
                    },
                    data=nonce + sealed,
                )
            )
        return encrypted

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt encrypted payloads; pass or refuse the others (see the class docstring)."""
        decoded = []
        for payload in payloads:
            if is_encrypted(payload):
                decoded.append(self._decrypt(payload))
            elif self.accept_unencrypted:
                decoded.append(payload)
            else:
                decoded.append(self._refuse(payload))
        return decoded

    def _refuse(self, payload: Payload) -> Payload:
        context = self._context
        workflow_id = (
            context.workflow_id
            if isinstance(context, WorkflowSerializationContext | ActivitySerializationContext)
            else None
        )
        # The encoding only, never the data: it is whatever the sender chose to put there.
        structlog.get_logger(__name__).warning(
            "unencrypted_payload_refused",
            workflow_id=workflow_id,
            encoding=payload.metadata.get("encoding", b"").decode(errors="replace")[:64],
        )
        return Payload(metadata={"encoding": REFUSED_ENCODING})

    def _decrypt(self, payload: Payload) -> Payload:
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        if not raw_id:
            raise PayloadDecryptionError(
                f"an encrypted payload has no {KEY_ID_METADATA!r} metadata, so no key can "
                "decrypt it: it was not written by cspflow's codec, or was altered",
                None,
            )
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher_name = payload.metadata.get(CIPHER_METADATA, CIPHER)
        if cipher_name != CIPHER:
            raise PayloadDecryptionError(
                f"payload encrypted with key {key_id!r} uses cipher "
                f"{cipher_name.decode(errors='replace')!r}; this release reads only "
                f"{CIPHER.decode()}",
                key_id,
            )
        key = self.keyring.key(key_id)
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptionError(
                f"payload encrypted with key {key_id!r} is {len(data)} bytes, too short to be "
                "AES-256-GCM output: it was truncated or altered",
                key_id,
            )
        try:
            plain = AESGCM(key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], raw_id)
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload encrypted with key {key_id!r} failed authentication: the key held as "
                f"{key_id!r} is not the one it was encrypted with (check {ENV_VAR} or the key "
                "file), or the payload was altered",
                key_id,
            ) from None
        return Payload.FromString(plain)


def is_encrypted(payload: Payload) -> bool:
    """Whether the payload is the output of an encrypting codec."""
    return payload.metadata.get("encoding") == ENCODING


def data_converter(keyring: KeyRing | None, *, accept_unencrypted: bool = False) -> DataConverter:
    """The pydantic data converter, encrypting every payload when a key ring is given.

    With encryption, failure messages and stack traces are encoded too
    (`DefaultFailureConverterWithEncodedAttributes`): an error message can name a person. An
    unencrypted inbound payload is refused unless `accept_unencrypted` (reading old histories
    only; the module docstring says why).
    """
    if keyring is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring, accept_unencrypted=accept_unencrypted),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def reading(converter: DataConverter) -> DataConverter:
    """The same converter, accepting unencrypted payloads: for reading recorded histories only.

    A timeline or a replay shows what is recorded; a history written before encryption was
    switched on must still read, and nothing read this way is recorded anew.
    """
    codec = converter.payload_codec
    if not isinstance(codec, EncryptionCodec) or codec.accept_unencrypted:
        return converter
    return dataclasses.replace(
        converter, payload_codec=EncryptionCodec(codec.keyring, accept_unencrypted=True)
    )
