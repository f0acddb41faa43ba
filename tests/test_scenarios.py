"""The example scenarios: they load, run, keep their pinned KPIs, and are deterministic."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import hvsim
from hvsim.simulation import simulate_split
from tests.builders import EXAMPLES, ROOT, assert_same_results, cli_in_a_process

CONTRACT_KEYS = [
    "scenario",
    "seed",
    "horizon_days",
    "scan",
    "backups",
    "downtime",
    "consistency_checks",
    "migrations",
    "rpo",
    "storage",
]

# Pinned from seed 1. A model change that moves them must say why in its commit.
PINNED = {
    "small-lab": {
        ("backups", "jobs"): 140,
        ("backups", "succeeded"): 140,
        ("backups", "offline"): 28,
        ("backups", "window_compliance"): 1.0,
        ("backups", "outside_window"): 0,
        # The 1 Gbps DPM link at its default 80 % efficiency (links[].efficiency).
        ("backups", "makespan_max_s"): 7244.685,
        ("downtime", "vms_offline"): 4,
        ("downtime", "total_s"): 549.08,
        ("downtime", "per_backup_max_s"): 38.792,
        ("storage", "replica_bytes"): 723807713534.0,
        # DPM's default allocation: 20 VMs, a replica and a recovery point volume each.
        ("storage", "volumes"): 40,
        ("storage", "allocated_peak_bytes"): 1481169859069.0,
        ("storage", "steady_state_bytes"): 850269144930.0,
        ("storage", "pool_full_failures"): 0,
    },
    "csv-8node-400vm": {
        ("backups", "jobs"): 2819,
        ("backups", "succeeded"): 2800,
        ("backups", "failed"): 19,
        ("backups", "offline"): 441,
        ("backups", "window_compliance"): 0.9721,
        ("backups", "makespan_max_s"): 35227.548,
        ("downtime", "vms_offline"): 63,
        ("downtime", "total_s"): 11573.407,
        ("redirected_io", "intervals"): 2800,
        ("redirected_io", "total_s"): 170123.713,
        ("storage", "replica_bytes"): 28257251588873.0,
        # Co-located: one replica and one recovery point volume for the group.
        ("storage", "volumes"): 2,
        ("storage", "steady_state_allocated_bytes"): 57185591817746.0,
    },
    "csv-2008r2": {
        ("backups", "makespan_p50_s"): 2370.145,
        ("redirected_io", "total_s"): 170123.713,
        ("redirected_io", "throughput_ratio"): 0.7144,
        ("downtime", "total_s"): 11573.407,
    },
    "shared-nothing-migration": {
        ("migrations", "shared_nothing"): 77,
        ("migrations", "storage"): 32,
        ("migrations", "protection_breaks"): 0,
        # Moves over links at 80 % efficiency plus the 4.5 s live-migration setup; one
        # backup finds its VM still migrating and is re-run.
        ("migrations", "duration_mean_s"): 257.623,
        ("backups", "failed"): 1,
        ("consistency_checks", "count"): 30,
        ("consistency_checks", "bytes_read"): 3159143990374.0,
    },
    "patch-night-drain": {
        ("migrations", "live"): 40,
        ("migrations", "duration_mean_s"): 13.583,  # with the 4.5 s setup
        ("migrations", "protection_breaks"): 10,
        ("rpo", "recovery_points_missed"): 10,
        ("rpo", "violations"): 10,
        ("consistency_checks", "count"): 10,
    },
    # The host-or-guest pair (more in tests/test_sql_decision_example.py).
    "sql-host-level": {
        ("decision", "best_rpo_s"): 86400.029,
        ("decision", "jobs_per_day"): 40.0,
        ("decision", "bytes_per_day"): 529811287589.0,
        ("decision", "pool_peak_bytes"): 18977249888467.0,
        ("decision", "whole_vm_rto_p95_s"): 960.346,
        ("backups", "jobs"): 560,
        ("decision", "sql_database_rto_p95_s"): 967.482,
        ("restores", "count"): 25,
    },
    "sql-guest-level": {
        ("decision", "best_rpo_s"): 900.0,
        ("decision", "jobs_per_day"): 15348.071,
        ("decision", "bytes_per_day"): 869479704304.0,
        ("decision", "pool_peak_bytes"): 18504074370024.0,
        ("decision", "sql_database_rto_p95_s"): 754.035,
        ("guest", "jobs"): 214873,
        ("guest", "log_sync_jobs"): 212633,
        ("admission", "databases"): 160,
    },
    "two-groups-one-pool": {
        ("backups", "jobs"): 365,
        ("backups", "succeeded"): 364,
        # The web group's jobs queue behind the SQL group's at 22:00 and some miss 22:45.
        ("backups", "window_compliance"): 0.9286,
        ("backups", "night_span_max_s"): 3190.14,
        ("backups", "bytes"): 5515783689511.0,
        ("storage", "volumes"): 104,
    },
    "csv-2012sp1": {
        ("backups", "makespan_p50_s"): 1858.762,
        ("redirected_io", "total_s"): 0.0,
        ("downtime", "total_s"): 24274.154,
        ("downtime", "per_backup_p95_s"): 179.26,
    },
}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_scenario_runs_and_kpis_have_the_contract_keys(path):
    scenario = hvsim.load_scenario(path)
    res = hvsim.simulate(scenario, seed=1)
    # Run part by part (hvsim.parts; every example is one part), the same tables.
    assert_same_results(res, simulate_split(scenario, seed=1))
    k = res.kpis()
    assert set(CONTRACT_KEYS) <= set(k)
    assert set(k["backups"]) >= {
        "jobs",
        "succeeded",
        "failed",
        "online",
        "offline",
        "window_compliance",
    }
    assert set(k["downtime"]) >= {
        "vms_offline",
        "total_s",
        "per_backup_p50_s",
        "per_backup_p95_s",
        "per_backup_max_s",
    }
    assert set(k["storage"]) >= {"pool_peak_bytes", "replica_bytes", "recovery_point_bytes"}
    # Host-level backups, or guest-level jobs (sql-guest-level has only those).
    assert k["backups"]["jobs"] + k["guest"]["jobs"] > 0


@pytest.mark.parametrize("name", sorted(PINNED))
def test_example_scenario_kpis_are_pinned(name):
    k = hvsim.simulate(hvsim.load_scenario(ROOT / "scenarios" / f"{name}.yaml"), seed=1).kpis()
    for (section, key), expected in PINNED[name].items():
        assert k[section][key] == pytest.approx(expected, rel=1e-9), (section, key)


@pytest.mark.parametrize(
    ("name", "cluster", "seconds"), [("csv-2008r2", "prod", 8190.0), ("csv-2012sp1", "prod", 505.0)]
)
def test_platform_scenarios_pin_their_scan_durations(name, cluster, seconds):
    # 2008 R2 / DPM 2012, serialized flow shop: 8 nodes x (20 s + 100 VMs x 10 s on the
    # two-writer CSVs) + 30 s = 8190 s. 2012 / SP1, parallel: the busiest node's 50 VMs
    # (mixed one- and two-writer) 475 s + 30 s = 505 s.
    k = hvsim.simulate(hvsim.load_scenario(ROOT / "scenarios" / f"{name}.yaml"), seed=1).kpis()
    assert k["scan"][cluster]["duration_s"] == seconds


def test_small_lab_offline_vms_are_exactly_the_four_that_fail_a_requirement():
    res = hvsim.simulate(hvsim.load_scenario(ROOT / "scenarios" / "small-lab.yaml"), seed=1)
    offline = res.vms[res.vms["method"] == "offline"].set_index("vm")["offline_reason"]
    assert offline.to_dict() == {
        "legacy-linux": "Backup integration service is off; guest OS does not support VSS; "
        "a volume is not NTFS",
        "legacy-win2000": "guest OS does not support VSS",
        "legacy-dynamic": "dynamic disks in the guest",
        "legacy-stopped": "VM is not running",
    }


def _run_cli(out: Path, hashseed: str, scenario: str = "small-lab") -> None:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    example = ROOT / "scenarios" / f"{scenario}.yaml"
    cli_in_a_process(
        "run", str(example), "--out", str(out), "--seed", "7", check=True, env=env, cwd=ROOT
    )


@pytest.mark.parametrize("scenario", ["small-lab", "shared-nothing-migration"])
def test_same_scenario_and_seed_give_byte_identical_outputs_in_two_processes(tmp_path, scenario):
    _run_cli(tmp_path / "a", "1", scenario)
    _run_cli(tmp_path / "b", "12345", scenario)
    for name in ("kpis.json", "jobs.csv", "downtime.csv", "summary.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert json.loads((tmp_path / "a" / "kpis.json").read_text())["seed"] == 7


def test_a_different_seed_gives_different_draws():
    s = hvsim.load_scenario(ROOT / "scenarios" / "csv-8node-400vm.yaml")
    a = hvsim.simulate(s, seed=1).vms["used_bytes"].sum()
    b = hvsim.simulate(s, seed=2).vms["used_bytes"].sum()
    assert a != b


def test_adding_a_vm_does_not_change_the_other_vms_draws():
    s = hvsim.load_scenario(ROOT / "scenarios" / "small-lab.yaml")
    doc = s.model_dump(mode="python")
    before = hvsim.simulate(s, seed=3).vms.set_index("vm")["used_bytes"]
    bigger = s.model_copy(update={"vms": [s.vms[0].model_copy(update={"count": 17}), *s.vms[1:]]})
    after = hvsim.simulate(bigger, seed=3).vms.set_index("vm")["used_bytes"]
    assert doc["vms"][0]["count"] == 16
    assert after.loc[before.index].equals(before)


def test_patch_night_breaks_protection_only_in_the_group_without_vmm():
    res = hvsim.simulate(hvsim.load_scenario(ROOT / "scenarios" / "patch-night-drain.yaml"), 1)
    assert set(res.protection_breaks["protection_group"]) == {"without-vmm"}
    drained = res.migrations[res.migrations["trigger"] == "drain"]
    assert set(drained["from_host"]) == {"prod-n2"}
    broken = set(res.protection_breaks["vm"])
    assert broken == set(drained.loc[drained["vm"].str.startswith("b-"), "vm"])
