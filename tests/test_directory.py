"""The CSP directory: the shipped example loads, and a broken file is explained all at once.

ASBCPA 2014 s.104(3) (point of contact), s.105 (relevant bodies); house style §6, §9.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.configuration import ConfigurationActivities, DirectoryError, load_directory
from schemas.directory import Directory
from schemas.errors import ConfigurationError, CspflowError
from schemas.setup import CommunityTriggerSetup
from starter.settings import PROJECT_ROOT, Settings

SHIPPED = PROJECT_ROOT / "config" / "directory.yaml"
DERBYSHIRE = (
    "amber-valley",
    "bolsover",
    "chesterfield",
    "derbyshire-dales",
    "erewash",
    "high-peak",
    "north-east-derbyshire",
    "south-derbyshire",
)


def _shipped_data() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_shipped_directory_is_the_settings_default_and_loads() -> None:
    """The example directory is where Settings looks by default, and it validates."""
    assert Settings().directory_file == SHIPPED
    directory = load_directory(SHIPPED)
    assert tuple(a.id for a in directory.areas) == DERBYSHIRE


def test_every_area_resolves_its_policy_bodies_and_neighbours() -> None:
    """Each area's policy, relevant bodies and neighbours exist; neighbours are mutual."""
    directory = load_directory(SHIPPED)
    for area in directory.areas:
        policy = directory.community_trigger_policy(area.id)
        assert 1 <= policy.threshold_complaints <= 3
        kinds = {directory.agency(body).kind.value for body in area.relevant_bodies}
        assert {"council", "police", "integrated-care-board"} <= kinds
        for other in area.neighbouring_areas:
            assert area.id in directory.area(other).neighbouring_areas
        assert directory.coordinators_for(area.id)
    assert directory.community_trigger_policy("high-peak").label == "high-peak-ct v2"
    assert directory.community_trigger_policy("bolsover").label == "derbyshire-ct v1"


def test_default_cli_identity_coordinates_every_area() -> None:
    """coordinator@example.org, the CLI's default CSPFLOW_USER, covers all eight districts."""
    directory = load_directory(SHIPPED)
    default = next(c for c in directory.coordinators if c.id == Settings().user)
    assert set(default.areas) == set(DERBYSHIRE)


def test_shipped_directory_uses_only_example_addresses() -> None:
    """Every email address in the example is @example.org or a subdomain of it."""
    text = SHIPPED.read_text(encoding="utf-8")
    addresses = re.findall(r"[\w.+-]+@[\w.-]+", text)
    assert len(addresses) > 40
    assert all(re.fullmatch(r".+@([\w-]+\.)*example\.org", a) for a in addresses), addresses


def test_invalid_directory_names_file_entries_and_fields_all_at_once(tmp_path: Path) -> None:
    """A field error, an unknown relevant body and a duplicate id are all reported in one go."""
    data = _shipped_data()
    data["areas"].append(dict(data["areas"][2]))
    chesterfield = data["areas"][2]
    chesterfield["relevant_bodies"] = [*chesterfield["relevant_bodies"], "chesterfield-homes"]
    data["community_trigger_policies"][0]["threshold_complaints"] = 4
    path = _write(tmp_path, data)

    with pytest.raises(DirectoryError) as caught:
        load_directory(path)

    error = caught.value
    message = str(error)
    assert isinstance(error, ConfigurationError) and isinstance(error, CspflowError)
    assert str(path) in message
    assert len(error.problems) == 3
    assert "areas[2] (chesterfield).relevant_bodies: unknown agency 'chesterfield-homes'" in message
    assert "community_trigger_policies[0] (derbyshire-ct v1).threshold_complaints:" in message
    assert "no higher than three" in message
    assert "areas: 'chesterfield' appears twice (areas[2], areas[8])" in message
    # One problem a line, after the heading.
    assert message.splitlines()[0] == f"The CSP directory {path} has 3 problems:"


def test_reference_errors_alone_are_named_by_entry(tmp_path: Path) -> None:
    """When every field is valid, the directory's own cross-reference check is reported too."""
    data = _shipped_data()
    data["areas"][1]["community_trigger_policy"] = "bolsover-ct"
    data["chairs"][0]["home_area"] = "derby"
    path = _write(tmp_path, data)

    with pytest.raises(DirectoryError) as caught:
        load_directory(path)

    assert caught.value.problems == (
        "areas[1] (bolsover).community_trigger_policy: no policy named 'bolsover-ct'",
        "chairs[0] (chair-amber-valley-1).home_area: unknown area 'derby'",
    )


def test_field_errors_name_value_and_what_to_do(tmp_path: Path) -> None:
    """A bad email, a misspelt key and a missing field each name the entry, field and value."""
    data = _shipped_data()
    data["areas"][0]["point_of_contact"]["email"] = "asb.amber-valley"
    data["agencies"][1]["escalation_emial"] = data["agencies"][1].pop("escalation_email")
    path = _write(tmp_path, data)

    with pytest.raises(DirectoryError) as caught:
        load_directory(path)

    problems = "\n".join(caught.value.problems)
    assert (
        "areas[0] (amber-valley).point_of_contact.email: 'asb.amber-valley' is not an email "
        "address" in problems
    )
    assert "agencies[1] (bolsover-council).escalation_email: Field required" in problems
    assert "agencies[1] (bolsover-council).escalation_emial: Extra inputs are not permitted" in (
        problems
    )


