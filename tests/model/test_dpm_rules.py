"""DPM's rules by version, OS and VSS provider (hvsim/model/dpm_rules.py), each
against the published rule it cites."""

from __future__ import annotations

import pytest

from hvsim.model.dpm_rules import (
    csv_backups_serialized,
    default_parallel_backups_per_node,
    keeps_vms_online,
    scan_mode_serialized,
)


@pytest.mark.parametrize(
    ("os", "providers", "slots"),
    [
        ("2008R2", ["hardware", "software"], 1),  # any software CSV on CSV v1: one at a time
        ("2008R2", ["hardware"], 3),
        ("2012", ["software"], 3),
        ("2012R2", [], 3),
    ],
)
def test_parallel_backups_per_node_default_to_one_only_for_software_csvs_on_2008_r2(
    os, providers, slots
):
    assert default_parallel_backups_per_node(os, providers) == slots


def test_only_a_software_provider_on_a_2008_r2_cluster_serializes_a_csvs_backups():
    cases = [(os, p) for os in ("2008R2", "2012", "2012R2") for p in ("software", "hardware")]
    assert [c for c in cases if csv_backups_serialized(*c)] == [("2008R2", "software")]


def test_scans_run_in_parallel_only_on_ws2012_or_later_with_dpm_2012_sp1_or_later():
    cases = [(os, v) for os in ("2008R2", "2012", "2012R2") for v in ("2012", "2012SP1", "2012R2")]
    parallel = [c for c in cases if not scan_mode_serialized(*c)]
    assert parallel == [(os, v) for os in ("2012", "2012R2") for v in ("2012SP1", "2012R2")]


def test_only_dpm_2012_r2_ur3_or_later_on_ws2012_r2_keeps_vms_online():
    assert keeps_vms_online("2012R2", 3, "2012R2") and keeps_vms_online("2012R2", 7, "2012R2")
    assert not keeps_vms_online("2012R2", 2, "2012R2")
    assert not keeps_vms_online("2012R2", 3, "2012")
    assert not keeps_vms_online("2012SP1", 5, "2012R2")
