"""Step signatures: is this human step the one the console signed, for this case, by this person?

Issue 13 ("Every human step carries an identity the workflow can verify"). The Temporal frontend
has no authentication, so a step's `by` proves nothing by itself. The front (the web console,
or `cspflow` where it holds the key) signs the canonical bytes of the case, the step, the input
without its signature, the acting account and role and the time with Ed25519 (RFC 8032); the
workflow checks the signature against the public keys it received through an activity (data,
recorded in history) before the step's own validator runs.

Pure and deterministic: bytes and keys in, a refusal reason (or None) out; no clock, no I/O, no
temporalio. The same function signs-side (`canonical_step`) and checks-side, so the two cannot
drift apart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.shared import Acting, StepKeys, StepSignature


def key_id_of(public_key: bytes) -> str:
    """Return a public key's id: the first 16 hex digits of its SHA-256 (stable, not secret)."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def step_input(step: Acting) -> dict[str, Any]:
    """The step's input as JSON data, without its signature: what the signature covers."""
    return step.model_dump(mode="json", exclude={"signed"})


def canonical_step(
    workflow_id: str,
    update: str,
    data: Mapping[str, Any],
    account: str,
    role: str,
    signed_at: datetime,
) -> bytes:
    """Return the bytes a step signature covers: sorted, compact JSON, UTF-8.

    Sorted keys and fixed separators make one step one byte string however the caller built
    the dict (RFC 8785's idea, without its number rules: step inputs carry no floats that
    matter). The case and the step are inside, so a signature for one case or step is worth
    nothing on another.
    """
    document = {
        "workflow_id": workflow_id,
        "update": update,
        "input": dict(data),
        "account": account,
        "role": role,
        "signed_at": signed_at.isoformat(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def step_refusal(workflow_id: str, update: str, step: Any, keys: StepKeys) -> str | None:
    """Say why a step's signature does not prove it came from the front, or None when it does.

    Refused: an input that is not a person's step, a step with no signature, a key the workflow
    does not know, a signature that does not match this case, step, input, account, role and
    time, and a step whose `by` is not the signed account (the front records who signed in,
    never a name typed into the input).
    """
    if not isinstance(step, Acting):
        return "the step's input names no person acting"
    signed: StepSignature | None = step.signed
    if signed is None:
        return "the step carries no signature"
    known = {key.key_id: key.public_key for key in keys.keys}
    if signed.key_id not in known:
        return f"the step is signed with key {signed.key_id}, which this case does not know"
    if step.by != signed.account:
        return "the step's by is not the account that signed it"
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(known[signed.key_id]))
        signature = base64.b64decode(signed.signature, validate=True)
        message = canonical_step(
            workflow_id, update, step_input(step), signed.account, signed.role, signed.signed_at
        )
        public.verify(signature, message)
    except (InvalidSignature, ValueError, binascii.Error):
        return "the signature does not match this case, step and input"
    return None
