"""The DPM storage pool (hvsim.model.pool): DPM's default allocation, auto-grow,
retention counted in days with a point, days until full, the steady-state
projection and the storage table, with values worked out by hand."""

from __future__ import annotations

import pytest

from hvsim.model.pool import POOL_FULL, StoragePool, default_allocation
from tests.builders import base_scenario, run

GIB = 2**30
MIB = 2**20
C = 1600 * MIB  # the formulas' constant, 1600 MB (binary: 1,677,721,600 B)
TEN_GB = 10 * GIB  # auto-grow's least step, 10,737,418,240 B
DAY = 86400.0
U = 100e9  # the base VM: one 100 GB disk, all used
CHANGE = 0.03  # its daily change: 3 GB a day


def one_vm(horizon: float, retention: int, pool: dict | None = None, **vm) -> dict:
    doc = base_scenario(horizon_days=horizon)
    doc["protection_groups"][0]["retention_days"] = retention
    doc["dpm_servers"][0]["pool"].update(pool or {})
    doc["vms"][0].update(vm)
    return doc


# -- DPM's default allocation -----------------------------------------------------
def test_default_allocation_follows_dpms_formulas_by_hand():
    # Hyper-V, 100 GB kept 5 days: replica 1.5 x 100 GB = 150 GB; recovery points
    # 100 GB x 5 x 0.1 + 1600 MB = 50 GB + 1,677,721,600 B.
    assert default_allocation("hyperv", 100e9, 5) == pytest.approx((150e9, 50e9 + C))
    # Files, 1 TB kept 10 days: replica 1 TB x 3/2; points 1 TB x 10 x 2/100 + 1600 MB.
    assert default_allocation("files", 1e12, 10) == pytest.approx((1.5e12, 200e9 + C))
    # SQL, 10 GB kept 7 days, log change 6 %, alert 90 %: replica 10 GB x 1.06 / 0.85
    # = 12.4706 GB; points 2.5 x 7 x 0.06 x 10 GB + 1600 MB = 10.5 GB + C.
    assert default_allocation("sql", 10e9, 7) == pytest.approx((10e9 * 1.06 / 0.85, 10.5e9 + C))
    # Exchange: the same replica; points 4.0 x 7 x 0.06 x 10 GB = 16.8 GB + C.
    assert default_allocation("exchange", 10e9, 7)[1] == pytest.approx(16.8e9 + C)
    # SharePoint, log change 10 %: points 1.5 x 7 x 0.1 x 10 GB = 10.5 GB + C.
    assert default_allocation("sharepoint", 10e9, 7)[1] == pytest.approx(10.5e9 + C)
    # A replica is at least 1.5 GB: a 100 MB data source gets 1.5 GB, not 150 MB.
    assert default_allocation("hyperv", 100e6, 5)[0] == pytest.approx(1.5 * GIB)


# -- auto-grow -----------------------------------------------------------------------
def test_auto_grow_takes_10_gb_or_25_percent_and_waits_15_minutes():
    pool = StoragePool(name="dpm1", capacity_bytes=10e12)
    # 10 GB kept 1 day: points volume 10 GB x 1 x 0.1 + C = 2.6777 GB.
    ds = pool.allocate(0.0, "pg", "hyperv", 10e9, 1)
    assert ds.points is not None
    first = 1e9 + C
    assert ds.points.allocated_bytes == pytest.approx(first)
    # A 3 GB point does not fit: grown by max(10 GB, 25 % of 2.68 GB) = 10 GB.
    assert ds.store(100.0, "express_full", 0.0, 3e9) == ""
    assert ds.points.allocated_bytes == pytest.approx(first + TEN_GB)
    # The next day (the 3 GB pruned, retention 1 day): 14 GB do not fit 13.41 GB, and
    # 10 minutes after the growth auto-grow waits: the job fails.
    why = ds.store(100.0 + 600, "express_full", 0.0, 14e9, point_s=DAY + 1)
    assert why.startswith("DPM recovery point volume full (auto-grow waits 15 minutes")
    # 15 minutes after it: grown again by 10 GB (25 % of 13.41 GB is 3.35 GB).
    assert ds.store(100.0 + 900, "express_full", 0.0, 14e9, point_s=DAY + 2) == ""
    assert ds.points.allocated_bytes == pytest.approx(first + 2 * TEN_GB)


