"""Per-process policies in the CSP directory: `Directory.policy_for` and the `dhr_setup` activity.

An area names the policy it follows for each process under `policies`; the directory holds each
process's named, versioned entries under a top-level `policies`. A DHR area that names none
follows DhrPolicy's defaults ('statutory-default' v1; DVCVA 2004 s.9 sets no durations, so the
defaults follow the 2016 guidance: statutory-reference.md §2.3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.testing import ActivityEnvironment

from activities.configuration import ConfigurationActivities, load_directory
from schemas.dhr import DhrPolicy
from schemas.directory import Directory
from schemas.errors import DirectoryError
from schemas.setup import DhrSetup
from starter.settings import PROJECT_ROOT
from tests.workflows.directory import DHR_POLICY, directory_document

SHIPPED = PROJECT_ROOT / "config" / "directory.yaml"


def _directory(**changes: Any) -> Directory:
    data = directory_document()
    data.update(changes)
    return Directory.model_validate(data)


def test_every_shipped_area_follows_a_dhr_policy() -> None:
    """The example directory gives every Derbyshire area the derbyshire-dhr policy."""
    directory = load_directory(SHIPPED)
    for area in directory.areas:
        policy = directory.policy_for("dhr", area.id, DhrPolicy)
        assert policy.label == "derbyshire-dhr v1"
        assert policy.imr_due_weeks == 8 and policy.completion_target_months == 6


def test_the_highest_version_of_the_named_policy_is_in_force() -> None:
    """A later version with the same name replaces the earlier one for new cases."""
    later = {**DHR_POLICY, "version": 2, "imr_due_weeks": 6}
    directory = _directory(policies={"dhr": [DHR_POLICY, later]})
    policy = directory.policy_for("dhr", "north", DhrPolicy)
    assert policy.label == "test-dhr v2" and policy.imr_due_weeks == 6


def test_an_area_naming_no_policy_follows_the_statutory_defaults() -> None:
    """South names no DHR policy: DhrPolicy's defaults, 'statutory-default' v1, apply."""
    policy = _directory().policy_for("dhr", "south", DhrPolicy)
    assert policy == DhrPolicy()
    assert policy.label == "statutory-default v1"


def test_a_faulty_policy_is_named_by_entry_and_field() -> None:
    """A bad value names the policy entry, its version and the field, with what is wrong."""
    bad = {**DHR_POLICY, "imr_due_weeks": 0, "completion_reminder_months": [7]}
    directory = _directory(policies={"dhr": [bad]})
    with pytest.raises(DirectoryError) as raised:
        directory.policy_for("dhr", "north", DhrPolicy)
    message = str(raised.value)
    assert "policies.dhr[0] (test-dhr v1).imr_due_weeks" in message
    assert "greater than or equal to 1" in message


def test_an_area_naming_a_missing_policy_is_refused_when_loaded(tmp_path: Path) -> None:
    """An area naming a DHR policy the file lacks is a reference problem naming the area."""
    data = directory_document()
    data["areas"][0]["policies"] = {"dhr": "no-such-dhr"}
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DirectoryError) as raised:
        load_directory(path)
    assert "areas[0] (north).policies.dhr: no dhr policy named 'no-such-dhr'" in str(raised.value)


async def test_dhr_setup_resolves_the_area_agencies_and_policy(tmp_path: Path) -> None:
    """The setup activity gives the area's name, contact, agencies, coordinators and policy."""
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(directory_document()))
    activities = ConfigurationActivities(path)
    setup: DhrSetup = await ActivityEnvironment().run(activities.dhr_setup, "north")
    assert setup.area_name == "North"
    assert setup.policy.label == "test-dhr v1"
    assert [a.id for a in setup.agencies] == ["north-council", "test-police", "test-icb"]
    assert setup.coordinator_emails == ("coord@north.example.org",)
    south: DhrSetup = await ActivityEnvironment().run(activities.dhr_setup, "south")
    assert south.policy.label == "statutory-default v1"
