"""The public keys workflows check step signatures against (issue 13).

The workflow cannot read a file, so it asks this activity for the front's public keys: the
answer is data, recorded in history, and the same on replay. The keys come from the composition
root (starter.step_signing.verification_keys), read afresh on every call, so a rotated key is
offered as soon as the console made it.
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import activity

from schemas.shared import StepKeys

STEP_VERIFICATION_KEYS = "step_verification_keys"


class StepKeyActivities:
    """Hands workflows the front's public step-signing keys."""

    def __init__(self, keys: Callable[[], StepKeys]) -> None:
        self._keys = keys

    @activity.defn(name=STEP_VERIFICATION_KEYS)
    async def step_verification_keys(self) -> StepKeys:
        """Return the current and previous public keys (no secret: private keys stay put)."""
        return self._keys()