def test_a_large_volume_grows_by_a_quarter():
    pool = StoragePool(name="dpm1", capacity_bytes=10e12)
    # 1 TB kept 5 days: points volume 500 GB + C; a quarter (125.4 GB) beats 10 GB.
    ds = pool.allocate(0.0, "pg", "hyperv", 1e12, 5)
    assert ds.store(0.0, "express_full", 0.0, 510e9) == ""
    assert ds.points is not None
    assert ds.points.allocated_bytes == pytest.approx((500e9 + C) * 1.25)
    assert pool.allocated_bytes == pytest.approx(1.5e12 + (500e9 + C) * 1.25)


def test_growth_the_pool_cannot_give_fails_the_job_pool_full():
    # Room for the allocation (150 GB + 50 GB + C) and 5 GB more: a 10 GB step is refused.
    pool = StoragePool(name="dpm1", capacity_bytes=200e9 + C + 5e9)
    ds = pool.allocate(0.0, "pg", "hyperv", 100e9, 5)
    # 52 GB of points do not fit 51.68 GB.
    assert ds.store(3 * DAY, "express_full", 0.0, 52e9) == POOL_FULL
    assert pool.full_at_s == 3 * DAY
    assert pool.allocated_bytes == pytest.approx(200e9 + C)


def test_an_alert_is_raised_once_per_crossing_of_90_percent():
    pool = StoragePool(name="dpm1", capacity_bytes=10e12)
    # 100 GB kept 2 days: points volume 20 GB + C = 21.68 GB; 90 % is 19.51 GB.
    ds = pool.allocate(0.0, "pg", "hyperv", 100e9, 2)
    ds.store(0.0, "express_full", 0.0, 10e9)  # 10 GB: 46 %
    assert pool.alerts == 0
    ds.store(DAY, "express_full", 0.0, 10e9)  # 20 GB: 92 %, an alert
    ds.store(DAY + 60, "express_full", 0.0, 0.1e9)  # still above: no second alert
    assert pool.alerts == 1
    ds.store(2 * DAY, "express_full", 0.0, 1e9)  # day 0 pruned: 11.1 GB, below
    ds.store(3 * DAY, "express_full", 0.0, 9.5e9)  # day 1 pruned: 10.5 GB, below
    assert pool.alerts == 1
    ds.store(3 * DAY + 60, "express_full", 0.0, 9.5e9)  # 20 GB again: 92 %
    assert pool.alerts == 2


def test_the_600th_volume_is_the_last_and_a_new_data_source_is_refused():
    pool = StoragePool(name="dpm1", capacity_bytes=1e15)
    sources = [pool.allocate(0.0, "pg", "hyperv", 1e9, 5) for _ in range(301)]
    # 300 data sources x 2 volumes = 600 (source: dpm-server-limits); the 301st has none.
    assert [s.refusal for s in sources[:300]] == [""] * 300
    assert sources[300].refusal.startswith("DPM volume limit reached (600 volumes")
    assert pool.volumes == 600
    # Co-located, the group's data sources share one pair: 301 of them take 2 volumes.
    shared = StoragePool(name="dpm2", capacity_bytes=1e15, colocate=True)
    for _ in range(301):
        assert shared.allocate(0.0, "pg", "hyperv", 10e9, 5).refusal == ""
    assert shared.volumes == 2
    # Sized by the sum: 301 x (15 GB + 5 GB + C).
    assert shared.allocated_bytes == pytest.approx(301 * (20e9 + C))
    # Co-location is for Hyper-V VMs and SQL databases: an Exchange database keeps
    # its own pair.
    assert shared.allocate(0.0, "pg", "sql", 10e9, 5).refusal == ""
    assert shared.volumes == 2
    assert shared.allocate(0.0, "pg", "exchange", 10e9, 5).refusal == ""
    assert shared.volumes == 4


