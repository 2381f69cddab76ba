"""The front's step-signing key: the console (and `cspflow` on the server) sign every step.

Issue 13. The key is Ed25519 (RFC 8032), kept in CSPFLOW_STEP_SIGNING_KEY_FILE (default
step-signing-key.pem in the data folder, created 0600 on first start, as web-secret is). Only
the front holds it: whoever can read it can act as anyone, so it is protected like the payload
key. Workers need only its public half, which they read from the same file on a single server,
or from CSPFLOW_STEP_VERIFICATION_KEYS where the console and the workers run apart.

Rotation: rename the file to step-signing-key.previous.pem (beside it) and restart the console,
which makes a new key. Workers offer both public keys (current first) to every workflow that
asks (`step_verification_keys`), and a running case that meets a key it does not know fetches
the keys again (`workflows/signed_steps.py`), so no step is refused for a rotation.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.shared import Acting, StepKey, StepKeys, StepSignature
from starter.private_files import create_private, private_dir
from starter.settings import Settings
from workflows.rules.signatures import canonical_step, key_id_of, step_input

A = TypeVar("A", bound=Acting)


class StepKeyMissing(Exception):
    """No step-signing key where the settings say; the message says where and what to do."""


def previous_key_file(path: Path) -> Path:
    """Where the key before the current one is kept after a rotation."""
    return path.with_name(path.name.removesuffix(".pem") + ".previous.pem")


def _read_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise StepKeyMissing(f"{path} is not an Ed25519 private key: move it aside and restart")
    return key


def ensure_step_key(settings: Settings) -> Path:
    """Create the step-signing key (0600) if it does not exist yet; return its path."""
    path = settings.step_signing_key
    if path.exists():
        return path
    private_dir(path.parent)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_private(path, pem)
    return path


def _public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verification_keys(settings: Settings) -> StepKeys:
    """The public keys workflows accept step signatures from: current first, then previous.

    CSPFLOW_STEP_VERIFICATION_KEYS (base64 raw public keys) when set; otherwise the public
    halves of the key file (created if missing) and of its previous one, if kept.
    """
    if settings.step_verification_keys:
        raw = [base64.b64decode(k) for k in settings.step_verification_keys]
    else:
        current = ensure_step_key(settings)
        previous = previous_key_file(current)
        raw = [_public(_read_private(p)) for p in (current, previous) if p.exists()]
    return StepKeys(
        keys=tuple(
            StepKey(key_id=key_id_of(k), public_key=base64.b64encode(k).decode()) for k in raw
        )
    )


@dataclass(frozen=True)
class StepSigner:
    """Signs steps with the front's key, as one role (coordinator, answer-link, operator...)."""

    key: Ed25519PrivateKey

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = False) -> StepSigner:
        """The front's signer; `create` makes the key on first start (the console, `dev`)."""
        path = ensure_step_key(settings) if create else settings.step_signing_key
        try:
            return cls(_read_private(path))
        except FileNotFoundError:
            raise StepKeyMissing(
                f"no step-signing key at {path}: steps are taken through the console "
                "(or `cspflow` with a token from it); on the server, start `cspflow dev` or the "
                "console once, or set CSPFLOW_STEP_SIGNING_KEY_FILE"
            ) from None
        except PermissionError:
            raise StepKeyMissing(
                f"cannot read the step-signing key at {path}: only the console's account may; "
                "take the step through the console, or with `cspflow token create` and "
                "CSPFLOW_CONSOLE_URL"
            ) from None

    @classmethod
    def optional(cls, settings: Settings) -> StepSigner | None:
        """The signer when this process can read the key (an operator on the server), else None."""
        try:
            return cls.from_settings(settings)
        except StepKeyMissing:
            return None

    @property
    def key_id(self) -> str:
        return key_id_of(_public(self.key))

    def sign(
        self,
        workflow_id: str,
        update: str,
        step: A,
        *,
        account: str,
        role: str,
        now: datetime | None = None,
    ) -> A:
        """Return `step` with its signature for this case and step, as `account` in `role`."""
        signed_at = now or datetime.now(UTC)
        message = canonical_step(
            workflow_id, update, step_input(step), account, str(role), signed_at
        )
        signature = StepSignature(
            key_id=self.key_id,
            account=account,
            role=str(role),
            signed_at=signed_at,
            signature=base64.b64encode(self.key.sign(message)).decode(),
        )
        return step.model_copy(update={"signed": signature})
