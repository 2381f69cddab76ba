"""Tamper-evident bundles: a real case bundled, verified, and every changed byte named.

Issue 4 ("Tamper evidence"): `cspflow audit bundle` writes the raw histories, the timeline and a
signed manifest of hashes and hash chains; `cspflow audit verify` checks them offline, replays
the histories and fails on any change to any byte, naming what changed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import stat
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from activities.access_log import list_access
from schemas.bundle import FailureKind, Manifest, VerifyReport
from schemas.community_trigger import CloseCase
from schemas.partner_task import RESPONSE_EXAMPLES, TaskKind
from starter.audit.bundle import (
    MANIFEST,
    SIGNATURE,
    SIGNING_KEY_ENV,
    canonical,
    files_chain,
    generate_signing_key,
    key_id,
    load_public_key,
    load_signing_key,
    public_path,
    raw_public_key,
    verify_bundle,
    write_bundle,
)
from starter.cli import app
from starter.client import Cspflow
from starter.settings import Settings
from tests.conftest import BIN, KEYRING, free_port
from tests.workflows.directory import application
from tests.workflows.helpers import eventually

BY = "coordinator@test.example.org"
AUDITOR = "auditor@test.example.org"

_BUILT: dict[str, Path] = {}
"""The bundle of one real case, built by the first test that needs it and copied for each test."""


async def run_case(env: WorkflowEnvironment, cspflow: Cspflow, today: date, reference: str) -> str:
    """Run a case with three partner tasks, each answered, then closed: four closed histories."""
    case_id = await cspflow.start_community_trigger(application(today, reference=reference))
    status = await eventually(
        lambda: cspflow.case_status(case_id),
        lambda s: s.proposed_threshold is not None and len(s.tasks) == 3,
        what="proposal and tasks",
    )
    for task in status.tasks:
        await cspflow.submit(task.task_id, RESPONSE_EXAMPLES[TaskKind.INFORMATION_REQUEST])
        await env.client.get_workflow_handle(task.task_id).result()
    await cspflow.step(case_id, "close_case", CloseCase(by=BY, reason="Audit test over"))
    await env.client.get_workflow_handle(case_id).result()
    return case_id


@pytest.fixture(scope="module")
def signing_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "audit-signing.pem"
    generate_signing_key(path)
    return path


@pytest.fixture
async def bundle(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    session_factory: Any,
    today: date,
    signing_key_file: Path,
    tmp_path: Path,
) -> Path:
    """A copy, for this test, of the signed bundle of a real case run on the Temporal server."""
    if "signed" not in _BUILT:
        case_id = await run_case(env, cspflow, today, "BUNDLE-1")
        built = tmp_path / "built"
        await write_bundle(
            env.client,
            case_id,
            built,
            session_factory,
            load_signing_key(signing_key_file),
            created_by=AUDITOR,
        )
        _BUILT["signed"] = built
    copy = tmp_path / "bundle"
    shutil.copytree(_BUILT["signed"], copy)
    return copy


def verify(directory: Path, signing_key_file: Path | None) -> VerifyReport:
    trusted = load_public_key(public_path(signing_key_file)) if signing_key_file else None
    return verify_bundle(directory, trusted, KEYRING)


def manifest_of(directory: Path) -> Manifest:
    return Manifest.model_validate_json((directory / MANIFEST).read_bytes())


def alter_first_activity_name(path: Path) -> int:
    """Change one letter of the first scheduled activity's name in a history file: its event id."""
    text = path.read_text()
    events = json.loads(text)["events"]
    scheduled = next(e for e in events if "activityTaskScheduledEventAttributes" in e)
    name = scheduled["activityTaskScheduledEventAttributes"]["activityType"]["name"]
    flip_byte(path, len(text[: text.index(f'"name": "{name}"')].encode()) + len('"name": "'))
    return int(scheduled["eventId"])


def flip_byte(path: Path, offset: int) -> None:
    """Change exactly one byte of a file, to another printable ASCII character."""
    data = bytearray(path.read_bytes())
    data[offset] = ord("y") if data[offset] != ord("y") else ord("z")
    path.write_bytes(bytes(data))


