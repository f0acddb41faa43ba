"""protection_groups[].start_offset and dpm_servers[].job_order as a planner writes
them: the forms taken and the errors (one line naming the field and the value; exit
status 2 from the CLI)."""

from __future__ import annotations

from typing import Any

import pytest

from hvsim import scenario_from_dict
from tests.builders import base_scenario, cli, problems_of, where, write_scenario

OFFSET_RANGE = (
    "start_offset must be from 0 s to less than 24 h (a later time of day is a "
    "different express full time: give express_full_times instead)"
)


def with_offset(value: Any) -> dict[str, Any]:
    doc = base_scenario()
    doc["protection_groups"][0]["start_offset"] = value
    return doc


@pytest.mark.parametrize(
    ("given", "seconds"), [("90 min", 5400.0), ("1 h", 3600.0), (0, 0.0), ("23 h", 82800.0)]
)
def test_start_offset_is_a_duration_under_a_day(given, seconds):
    assert scenario_from_dict(with_offset(given)).protection_groups[0].start_offset == seconds


def test_start_offset_defaults_to_zero_and_job_order_to_dpms():
    scenario = scenario_from_dict(base_scenario())
    assert scenario.protection_groups[0].start_offset == 0.0
    assert scenario.dpm_servers[0].job_order == "dpm"


@pytest.mark.parametrize("given", ["24 h", "1 d", "25 h", "-5 min", -300])
def test_an_offset_of_a_day_or_more_or_negative_is_refused_with_its_range(given):
    (line,) = problems_of(with_offset(given))
    assert line == f"f.yaml: protection_groups[0].start_offset: {OFFSET_RANGE} ({given!r})"


def test_an_offset_that_is_no_duration_is_refused():
    (line,) = problems_of(with_offset("soon"))
    assert line == (
        "f.yaml: protection_groups[0].start_offset: expected a duration such as '30 s' ('soon')"
    )


def test_an_unknown_job_order_is_refused_naming_the_choices(tmp_path, capsys):
    doc = base_scenario()
    doc["dpm_servers"][0]["job_order"] = "shortest_first"
    path = write_scenario(tmp_path, doc)
    code, _, err = cli(capsys, "validate", str(path))
    assert code == 2
    assert err == [
        f"{where(path, 'job_order:')}: dpm_servers[0].job_order: Input should be 'dpm' or "
        "'longest_first' ('shortest_first')"
    ]
