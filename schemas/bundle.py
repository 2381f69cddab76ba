"""Tamper-evident audit bundles: the manifest sealing a case's record, and what checking it found.

A bundle is a directory an auditor can take away: the raw Temporal histories of a case and its
child workflows, the case timeline, and `manifest.json`, which holds the SHA-256 of every file, a
hash chain over every history event and a chain over the file entries, optionally signed with
Ed25519 in `manifest.sig` (issue 4, "Tamper evidence"). `cspflow audit verify` recomputes all of
it, replays the histories and reports every difference by name.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import Field

from schemas.shared import Model

BUNDLE_FORMAT: Final = "cspflow-bundle-v1"
"""The bundle format; also the seed of every hash chain, so chains of another format never match."""


class FileEntry(Model):
    """One file of the bundle and the SHA-256 of its bytes."""

    path: str = Field(description="Path inside the bundle, with '/' separators.")
    sha256: str = Field(description="SHA-256 of the file's bytes, lower-case hex.")
    size: int = Field(description="Size of the file in bytes.")


class EventLink(Model):
    """One link of a history's hash chain: the event and the chain value after it."""

    event_id: int = Field(description="The history event's id (1 is the workflow's start).")
    chain: str = Field(
        description="sha256(previous chain value + the event's deterministic protobuf bytes), hex."
    )


class HistoryEntry(Model):
    """One workflow run's history in the bundle, with its event hash chain."""

    workflow_id: str = Field(description="The workflow id (the case id, or a partner task id).")
    run_id: str = Field(description="The run id of this history.")
    workflow_type: str = Field(description="The workflow type, e.g. CommunityTrigger.")
    file: str = Field(description="The history's file in the bundle, e.g. histories/<id>.json.")
    event_count: int = Field(description="How many events the history holds.")
    chain_head: str = Field(description="The chain value after the last event, hex.")
    events: tuple[EventLink, ...] = Field(
        description="The chain value after each event, in history order, so a check can name "
        "the first event that differs."
    )


class Signer(Model):
    """The key that signed the manifest (the private half never leaves the CSP)."""

    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str = Field(description="First 16 hex digits of SHA-256 of the raw public key.")
    public_key: str = Field(description="The raw 32-byte Ed25519 public key, base64.")


class Manifest(Model):
    """What a bundle holds, sealed: file hashes, event chains, and who signed it."""

    format: Literal["cspflow-bundle-v1"] = BUNDLE_FORMAT
    case_id: str = Field(description="The case the bundle records.")
    created_at: datetime = Field(description="When the bundle was written (UTC).")
    created_by: str | None = Field(
        default=None, description="Who wrote the bundle (the CLI's CSPFLOW_USER)."
    )
    files: tuple[FileEntry, ...] = Field(
        description="Every file of the bundle except manifest.json and manifest.sig, by path."
    )
    files_chain_head: str = Field(
        description="Hash chain over the file entries in path order: seed, then "
        "sha256(previous + path + NUL + file SHA-256) per file, hex."
    )
    histories: tuple[HistoryEntry, ...] = Field(description="Every history in the bundle.")
    signer: Signer | None = Field(
        default=None, description="The signing key, when the manifest is signed (manifest.sig)."
    )


class FailureKind(StrEnum):
    """What kind of check failed."""

    MANIFEST = "manifest"
    FILE_CHANGED = "file-changed"
    FILE_MISSING = "file-missing"
    FILE_ADDED = "file-added"
    FILES_CHAIN = "files-chain"
    HISTORY_CHAIN = "history-chain"
    SIGNATURE = "signature"
    REPLAY = "replay"


class VerifyFailure(Model):
    """One thing that does not match the manifest (or the code), named so a person can look."""

    kind: FailureKind
    subject: str = Field(
        description="What changed: a file path, a workflow id, 'manifest.json' or 'manifest.sig'."
    )
    workflow_id: str | None = Field(default=None, description="The history concerned, if any.")
    event_id: int | None = Field(
        default=None, description="The first history event whose chain breaks, if any."
    )
    message: str = Field(description="What is wrong and what it means, in words.")


class VerifyReport(Model):
    """The result of checking a bundle: ok only when every check passed."""

    bundle: str = Field(description="The bundle directory checked.")
    case_id: str | None = Field(default=None, description="The case, from the manifest.")
    ok: bool = Field(description="True only when every file, chain, signature and replay passed.")
    signed: bool = Field(description="Whether the manifest carries a valid signature.")
    key_id: str | None = Field(default=None, description="The key id that signed the manifest.")
    trusted_key: bool = Field(
        default=False, description="Whether the signing key was checked against a trusted key."
    )
    files_checked: int = 0
    events_checked: int = 0
    histories_replayed: int = 0
    failures: tuple[VerifyFailure, ...] = ()
    notes: tuple[str, ...] = Field(
        default=(), description="Things worth knowing that are not failures (e.g. unsigned)."
    )