async def test_a_signed_bundle_of_a_real_case_holds_every_history_and_verifies(
    bundle: Path, signing_key_file: Path
) -> None:
    """The case's and its partner tasks' histories, the timeline and a signed manifest verify."""
    manifest = manifest_of(bundle)
    case_id = manifest.case_id
    assert case_id == "ct-north-BUNDLE-1"
    assert {h.workflow_type for h in manifest.histories} == {"CommunityTrigger", "PartnerTask"}
    assert len(manifest.histories) == 4
    assert {h.file for h in manifest.histories} <= {f.path for f in manifest.files}
    assert f"histories/{case_id}.json" in {f.path for f in manifest.files}
    for name in ("timeline.md", "timeline.html", "timeline.json"):
        assert (bundle / name).is_file() and name in {f.path for f in manifest.files}
    for entry in manifest.histories:
        raw = json.loads((bundle / entry.file).read_text())
        assert len(raw["events"]) == entry.event_count == len(entry.events)
        assert entry.chain_head == entry.events[-1].chain
    assert manifest.signer is not None and (bundle / SIGNATURE).is_file()
    assert (bundle / MANIFEST).read_bytes() == canonical(manifest)

    report = verify(bundle, signing_key_file)

    assert report.ok, report.failures
    assert report.signed and report.trusted_key and report.key_id == manifest.signer.key_id
    assert report.histories_replayed == 4
    assert report.events_checked == sum(h.event_count for h in manifest.histories)


async def test_one_byte_changed_in_a_history_fails_naming_the_file_and_the_event(
    bundle: Path, signing_key_file: Path
) -> None:
    """Changing one letter of an activity name in the case history names file and event."""
    manifest = manifest_of(bundle)
    entry = next(h for h in manifest.histories if h.workflow_type == "CommunityTrigger")
    event_id = alter_first_activity_name(bundle / entry.file)

    report = verify(bundle, signing_key_file)

    assert not report.ok
    changed = [f for f in report.failures if f.kind is FailureKind.FILE_CHANGED]
    assert [f.subject for f in changed] == [entry.file]
    chain = [f for f in report.failures if f.kind is FailureKind.HISTORY_CHAIN]
    assert len(chain) == 1
    assert chain[0].subject == entry.file and chain[0].workflow_id == manifest.case_id
    assert chain[0].event_id == event_id
    assert f"changed at event {event_id}" in chain[0].message
    # The code schedules the real activity, so replay of the altered history diverges too.
    assert any(f.kind is FailureKind.REPLAY for f in report.failures)
    assert report.signed, "the manifest itself was not touched"


async def test_one_byte_changed_in_the_timeline_fails_naming_the_timeline(
    bundle: Path, signing_key_file: Path
) -> None:
    """A single changed byte of timeline.md is the one failure, and it names timeline.md."""
    flip_byte(bundle / "timeline.md", 10)

    report = verify(bundle, signing_key_file)

    assert not report.ok
    assert [(f.kind, f.subject) for f in report.failures] == [
        (FailureKind.FILE_CHANGED, "timeline.md")
    ]
    assert "timeline.md changed" in report.failures[0].message


async def test_a_history_restored_byte_for_byte_verifies_again(
    bundle: Path, signing_key_file: Path
) -> None:
    """Verification depends only on the bytes: undo a change and the bundle verifies."""
    path = bundle / "timeline.md"
    original = path.read_bytes()
    flip_byte(path, 0)
    assert not verify(bundle, signing_key_file).ok
    path.write_bytes(original)
    assert verify(bundle, signing_key_file).ok


async def test_a_manifest_forged_to_match_a_changed_file_fails_the_signature(
    bundle: Path, signing_key_file: Path
) -> None:
    """Change a file and rewrite its hash (and the file chain) in the manifest: the signature
    no longer matches, so the forgery is caught although every hash now agrees."""
    flip_byte(bundle / "timeline.md", 10)
    manifest = manifest_of(bundle)
    data = (bundle / "timeline.md").read_bytes()
    files = tuple(
        f.model_copy(update={"sha256": hashlib.sha256(data).hexdigest()})
        if f.path == "timeline.md"
        else f
        for f in manifest.files
    )
    forged = manifest.model_copy(
        update={"files": files, "files_chain_head": files_chain(manifest.case_id, files)}
    )
    (bundle / MANIFEST).write_bytes(canonical(forged))

    report = verify(bundle, signing_key_file)

    assert not report.ok and not report.signed
    assert [f.kind for f in report.failures] == [FailureKind.SIGNATURE]
    assert "signature invalid" in report.failures[0].message
    assert MANIFEST in report.failures[0].message


