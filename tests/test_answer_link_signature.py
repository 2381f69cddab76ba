"""The answer link's signature is what starter/answer_links.py's docstring says it is (issue 13).

Recomputed by hand from the docstring's description: HMAC-SHA1 over `<payload>.<timestamp>`,
keyed with SHA-1(salt + "signer" + key), and a payload anyone holding the link can read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from starter import answer_links

KEY = b"a console key for this test only, 32+"
TASK = "ct-north-R-1.task.information.police"


def unpadded(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def test_the_signature_is_hmac_sha1_with_the_documented_key_derivation() -> None:
    """A token's last part is HMAC-SHA1 of the rest under SHA-1(salt + 'signer' + key)."""
    token = answer_links.issue_answer_token(KEY, TASK)
    payload, timestamp, signature = token.split(".")
    derived = hashlib.sha1(b"cspflow.answer-link.v1" + b"signer" + KEY).digest()
    expected = hmac.new(derived, f"{payload}.{timestamp}".encode(), hashlib.sha1).digest()
    assert signature.encode() == unpadded(expected)
    assert "HMAC-SHA1" in (answer_links.__doc__ or "")
    assert "HMAC-SHA256" not in (answer_links.__doc__ or "").split("moving to")[0]


def test_the_payload_is_readable_but_names_only_the_task() -> None:
    """Signed, not encrypted: the link shows its task id, and nothing else."""
    payload = answer_links.issue_answer_token(KEY, TASK).split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert json.loads(decoded) == {"task": TASK}