# -- retention in days with a successful point --------------------------------------
def test_a_failed_day_keeps_older_points_a_day_longer():
    pool = StoragePool(name="dpm1", capacity_bytes=1e15, thin=True)
    ds = pool.allocate(0.0, "pg", "hyperv", 100e9, 2)
    for day in (0, 1):
        ds.store(day * DAY + 79200, "express_full", 0.0, 1e9)
    # Day 2's backup fails (nothing stored). Day 3: the range keeps the latest 2 days
    # with a point, 1 and 3, so day 1's point stays 3 calendar days; kept by calendar
    # (2 days) it would have gone.
    ds.store(3 * DAY + 79200, "express_full", 0.0, 1e9)
    assert list(ds.days) == [1, 3]
    assert pool.used_bytes == pytest.approx(2e9)
    # With no failure (day 2 made), day 3 prunes day 1: days 2 and 3.
    ok = StoragePool(name="dpm1", capacity_bytes=1e15, thin=True)
    ds2 = ok.allocate(0.0, "pg", "hyperv", 100e9, 2)
    for day in (0, 1, 2, 3):
        ds2.store(day * DAY + 79200, "express_full", 0.0, 1e9)
    assert list(ds2.days) == [2, 3]


def test_a_point_is_kept_while_its_day_is_a_retained_day():
    # Retention 2 days: points on days 0 and 1 (22:00), day 2 fails, day 3's prunes day
    # 0: the retained days are 1 and 3. Day 0's point is gone (calendar retention would
    # have dropped it too); day 1's is kept 2 d 2 h after it was made, longer than the
    # 2 calendar days.
    pool = StoragePool(name="dpm1", capacity_bytes=1e15, thin=True)
    ds = pool.allocate(0.0, "pg", "hyperv", 100e9, 2)
    assert not ds.keeps(0.0)  # nothing stored yet
    for day in (0, 1, 3):
        ds.store(day * DAY + 79200, "express_full", 0.0, 1e9)
    assert [ds.keeps(day * DAY + 79200) for day in (0, 1, 3)] == [False, True, True]