def test_bad_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    """A YAML syntax error says which line of which file to look at."""
    path = tmp_path / "directory.yaml"
    path.write_text("name: Example\nareas:\n  - id: a\n   name: b\n", encoding="utf-8")

    with pytest.raises(DirectoryError) as caught:
        load_directory(path)

    assert str(path) in str(caught.value)
    assert "line 4" in str(caught.value)


def test_empty_file_says_what_it_must_hold(tmp_path: Path) -> None:
    """An empty file is refused with the sections it needs."""
    path = tmp_path / "directory.yaml"
    path.write_text("", encoding="utf-8")

    with pytest.raises(DirectoryError, match=r"is empty.*areas, agencies"):
        load_directory(path)


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    """A missing directory names the file and the setting that points at it."""
    path = tmp_path / "nowhere.yaml"

    with pytest.raises(DirectoryError) as caught:
        load_directory(path)

    assert str(path) in str(caught.value)
    assert "CSPFLOW_DIRECTORY_FILE" in str(caught.value)


async def test_setup_activity_resolves_the_area() -> None:
    """community_trigger_setup returns the point of contact, bodies, coordinators and policy."""
    activities = ConfigurationActivities(SHIPPED)

    setup = await ActivityEnvironment().run(activities.community_trigger_setup, "high-peak")

    assert isinstance(setup, CommunityTriggerSetup)
    assert setup.area_name == "High Peak"
    assert setup.point_of_contact.email == "asb@high-peak.example.org"
    assert setup.policy.label == "high-peak-ct v2"
    assert [b.id for b in setup.relevant_bodies] == [
        "high-peak-council",
        "derbyshire-police",
        "derby-derbyshire-icb",
        "peakstone-housing",
    ]
    assert setup.coordinator_emails == (
        "coordinator@high-peak.example.org",
        "coordinator@example.org",
    )
    assert setup.neighbouring_areas == ("derbyshire-dales",)


async def test_setup_activity_refuses_an_unknown_area_for_good() -> None:
    """An unknown area is a non-retryable UnknownArea error listing the known areas."""
    activities = ConfigurationActivities(SHIPPED)

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.community_trigger_setup, "derby")

    assert caught.value.type == "UnknownArea"
    assert caught.value.non_retryable
    assert "amber-valley" in str(caught.value) and "south-derbyshire" in str(caught.value)


async def test_setup_activity_reads_the_file_on_every_call(tmp_path: Path) -> None:
    """A policy edit is seen by the next case without restarting the worker."""
    data = _shipped_data()
    path = _write(tmp_path, data)
    activities = ConfigurationActivities(path)
    env = ActivityEnvironment()
    before = await env.run(activities.community_trigger_setup, "erewash")

    data["community_trigger_policies"][0]["version"] = 2
    data["community_trigger_policies"][0]["threshold_complaints"] = 2
    _write(tmp_path, data)
    after = await env.run(activities.community_trigger_setup, "erewash")

    assert (before.policy.label, before.policy.threshold_complaints) == ("derbyshire-ct v1", 3)
    assert (after.policy.label, after.policy.threshold_complaints) == ("derbyshire-ct v2", 2)


async def test_independent_chairs_are_those_trained_for_the_process() -> None:
    """independent_chairs lists every chair trained for the Community Trigger."""
    activities = ConfigurationActivities(SHIPPED)

    chairs = await ActivityEnvironment().run(activities.independent_chairs, "community-trigger")

    assert len(chairs) == 10
    assert len({c.home_area for c in chairs}) == 8
    assert all(2 <= c.max_active_cases <= 4 for c in chairs)
    assert any(c.unavailable for c in chairs) and any(c.conflicts for c in chairs)


async def test_independent_chairs_refuses_an_unknown_process() -> None:
    """A process cspflow does not run is refused, not answered with no chairs."""
    activities = ConfigurationActivities(SHIPPED)

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.independent_chairs, "community-trigga")

    assert caught.value.type == "UnknownProcess"
    assert caught.value.non_retryable


async def test_setup_activity_parses_the_file_again_only_when_its_bytes_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is read on every call but parsed once per content (the worker's CPU, issue 5)."""
    import activities.configuration as configuration

    parsed: list[bytes] = []
    parse = configuration.parse_directory

    def counting(path: Path, raw: bytes) -> Directory:
        parsed.append(raw)
        return parse(path, raw)

    monkeypatch.setattr(configuration, "parse_directory", counting)
    data = _shipped_data()
    path = _write(tmp_path, data)
    activities = ConfigurationActivities(path)
    env = ActivityEnvironment()
    await env.run(activities.community_trigger_setup, "erewash")
    await env.run(activities.independent_chairs, "community-trigger")
    data["community_trigger_policies"][0]["threshold_complaints"] = 2  # same size, same moment
    _write(tmp_path, data)
    after = await env.run(activities.community_trigger_setup, "erewash")

    assert len(parsed) == 2
    assert after.policy.threshold_complaints == 2
