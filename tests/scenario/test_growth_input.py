"""vms[].growth_per_year, protect_from and onboarding as a planner writes them: the
forms taken, the errors (one line naming the field and the value), when each VM's
protection starts, and the warning for VMs onboarded after the horizon."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hvsim import scenario_from_dict
from hvsim.scenario.warnings import scenario_warnings
from tests.builders import base_scenario, cli, problems_of, where, write_scenario


def with_vm(**vm: Any) -> dict[str, Any]:
    doc = base_scenario()
    doc["vms"][0].update(vm)
    return doc


@pytest.mark.parametrize(("given", "fraction"), [(0.2, 0.2), ("20 %", 0.2), ("5%", 0.05), (0, 0.0)])
def test_growth_per_year_is_a_fraction_or_a_percentage(given, fraction):
    spec = scenario_from_dict(with_vm(growth_per_year=given)).vms[0]
    assert spec.growth_per_year == pytest.approx(fraction, rel=1e-12)


@pytest.mark.parametrize("given", [20, "20", -0.1, "120 %", "fast", float("nan"), True])
def test_growth_per_year_outside_0_to_1_or_not_a_fraction_is_refused(given):
    (line,) = problems_of(with_vm(growth_per_year=given))
    assert line.startswith("f.yaml: vms[0].growth_per_year: ")


def test_a_protect_from_date_before_start_date_is_refused_naming_both():
    (line,) = problems_of(with_vm(protect_from="2025-12-31"))
    assert line == (
        "f.yaml: vms[0].protect_from: before start_date 2026-01-05; protection starts on "
        "start_date or later (2025-12-31)"
    )


def test_an_onboarding_start_before_start_date_is_refused():
    (line,) = problems_of(with_vm(onboarding={"start": "2026-01-01", "per_day": 5}))
    assert line.startswith("f.yaml: vms[0].onboarding.start: before start_date 2026-01-05")


def test_protect_from_and_onboarding_together_are_refused():
    (line,) = problems_of(with_vm(protect_from=3, onboarding={"per_day": 5}))
    assert line.startswith(
        "f.yaml: vms[0]: give protect_from (one date for all the entry's VMs) or onboarding "
        "(a rate), not both"
    )


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("protect_from", -1, "vms[0].protect_from"),
        ("protect_from", 2.5, "vms[0].protect_from"),
        ("protect_from", "next week", "vms[0].protect_from"),
        ("protect_from", "2026-02-30", "vms[0].protect_from"),
        ("onboarding", {"start": 0, "per_day": 0}, "vms[0].onboarding.per_day"),
        ("onboarding", {"start": 0}, "vms[0].onboarding.per_day"),
        ("onboarding", {"start": 4000, "per_day": 1}, "vms[0].onboarding.start"),
    ],
)
def test_bad_days_and_rates_name_their_field(field, value, path):
    (line,) = problems_of(with_vm(**{field: value}))
    assert line.startswith(f"f.yaml: {path}: ")


def test_protection_start_days_by_date_day_number_or_rate():
    # start_date 2026-01-05: 2026-03-01 is 55 days later (Jan 5 -> Feb 5 is 31 days,
    # Feb 5 -> Mar 1 is 24 in a 28-day February: 55).
    start = dt.date(2026, 1, 5)
    by_date = scenario_from_dict(with_vm(protect_from="2026-03-01", count=2, name="v{i}"))
    assert by_date.vms[0].protection_start_days(start) == [55.0, 55.0]
    by_day = scenario_from_dict(with_vm(protect_from=7))
    assert by_day.vms[0].protection_start_days(start) == [7.0]
    # Three VMs from 2026-01-07 (day 2) at 2 a day: days 2, 2.5, 3.
    rate = scenario_from_dict(
        with_vm(count=3, name="v{i}", onboarding={"start": "2026-01-07", "per_day": 2})
    )
    assert rate.vms[0].protection_start_days(start) == [2.0, 2.5, 3.0]
    assert scenario_from_dict(with_vm()).vms[0].protection_start_days(start) == [0.0]


def test_vms_onboarded_at_or_after_the_horizon_are_warned_about():
    # Horizon 1 day; 4 VMs at 2 a day from day 0 join at 0, 0.5, 1, 1.5: two late.
    doc = with_vm(count=4, name="v{i}", onboarding={"per_day": 2})
    warnings = scenario_warnings(scenario_from_dict(doc), "f.yaml")
    assert warnings == [
        "f.yaml: vms[0].onboarding: warning: 2 of 4 VMs of this entry start being protected "
        "at or after the horizon of 1 days; nothing starts then, so they get no backups in "
        "the run"
    ]


def test_hvsim_validate_exits_2_on_a_date_before_start_date(tmp_path, capsys):
    path = write_scenario(tmp_path, with_vm(protect_from="2025-06-01"))
    code, out, err = cli(capsys, "validate", str(path))
    assert code == 2
    assert err == [
        f"{where(path, 'protect_from:')}: vms[0].protect_from: before start_date 2026-01-05; "
        "protection starts on start_date or later (2025-06-01)"
    ]
