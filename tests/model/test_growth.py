"""Growth of protected data (vms[].growth_per_year, compounded over 365-day years as
Veeam's Restore Point Simulator grows data, source: veeam-rps) and onboarding
(vms[].protect_from, vms[].onboarding) through the whole simulator. Every expected
value is worked out by hand in the test's comment."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hvsim.scenario.loader import scenario_from_dict
from hvsim.world import build_world
from tests.builders import INSTANT_WRITERS, base_scenario, run

DAY = 86400.0
YEAR = 365 * DAY
SIZE0 = 100e9  # base_scenario's VM: one 100 GB disk, all in use, 3 % daily change
G = 0.2  # 20 % a year


def grown(t_s: float, size: float = SIZE0, g: float = G) -> float:
    """The compounded size at t_s, written out: size x (1 + g)^(t / 365 days)."""
    return size * (1 + g) ** (t_s / YEAR)


def one_vm(horizon_days: float, times: list[str] | None = None, **vm: Any) -> dict[str, Any]:
    doc = base_scenario(
        horizon_days=horizon_days,
        vss=INSTANT_WRITERS,
        vms=[{"name": "vm1", "cluster": "c1", "csv": "csv1", "growth_per_year": G, **vm}],
    )
    doc["protection_groups"][0]["express_full_times"] = times or ["00:00"]
    return doc


def test_a_vms_used_bytes_compound_to_size_times_1_plus_g_each_365_days():
    # 100 GB at 20 % a year: 120 GB after 365 days, 144 GB after 730, and after half
    # a year 100 x 1.2^0.5 = 109.5445 GB; at the start, the given size.
    world = build_world(scenario_from_dict(one_vm(1)), 1)
    (vm,) = world.vms
    assert vm.used_bytes_at(0.0) == SIZE0
    assert vm.used_bytes_at(365 * DAY) == pytest.approx(120e9, rel=1e-12)
    assert vm.used_bytes_at(730 * DAY) == pytest.approx(144e9, rel=1e-12)
    assert vm.used_bytes_at(182.5 * DAY) == pytest.approx(100e9 * math.sqrt(1.2), rel=1e-12)


def test_a_vm_onboarded_on_day_365_copies_size_times_1_plus_g_in_its_initial_replica():
    # protect_from 2027-01-05 is 365 days after start_date 2026-01-05 (2026 is no leap
    # year). Nothing runs before it; the first job is the express full of 00:00 that
    # day, which makes the initial replica: 100 GB x 1.2 = 120 GB.
    res = run(one_vm(365.5, protect_from="2027-01-05"))
    (job,) = res.jobs.itertuples()
    assert (job.kind, job.outcome) == ("initial_replica", "succeeded")
    assert job.scheduled_s == 365 * DAY
    assert job.bytes == pytest.approx(120e9, rel=1e-12)
    vms = res.vms.set_index("vm")
    assert vms.loc["vm1", "protection_start_s"] == 365 * DAY
    # At the horizon (365.5 days) the disks hold 100 GB x 1.2^(365.5/365).
    assert vms.loc["vm1", "used_bytes_end"] == pytest.approx(grown(365.5 * DAY), rel=1e-12)
    storage = res.kpis()["storage"]
    # Not protected at the start; protected at the horizon, grown.
    assert storage["protected_bytes_start"] == 0.0
    assert storage["protected_bytes_end"] == pytest.approx(grown(365.5 * DAY), abs=1)
    assert storage["replica_bytes"] == pytest.approx(120e9, abs=1)


def test_an_express_full_after_a_year_of_growth_sends_daily_change_of_size_times_1_plus_g():
    # Removable media on day 364: the replica arrives then (100 GB x 1.2^(364/365));
    # the express full at 364 d 00:00 sends nothing (no time has passed), the one at
    # 365 d sends a day's change of the size then: 3 % x 100 GB x 1.2 = 3.6 GB.
    doc = one_vm(365.5, protect_from=364)
    doc["protection_groups"][0]["initial_replica"] = "removable_media"
    res = run(doc)
    jobs = res.jobs
    assert list(jobs["kind"]) == ["express_full", "express_full"]
    assert list(jobs["scheduled_s"]) == [364 * DAY, 365 * DAY]
    assert jobs["bytes"].to_numpy() == pytest.approx([0.0, 3.6e9], rel=1e-12)
    # The replica on the pool grew with the VM: the size at 365 d, 120 GB; the
    # recovery points hold the two fulls' bytes (kept 5 days).
    storage = res.kpis()["storage"]
    assert storage["replica_bytes"] == pytest.approx(120e9, abs=1)
    assert storage["recovery_point_bytes"] == pytest.approx(3.6e9, abs=1)


def test_a_consistency_check_reads_the_grown_source_and_the_replica_as_of_its_last_job():
    # No change (daily_change 0), 20 % a year. The replica arrives by removable media
    # on day 365: 120 GB. A check requested at 365 d 06:00 reads the VM's disks then,
    # 100 GB x 1.2^(365.25/365), and the replica, 120 GB, and sends nothing; the
    # replica on the pool then holds the VM as of the check.
    doc = one_vm(
        365.5,
        times=["23:00"],
        protect_from=365,
        disks=[{"size": "100 GB", "daily_change": 0}],
    )
    doc["protection_groups"][0]["initial_replica"] = "removable_media"
    doc["migrations"] = {
        "events": [{"vm": "vm1", "kind": "consistency_check", "day": 365, "time": "06:00"}]
    }
    res = run(doc)
    (cc,) = res.consistency_checks.itertuples()
    source = grown(365.25 * DAY)
    assert cc.bytes_read == pytest.approx(source + 120e9, rel=1e-12)
    assert cc.bytes_sent == 0.0
    assert res.kpis()["storage"]["replica_bytes"] == pytest.approx(source, abs=1)


def test_a_whole_vm_restore_moves_the_vm_as_it_was_at_its_recovery_point():
    # The initial replica at 365 d is the only point; a whole VM restored at 365 d
    # 06:00 brings back 120 GB (the VM then has grown a little more: not restored).
    doc = one_vm(365.5, protect_from=365)
    doc["restores"] = {"events": [{"vm": "vm1", "kind": "whole_vm", "day": 365, "time": "06:00"}]}
    (row,) = run(doc).restores.itertuples()
    assert row.outcome == "succeeded"
    assert row.recovery_point_s == 365 * DAY
    assert row.bytes == pytest.approx(120e9, rel=1e-12)


def test_a_storage_migration_copies_the_vms_disks_as_they_are_now():
    # daily_change 0: no mirror pass; the move at day 365 copies 120 GB.
    doc = one_vm(365.5, disks=[{"size": "100 GB", "daily_change": 0}], protect_from=366)
    doc["clusters"][0]["csvs"].append(dict(doc["clusters"][0]["csvs"][0], name="csv2"))
    doc["migrations"] = {
        "events": [
            {"vm": "vm1", "kind": "storage", "target": "c1/csv2", "day": 365, "time": "00:00"}
        ]
    }
    (mig,) = run(doc).migrations.itertuples()
    assert mig.storage_bytes == pytest.approx(120e9, rel=1e-12)


def test_guest_data_sources_grow_their_size_and_log_with_their_vm():
    # A SQL database of 200 GB writing 8.64 GB of log a day (100 kB/s), 20 % a year,
    # protected from day 365 over the network: the first job (the express full at
    # 365 d 00:00, which is also that time's sync) makes the initial replica,
    # 200 GB x 1.2 = 240 GB. The log sync at 365 d + 15 min sends 15 min of log at
    # the rate of the size then: 1e5 B/s x 900 s x 1.2^((365 d + 900 s) / 365 d).
    doc = base_scenario(
        horizon_days=365 + 1800 / DAY,  # two sync times: 365 d and 365 d + 15 min
        vss=INSTANT_WRITERS,
        protection_groups=[
            {
                "name": "pg",
                "dpm_server": "dpm1",
                "members": ["*"],
                "level": "guest",
                "express_full_times": ["00:00"],
            }
        ],
        vms=[
            {
                "name": "sql-1",
                "cluster": "c1",
                "csv": "csv1",
                "protection": "guest",
                "growth_per_year": "20 %",
                "protect_from": 365,
                "sql": {"size": "200 GB", "log_per_day": "8.64 GB"},
            }
        ],
    )
    res = run(doc)
    jobs = res.jobs
    assert list(jobs["kind"]) == ["initial_replica", "log_sync"]
    assert jobs["scheduled_s"].tolist() == [365 * DAY, 365 * DAY + 900]
    assert jobs["bytes"].iloc[0] == pytest.approx(240e9, rel=1e-12)
    log = 1e5 * 900 * 1.2 ** ((365 * DAY + 900) / YEAR)
    assert jobs["bytes"].iloc[1] == pytest.approx(log, rel=1e-12)
    ds = res.data_sources.iloc[0]
    assert ds["size_bytes_end"] == pytest.approx(grown(365 * DAY + 1800, 200e9), rel=1e-12)


def test_onboarding_two_a_day_starts_protection_every_half_day_in_the_entrys_order():
    # Five VMs from day 1 at 2 a day: VM k joins at day 1 + k / 2 = 1, 1.5, 2, 2.5,
    # 3. Express fulls at 00:00 and 12:00, so each VM's initial replica is the job at
    # its start; the fifth joins at the horizon (3 days): never protected, no jobs.
    doc = base_scenario(
        horizon_days=3,
        vss=INSTANT_WRITERS,
        vms=[
            {
                "name": "v{i}",
                "count": 5,
                "cluster": "c1",
                "csv": "csv1",
                "disks": [{"size": "10 GB"}],
                "onboarding": {"start": 1, "per_day": 2},
            }
        ],
    )
    doc["protection_groups"][0]["express_full_times"] = ["00:00", "12:00"]
    res = run(doc)
    starts = res.vms.set_index("vm")["protection_start_s"]
    assert starts.tolist() == [1 * DAY, 1.5 * DAY, 2 * DAY, 2.5 * DAY, 3 * DAY]
    jobs = res.jobs
    first = jobs[jobs["kind"] == "initial_replica"].set_index("vm")["scheduled_s"]
    assert first.to_dict() == {"v1": DAY, "v2": 1.5 * DAY, "v3": 2 * DAY, "v4": 2.5 * DAY}
    # Nothing before a VM's start: v1 has the jobs of 1, 1.5, 2 and 2.5 days, v4 one.
    assert jobs.groupby("vm").size().to_dict() == {"v1": 4, "v2": 3, "v3": 2, "v4": 1}
    assert "v5" not in set(jobs["vm"])
    k = res.kpis()
    assert k["coverage"]["onboarded_after_horizon"] == 1
    assert k["coverage"]["unprotected_vm_names"] == ["v5"]
    assert k["coverage"]["protected_vms"] == 4
    # No VM misses its RPO: each is judged from its own start (v5 not at all).
    assert k["rpo"]["violations"] == 0
    assert k["rpo"]["recovery_points_missed"] == 0


def test_a_vm_not_protected_yet_migrates_without_a_protection_break_and_cannot_be_restored():
    # The VM joins on day 2. On day 0 at 12:00 it live-migrates (DPM without VMM
    # integration would break a protected VM's protection) and a restore of it is
    # requested: it moves, nothing of DPM's breaks, the restore fails as not protected
    # yet. From day 2 its backups run.
    doc = one_vm(3, times=["22:00"], protect_from=2, growth_per_year=0)
    doc["migrations"] = {
        "events": [{"vm": "vm1", "kind": "live", "target": "c1-n2", "day": 0, "time": "12:00"}]
    }
    doc["restores"] = {"events": [{"vm": "vm1", "kind": "whole_vm", "day": 0, "time": "12:00"}]}
    res = run(doc)
    (mig,) = res.migrations.itertuples()
    assert mig.protection == "unprotected"
    assert res.protection_breaks.empty
    (restore,) = res.restores.itertuples()
    assert restore.outcome == "failed"
    assert restore.failure_reason == (
        "not protected yet: its protection starts on day 2 (protect_from or onboarding)"
    )
    assert res.jobs[["kind", "scheduled_s", "outcome"]].values.tolist() == [
        ["initial_replica", 2 * DAY + 22 * 3600, "succeeded"]
    ]


def test_growth_0_and_protection_from_day_0_leave_the_jobs_as_without_them():
    plain = run(one_vm(2, growth_per_year=0))
    keyed = run(one_vm(2, growth_per_year=0, protect_from="2026-01-05"))
    cols = ["kind", "vm", "scheduled_s", "start_s", "end_s", "bytes", "outcome"]
    assert keyed.jobs[cols].equals(plain.jobs[cols])
    assert plain.vms["protection_start_s"].tolist() == [0.0]
    assert keyed.vms["protection_start_s"].tolist() == [0.0]
    assert keyed.kpis()["storage"] == plain.kpis()["storage"]
