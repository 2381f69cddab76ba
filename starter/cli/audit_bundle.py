"""Tamper-evident bundles for auditors: `cspflow audit bundle`, `verify` and `keygen`.

A bundle holds a case's raw histories and timeline under a manifest of hashes and hash chains,
signed with the CSP's Ed25519 key when CSPFLOW_AUDIT_SIGNING_KEY_FILE names one (issue 4, "Tamper
evidence"; `starter.audit.bundle`). Writing a bundle reads personal data, so it is recorded in
the access log as view 'bundle'.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import typer

from schemas.errors import InputError
from starter.cli.common import (
    EXIT_REFUSED,
    _connect,
    _err,
    _out,
    _print_json,
    _records,
    _run,
    _settings,
    audit_app,
    handled,
)


@audit_app.command("bundle")
@handled
def audit_bundle(
    case_id: str = typer.Argument(..., help="The case id, as `cspflow cases` lists it."),
    out: Path = typer.Option(..., "--out", "-o", help="A new (or empty) directory to write."),
) -> None:
    """Write a case's histories, timeline and a signed manifest of their hashes to a directory.

    Signed when CSPFLOW_AUDIT_SIGNING_KEY_FILE names an Ed25519 key (`cspflow audit keygen`).
    Check it later, anywhere, with `cspflow audit verify DIR`.
    """
    from activities.access_log import record_access
    from starter.audit.bundle import configured_signing_key, write_bundle

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            f"{out} exists and is not an empty directory: give --out a new directory, so "
            "nothing outside the bundle is mistaken for part of it"
        )
    settings, _ = _settings()
    signing_key = configured_signing_key()

    async def go() -> Any:
        flow = await _connect(settings)

        async def with_records(session_factory: Any) -> Any:
            # Logged before the read, so even a bundle that fails half-way is on record.
            await record_access(session_factory, settings.user, case_id, "bundle")
            return await write_bundle(
                flow.client, case_id, out, session_factory, signing_key, created_by=settings.user
            )

        return await _records(settings, with_records)

    manifest = _run(go())
    events = sum(h.event_count for h in manifest.histories)
    signed = f"signed by key {manifest.signer.key_id}" if manifest.signer else "NOT signed"
    _out().print(
        f"bundle of {case_id} written to {out}: {len(manifest.histories)} histories "
        f"({events} events), {len(manifest.files)} files; {signed}"
    )
    if manifest.signer is None:
        _err().print(
            "note: set CSPFLOW_AUDIT_SIGNING_KEY_FILE (see `cspflow audit keygen`) to sign "
            "bundles; unsigned, the manifest shows accidental change only"
        )


@audit_app.command("verify")
@handled
def audit_verify(
    directory: Path = typer.Argument(..., help="A directory `cspflow audit bundle` wrote."),
    public_key: Path | None = typer.Option(
        None,
        "--public-key",
        help="The CSP's trusted public key (the .pub file `cspflow audit keygen` wrote, or the "
        "base64 key it printed): checks the bundle was signed by that key.",
    ),
    replay: bool = typer.Option(
        True, "--replay/--no-replay", help="Replay the histories against this release's code."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the VerifyReport as JSON."),
) -> None:
    """Check every byte of a bundle, its signature and its replay; exit 1 naming what changed.

    Needs no Temporal server. Replay decrypts payloads with the payload key ring
    (CSPFLOW_PAYLOAD_KEYS or the key file) the case ran under.
    """
    from starter.audit.bundle import SigningKeyError, describe, load_public_key, verify_bundle
    from starter.runtime import keyring

    settings, _ = _settings()
    try:
        trusted = load_public_key(public_key) if public_key is not None else None
    except SigningKeyError as error:
        raise InputError(str(error)) from None
    report = verify_bundle(directory, trusted, keyring(settings), replay=replay)
    if as_json:
        _print_json(report)
    else:
        lines = describe(report)
        (_out() if report.ok else _err()).print("\n".join(lines))
    if not report.ok:
        raise typer.Exit(EXIT_REFUSED)


@audit_app.command("keygen")
@handled
def audit_keygen(
    out: Path = typer.Option(..., "--out", "-o", help="The private key file to create (0600)."),
) -> None:
    """Make an Ed25519 key to sign bundles; its public half goes to FILE.pub.

    Keep the private key where only the bundling operator can read it and point
    CSPFLOW_AUDIT_SIGNING_KEY_FILE at it; give the public key to auditors.
    """
    from starter.audit.bundle import generate_signing_key, key_id, public_path, raw_public_key

    public = generate_signing_key(out)
    console = _out()
    console.print(f"private key written to {out} (mode 0600)")
    console.print(f"public key written to {public_path(out)}")
    console.print(f"key id: {key_id(public)}")
    console.print(f"public key (raw, base64): {base64.b64encode(raw_public_key(public)).decode()}")
    console.print(f"sign bundles with: export CSPFLOW_AUDIT_SIGNING_KEY_FILE={out}")