def test_a_failed_night_in_a_run_extends_the_retained_span():
    # Retention 2 days, 4 days run (0..3), no re-runs. A consistency check requested
    # at 21:58 on day 2 reads 100 GB of source at the CSV's 500 MB/s (200 s), so the
    # 22:00 express full finds the replica inconsistent and fails: day 2 has no point.
    # At the end the range holds days 1 and 3 (day 1's point kept 3 days); with day
    # 2 made it holds days 2 and 3.
    doc = one_vm(4, 2)
    doc["dpm_servers"][0]["auto_rerun_attempts"] = 0
    clean = run(doc)
    doc["migrations"] = {
        "events": [{"vm": "vm1", "day": 2, "time": "21:58", "kind": "consistency_check"}]
    }
    res = run(doc)
    fulls = res.jobs[res.jobs["kind"] == "express_full"]
    day = (fulls["scheduled_s"] // DAY).astype(int)
    assert list(fulls["outcome"]) == ["succeeded", "failed", "succeeded"]
    assert list(day) == [1, 2, 3]
    kept = fulls.loc[day.isin([1, 3]), "bytes"].sum()
    assert res.kpis()["storage"]["recovery_point_bytes"] == pytest.approx(kept)
    # Day 1's 3 GB and day 3's (changed since the check started at 21:58 on day 2:
    # 1 day + 2 min of 3 GB a day).
    assert kept == pytest.approx(3e9 + 3e9 * (1 + 120 / DAY))
    # Without the failure: days 2 and 3, 3 GB each.
    assert clean.kpis()["storage"]["recovery_point_bytes"] == pytest.approx(6e9)


# -- days until full ------------------------------------------------------------------
@pytest.mark.parametrize("days", [1, 3])
def test_a_thin_pool_with_room_for_n_days_of_points_fills_on_day_n_plus_1(days):
    # The replica (100 GB, day 0's initial replica) and N points of 3 GB (days 1..N);
    # retention 30 days keeps them all. Day N + 1's point does not fit.
    room = U + days * U * CHANGE * (1 + 1e-9)
    res = run(one_vm(days + 3, 30, {"allocation": "thin", "capacity": f"{room:.0f} B"}))
    k = res.kpis()["storage"]
    assert k["days_until_full"] == days + 1
    fulls = res.jobs[res.jobs["kind"] == "express_full"]
    assert fulls["start_s"].min() == pytest.approx(DAY + 79200)
    ok = fulls[fulls["outcome"] == "succeeded"]
    assert len(ok) == days
    # Day N + 1 and N + 2, each with its re-run: four failed attempts, all "pool full".
    failed = fulls[fulls["outcome"] == "failed"]
    assert set(failed["failure_reason"]) == {POOL_FULL}
    assert k["pool_full_failures"] == len(failed) == 4


def test_a_dpm_default_pool_fills_when_auto_grow_cannot_have_its_step():
    # 100 GB VM changing 20 % a day, kept 3 days. Allocated at protection start:
    # replica 150 GB, points 100 GB x 3 x 0.1 + C = 31.678 GB.
    # Day 1: 20 GB point, fits. Day 2: 40 GB > 31.678: grown by max(10 GB, 7.92 GB)
    # = 10 GB to 42.415 GB. Day 3: 60 GB > 42.415: the next 10 GB step needs pool the
    # pool has not: capacity = 150 + 31.678 + 10.737 GB + 5 GB. Full on day 3.
    # (A thin pool of the same size holds 100 + 3 x 20 = 160 GB: never full.)
    capacity = 150e9 + 30e9 + C + TEN_GB + 5e9
    disks = [{"size": "100 GB", "daily_change": 0.2}]
    res = run(one_vm(5, 3, {"capacity": f"{capacity:.0f} B"}, disks=disks))
    k = res.kpis()["storage"]
    assert k["days_until_full"] == 3
    assert k["allocated_peak_bytes"] == pytest.approx(150e9 + 30e9 + C + TEN_GB)
    thin = run(one_vm(5, 3, {"capacity": f"{capacity:.0f} B", "allocation": "thin"}, disks=disks))
    assert thin.kpis()["storage"]["days_until_full"] is None


# -- the steady-state projection -------------------------------------------------------
@pytest.mark.parametrize("horizon", [3, 10])
def test_steady_state_of_one_vm_is_its_replica_plus_rr_days_of_change(horizon):
    # Retention 5 days: replica 100 GB + 5 x 3 GB = 115 GB, whether the run makes 2
    # points (3 days: days 1 and 2) or 9 (10 days).
    k = run(one_vm(horizon, 5)).kpis()["storage"]
    assert k["steady_state_bytes"] == pytest.approx(U + 5 * U * CHANGE)
    # DPM's default allocation for it: 150 GB + (100 GB x 5 x 0.1 + C); 15 GB of points
    # fit the 51.68 GB volume, so no growth.
    assert k["steady_state_allocated_bytes"] == pytest.approx(150e9 + 50e9 + C)
    assert k["needed_bytes"] == pytest.approx(150e9 + 50e9 + C)
    if horizon == 3:
        # The run itself peaks at 100 GB + 2 x 3 GB, under the steady state.
        assert k["pool_peak_bytes"] == pytest.approx(U + 2 * U * CHANGE)
        assert k["end_bytes"] == pytest.approx(U + 2 * U * CHANGE)


def test_steady_state_allocation_adds_the_growth_the_steady_state_forces():
    # Changing 20 % a day kept 3 days: 60 GB of points in a 31.678 GB volume: grown
    # 10 GB (to 42.415), 10.6 GB (25 %, to 53.019), 13.25 GB (to 66.274 GB).
    k = run(one_vm(5, 3, disks=[{"size": "100 GB", "daily_change": 0.2}])).kpis()["storage"]
    size = 30e9 + C
    for _ in range(3):
        size += max(TEN_GB, 0.25 * size)
    assert size >= 60e9 > size / 1.25
    assert k["steady_state_allocated_bytes"] == pytest.approx(150e9 + size)


# -- the storage table ---------------------------------------------------------------
def test_the_storage_table_has_a_row_per_day_group_and_volume_kind():
    res = run(one_vm(3, 5))
    t = res.storage_days
    assert list(t["day"]) == [0, 0, 1, 1, 2, 2]
    assert list(t["volume_kind"]) == ["replica", "recovery_point"] * 3
    assert set(t["protection_group"]) == {"pg"} and set(t["dpm_server"]) == {"dpm1"}
    # End of day 0: the replica (100 GB); end of day 1: one 3 GB point; day 2: two.
    assert list(t["used_bytes"]) == pytest.approx([U, 0, U, 3e9, U, 6e9])
    assert list(t["allocated_bytes"]) == pytest.approx([150e9, 50e9 + C] * 3)
    assert set(t["capacity_bytes"]) == {100e12}


@pytest.mark.parametrize("horizon", [3, 10])
def test_steady_state_of_a_guest_sql_database_by_hand(horizon):
    # A 10 GB SQL database in the simple recovery model (express fulls only, daily at
    # 22:00), changing 5 % a day, kept 7 days; its replica arrives by removable media at
    # 0, so day 0's express full holds 22 h of change and every later one a day's:
    # 0.5 GB. Steady state: 10 GB + 7 x 0.5 GB = 13.5 GB, from 3 days (fulls on days
    # 1, 2 after day 0's) or from 10.
    doc = base_scenario(horizon_days=horizon)
    vm = doc["vms"][0]
    vm["protection"] = "guest"
    vm["sql"] = {"size": "10 GB", "daily_change": 0.05, "recovery_model": "simple"}
    group = doc["protection_groups"][0]
    group.update(level="guest", retention_days=7, initial_replica="removable_media")
    k = run(doc).kpis()["storage"]
    assert k["steady_state_bytes"] == pytest.approx(10e9 + 7 * 0.5e9)
    # DPM's SQL row: replica 10 GB x 1.06 / 0.85; points 2.5 x 7 x 0.06 x 10 GB + C
    # = 10.5 GB + C, which holds 3.5 GB: no growth.
    assert k["steady_state_allocated_bytes"] == pytest.approx(10e9 * 1.06 / 0.85 + 10.5e9 + C)
    if horizon == 3:
        # The run holds the replica and 3 points: 22/24 x 0.5 GB + 2 x 0.5 GB.
        assert k["end_bytes"] == pytest.approx(10e9 + 0.5e9 * (22 / 24 + 2))


def test_the_9000th_disk_snapshot_is_the_last_on_a_server():
    # 9,000 disk snapshots per DPM server (source: dpm-server-limits): express fulls
    # count, synchronizations do not.
    pool = StoragePool(name="dpm1", capacity_bytes=1e15, colocate=True)
    sources = [pool.allocate(0.0, "pg", "hyperv", 1e9, 448) for _ in range(100)]
    for day in range(90):
        for ds in sources:
            assert ds.store(day * DAY, "express_full", 0.0, 1.0) == ""
    assert pool.disk_snapshots == 9000
    assert sources[0].store(90 * DAY, "log_sync", 0.0, 1.0) == ""
    why = sources[0].store(90 * DAY, "express_full", 0.0, 1.0)
    assert why == "DPM disk snapshot limit reached (9,000 on dpm1)"
    assert pool.peak_disk_snapshots == 9000


def test_the_last_row_is_the_state_at_the_horizon_not_after_it():
    # Horizon 1.5 days: rows for day 0 (its end) and day 1 (ends at the horizon). A
    # point kept at 0.5 days shows on both; one kept at 1.6 days (a re-run after the
    # horizon) on neither, nor in the state at the horizon.
    pool = StoragePool(name="dpm1", capacity_bytes=1e15, thin=True, horizon_s=1.5 * DAY)
    ds = pool.allocate(0.0, "pg", "hyperv", 100e9, 5)
    ds.store(0.5 * DAY, "express_full", 0.0, 1e9)
    ds.store(1.6 * DAY, "express_full", 0.0, 2e9)
    pool.finish()
    points = [(day, used) for day, _, kind, used, _ in pool.rows if kind == "recovery_point"]
    assert points == [(0, 1e9), (1, 1e9)]
    assert pool.horizon_used_bytes == 1e9
    assert pool.used_bytes == 3e9


def test_a_volume_is_not_extended_without_an_ldm_slot():
    # 2,960 LDM slots; a new volume takes 3, each extension 1 (source: dpm-auto-grow).
    # 300 data sources take 600 volumes x 3 = 1,800 slots: 1,160 extensions are left.
    pool = StoragePool(name="dpm1", capacity_bytes=1e15)
    sources = [pool.allocate(0.0, "pg", "hyperv", 1e9, 1) for _ in range(300)]
    assert pool.ldm_slots == 1800
    # Points volumes of 0.1 GB + C = 1.78 GB, kept 1 day. Points of 2 GB + 11 GiB x day
    # (2, 13.8, 25.6, 37.4 GB) outgrow it each day, and each day's growth of 10 GiB
    # (10.74 GB, more than 25 % of it) just holds them: 12.5, 23.2, 34.0, 44.7 GB.
    # 290 data sources x 4 growths = 1,160 slots.
    for ds in sources[:290]:
        for day in range(4):
            assert ds.store(day * DAY, "express_full", 0.0, 2e9 + day * 11 * GIB) == ""
    assert pool.ldm_slots == 2960
    why = sources[299].store(0.0, "express_full", 0.0, 2e9)
    assert why == "DPM recovery point volume full (no LDM slot left to extend it)"
