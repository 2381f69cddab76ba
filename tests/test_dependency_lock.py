"""Every Python dependency is installed from requirements.lock, pinned with hashes.

A statutory system must replay the same way next year (issue 12, "Set-up that stays the same"):
pyproject.toml keeps the ranges cspflow supports, and requirements.lock, compiled from it with
hashes, pins what `make install` and CI install (docs/dependency-lock.md). This test fails when
the two disagree, so a dependency added to pyproject without recompiling the lock is caught.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def declared() -> list[Requirement]:
    """The runtime and dev dependencies pyproject.toml declares."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [Requirement(text) for text in texts]


def locked() -> dict[str, Version]:
    """Each pinned package of requirements.lock, by normalised name; every pin has a hash."""
    lines = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    pins: dict[str, Version] = {}
    for number, line in enumerate(lines):
        found = PIN.match(line)
        if found:
            following = lines[number + 1] if number + 1 < len(lines) else ""
            assert "--hash=sha256:" in following, f"requirements.lock: {line} has no hash"
            pins[canonicalize_name(found.group(1))] = Version(found.group(2))
    return pins


def test_every_dependency_in_pyproject_is_pinned_in_the_lock_within_its_range() -> None:
    """Each dependency named in pyproject.toml is pinned in requirements.lock, at a version
    pyproject's range allows: otherwise run `make lock` (docs/dependency-lock.md)."""
    pins = locked()
    missing = [str(r) for r in declared() if canonicalize_name(r.name) not in pins]
    outside = [
        f"{r.name}=={pins[canonicalize_name(r.name)]} (pyproject: {r.specifier})"
        for r in declared()
        if canonicalize_name(r.name) in pins
        and not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert not missing, f"not pinned in requirements.lock: {missing}; run `make lock`"
    assert not outside, f"pinned outside pyproject's range: {outside}; run `make lock`"
