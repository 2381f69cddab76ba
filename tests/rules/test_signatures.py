"""The step-signature rule: a signature proves one case, one step, one input, one signer."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.community_trigger import CloseCase
from schemas.shared import StepKey, StepKeys
from starter.step_signing import StepSigner
from workflows.rules.signatures import key_id_of, step_refusal

CASE = "ct-north-R-1"
BY = "jo@north.example.org"


def keys_of(*signers: StepSigner) -> StepKeys:
    raw = [
        s.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        for s in signers
    ]
    return StepKeys(
        keys=tuple(
            StepKey(key_id=key_id_of(k), public_key=base64.b64encode(k).decode()) for k in raw
        )
    )


@pytest.fixture
def front() -> StepSigner:
    return StepSigner(Ed25519PrivateKey.generate())


def signed(front: StepSigner, **change: str) -> CloseCase:
    step = CloseCase(by=BY, reason="done")
    return front.sign(
        change.get("case", CASE),
        change.get("update", "close_case"),
        step,
        account=change.get("account", BY),
        role="coordinator",
        now=datetime(2026, 1, 5, 9, tzinfo=UTC),
    )


def test_the_fronts_signature_of_this_step_is_accepted(front: StepSigner) -> None:
    """A step the front signed for this case and step, as its `by`, passes."""
    assert step_refusal(CASE, "close_case", signed(front), keys_of(front)) is None


def test_a_previous_key_still_verifies(front: StepSigner) -> None:
    """After a rotation the previous key is offered too, so steps in flight still pass."""
    newer = StepSigner(Ed25519PrivateKey.generate())
    assert step_refusal(CASE, "close_case", signed(front), keys_of(newer, front)) is None


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ({"case": "ct-north-R-2"}, "does not match"),
        ({"update": "request_appeal"}, "does not match"),
        ({"account": "mallory@evil.example"}, "by is not the account"),
    ],
)
def test_a_signature_for_another_case_step_or_person_is_refused(
    front: StepSigner, what: dict[str, str], expected: str
) -> None:
    """Signed for another case, another step or another account: refused, saying why."""
    refusal = step_refusal(CASE, "close_case", signed(front, **what), keys_of(front))
    assert refusal is not None and expected in refusal


def test_a_changed_input_an_unknown_key_and_no_signature_are_refused(front: StepSigner) -> None:
    """The input changed after signing, a stranger's key, and no signature at all: refused."""
    step = signed(front)
    changed = step.model_copy(update={"reason": "something else"})
    stranger = StepSigner(Ed25519PrivateKey.generate())
    assert "does not match" in (step_refusal(CASE, "close_case", changed, keys_of(front)) or "")
    assert "does not know" in (step_refusal(CASE, "close_case", step, keys_of(stranger)) or "")
    unsigned = CloseCase(by=BY, reason="done")
    assert "no signature" in (step_refusal(CASE, "close_case", unsigned, keys_of(front)) or "")
    assert "names no person" in (step_refusal(CASE, "close_case", {"by": BY}, keys_of(front)) or "")