async def test_a_manifest_resigned_with_another_key_fails_against_the_trusted_key(
    bundle: Path, signing_key_file: Path
) -> None:
    """A forger who re-signs with their own key is caught when the CSP's public key is given."""
    manifest = manifest_of(bundle)
    impostor = Ed25519PrivateKey.generate()
    public = impostor.public_key()
    assert manifest.signer is not None
    resigned = manifest.model_copy(
        update={
            "signer": manifest.signer.model_copy(
                update={
                    "key_id": key_id(public),
                    "public_key": base64.b64encode(raw_public_key(public)).decode(),
                }
            )
        }
    )
    body = canonical(resigned)
    (bundle / MANIFEST).write_bytes(body)
    (bundle / SIGNATURE).write_text(base64.b64encode(impostor.sign(body)).decode())

    assert verify(bundle, None).ok, "without a trusted key the signature is only self-consistent"
    report = verify(bundle, signing_key_file)
    assert not report.ok
    assert [f.kind for f in report.failures] == [FailureKind.SIGNATURE]
    assert "not by the trusted key" in report.failures[0].message


async def test_files_added_removed_or_a_signature_stripped_are_each_named(
    bundle: Path, signing_key_file: Path
) -> None:
    """An added file, a missing file and a removed signature are each a named failure."""
    (bundle / "histories" / "extra.json").write_text("{}")
    (bundle / "timeline.html").unlink()
    (bundle / SIGNATURE).unlink()

    report = verify(bundle, signing_key_file)

    found = {(f.kind, f.subject) for f in report.failures}
    assert found == {
        (FailureKind.FILE_ADDED, "histories/extra.json"),
        (FailureKind.FILE_MISSING, "timeline.html"),
        (FailureKind.SIGNATURE, SIGNATURE),
    }


def cli_environment(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CSPFLOW_DATA_DIR": str(settings.data_dir),
        "CSPFLOW_DIRECTORY_FILE": str(settings.directory_file),
        "CSPFLOW_PAYLOAD_KEYS": KEYRING.to_json(),
        "CSPFLOW_USER": AUDITOR,
        **extra,
    }


async def cspflow_command(environment: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "cspflow"),
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_bundles_a_case_logs_the_access_and_verifies_it_with_no_server(
    env: WorkflowEnvironment,
    worker: Worker,
    cspflow: Cspflow,
    settings: Settings,
    session_factory: Any,
    today: date,
    signing_key_file: Path,
    tmp_path: Path,
) -> None:
    """`cspflow audit bundle` writes a signed bundle and logs the read; `cspflow audit verify`
    checks it with no Temporal server reachable, and exits 1 naming a changed file."""
    case_id = await run_case(env, cspflow, today, "BUNDLE-CLI-1")
    out = tmp_path / "cli-bundle"
    server = env.client.service_client.config.target_host
    code, stdout, stderr = await cspflow_command(
        cli_environment(
            settings,
            CSPFLOW_TEMPORAL_ADDRESS=server,
            **{SIGNING_KEY_ENV: str(signing_key_file)},
        ),
        "audit",
        "bundle",
        case_id,
        "--out",
        str(out),
    )
    assert code == 0, stderr
    assert f"bundle of {case_id} written" in stdout and "signed by key" in stdout
    accesses = await list_access(session_factory, case_id=case_id)
    assert [(a.user, a.view) for a in accesses] == [(AUDITOR, "bundle")]

    offline = cli_environment(settings, CSPFLOW_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}")
    public = str(public_path(signing_key_file))
    code, stdout, stderr = await cspflow_command(
        offline, "audit", "verify", str(out), "--public-key", public
    )
    assert code == 0, stderr
    assert stdout.startswith("VERIFIED") and "(trusted)" in stdout

    event_id = alter_first_activity_name(out / "histories" / f"{case_id}.json")
    code, stdout, stderr = await cspflow_command(
        offline, "audit", "verify", str(out), "--public-key", public
    )
    assert code == 1
    assert stderr.startswith("FAILED")
    assert f"histories/{case_id}.json changed" in stderr
    assert f"history of {case_id} (histories/{case_id}.json) changed at event {event_id}" in stderr


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    """`cspflow audit keygen` makes a 0600 PEM key and a .pub file, and never overwrites one."""
    key = tmp_path / "keys" / "signing.pem"
    result = CliRunner().invoke(app, ["audit", "keygen", "--out", str(key)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert load_public_key(public_path(key)) is not None
    assert load_signing_key(key) is not None
    assert "key id:" in result.output
    again = CliRunner().invoke(app, ["audit", "keygen", "--out", str(key)])
    assert again.exit_code == 1 and "never overwrite" in again.output
