"""scenarios/storage-growth.yaml: a year of growth, onboarding and 30-day retention on
a pool too small for it. Its storage KPIs against DPM's formulas worked by hand, and
its pinned results."""

from __future__ import annotations

import pytest
from pytest import approx

import hvsim
from tests.builders import ROOT

MiB = 2**20


@pytest.fixture(scope="module")
def res():
    return hvsim.simulate(hvsim.load_scenario(ROOT / "scenarios" / "storage-growth.yaml"), seed=1)


def test_day_zero_allocation_is_dpms_default_formula_for_the_first_80_vms(res):
    # Hyper-V: replica 1.5 x DS, recovery points DS x 30 days x 0.1 + 1600 MB per VM
    # (source: dpm-allocation-formulas): 4.5 x DS + 1600 MiB for each of the 80 VMs
    # protected from day 0 (the 20 others join from 1 April).
    first = res.vms[res.vms["vm"].str.startswith("vm-")]
    ds = float(first["used_bytes"].sum())
    day0 = res.storage_days[res.storage_days["day"] == 0]
    assert day0["allocated_bytes"].sum() == approx(4.5 * ds + 80 * 1600 * MiB)


def test_protected_data_grows_20_percent_in_the_year(res):
    # Every VM is protected by the horizon (the last joins on 1 April + 19 x 5 days);
    # 365 days of 20 % a year: size x 1.2.
    k = res.kpis()["storage"]
    assert k["protected_bytes_end"] == approx(1.2 * float(res.vms["used_bytes"].sum()))
    assert res.kpis()["coverage"]["onboarded_after_horizon"] == 0


def test_the_pool_fills_and_says_what_the_retention_range_needs(res):
    k = res.kpis()["storage"]
    # Pinned from seed 1: the 32 TB pool is fully allocated on day 136 (21 May), after
    # which growth and the new VMs' volumes are refused.
    assert k["days_until_full"] == 136
    assert k["pool_full_failures"] == 4130
    assert k["capacity_bytes"] == approx(32e12)
    assert k["needed_bytes"] == approx(35586150643759.0)
    assert k["needed_bytes"] > k["capacity_bytes"]
