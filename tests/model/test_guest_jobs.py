"""Guest-level jobs in the SimPy model: log synchronizations, express fulls, file
points, the SharePoint catalog and Exchange's eseutil check, through the same
flows and slots as host-level jobs. Every expected value is worked out by hand in
the test's comment."""

from __future__ import annotations

import time
from typing import Any

import pytest

import hvsim
from hvsim.estimate import estimate_run
from hvsim.scenario.loader import scenario_from_dict
from hvsim.world import build_world

DAY = 86400.0
H = 3600.0


def estate(vms: list[dict], groups: list[dict], horizon_days: float = 2, **dpm: Any) -> dict:
    """One standalone host and one DPM server on a 10 GbE link (1 GB/s after DPM's
    80 % efficiency); the pool writes at 100 MB/s unless ``dpm`` says otherwise, so
    the pool is every transfer's bottleneck."""
    return {
        "name": "guest-jobs",
        "horizon_days": horizon_days,
        "start_date": "2026-01-05",  # a Monday
        "hosts": [
            {
                "name": "h1",
                "os": "2012R2",
                "storage": {"capacity": "1000 TB", "read": "10 GB/s", "write": "10 GB/s"},
            }
        ],
        "links": [{"between": ["h1", "dpm1"], "bandwidth": "10 Gbps"}],
        "dpm_servers": [
            {
                "name": "dpm1",
                "version": "2012R2",
                "pool": {"capacity": "10 PB", "write": "100 MB/s", "read": "10 GB/s"},
                **dpm,
            }
        ],
        "protection_groups": [
            {
                "level": "guest",
                "dpm_server": "dpm1",
                "express_full_times": ["20:00"],
                "initial_replica": "removable_media",
                **g,
            }
            for g in groups
        ],
        "vms": [
            {
                "host": "h1",
                "memory": "1 GiB",
                "disks": [{"size": "20 GiB"}],
                "protection": "guest",
                **v,
            }
            for v in vms
        ],
    }


def run(doc: dict) -> hvsim.Results:
    return hvsim.simulate(scenario_from_dict(doc, "t"), seed=1)


def one_sql(**sql: Any) -> dict:
    db = {"size": "200 GB", "log_per_day": "9.6 GB", "daily_change": 0.03, **sql}
    return estate([{"name": "sql-1", "sql": db}], [{"name": "pg", "members": ["sql-1"]}])


# -- SQL in the full recovery model ----------------------------------------------
def test_full_recovery_sql_with_15_min_syncs_log_syncs_and_their_bytes_in_a_day():
    # Day 1 (86,400 to 172,800 s) has 96 quarter hours; the one at 20:00 is the
    # express full, so 95 log syncs. Log: 9.6 GB a day = 100 MB a quarter hour. Each
    # sync sends the log since the last sync: 100 MB, except the one at 20:15, whose
    # last sync was 19:45 (an express full does not back up or truncate SQL's log):
    # 200 MB. Together the day's log, 9.6 GB.
    res = run(one_sql())
    jobs = res.jobs
    day1 = jobs[(jobs["scheduled_s"] >= DAY) & (jobs["scheduled_s"] < 2 * DAY)]
    syncs = day1[day1["kind"] == "log_sync"]
    assert len(syncs) == 95
    assert (syncs["outcome"] == "succeeded").all()
    after_full = syncs["scheduled_s"] == DAY + 20.25 * H
    assert syncs.loc[~after_full, "bytes"].to_numpy() == pytest.approx([100e6] * 94, rel=1e-9)
    assert syncs.loc[after_full, "bytes"].to_numpy() == pytest.approx([200e6], rel=1e-9)
    assert syncs["bytes"].sum() == pytest.approx(9.6e9, rel=1e-9)
    assert (syncs["data_source"] == "sql-1/sql1").all()
    assert (syncs["workload"] == "sql").all()
    # One express full: the blocks changed since the last one, 3 % of 200 GB a day.
    fulls = day1[day1["kind"] == "express_full"]
    assert fulls["bytes"].to_numpy() == pytest.approx([6e9], rel=1e-9)


def test_full_recovery_sql_makes_a_recovery_point_per_sync_96_a_day():
    # 95 log syncs + 1 express full on day 1, each a recovery point: 96, one every
    # 15 min, so the RPO achieved is 900 s.
    res = run(one_sql())
    rp = res.guest_recovery_points
    day1 = rp[(rp["time_s"] >= DAY) & (rp["time_s"] < 2 * DAY)]
    assert len(day1) == 96
    assert (day1["kind"] == "log_sync").sum() == 95
    assert (day1["kind"] == "express_full").sum() == 1
    ds = res.data_sources.set_index("data_source").loc["sql-1/sql1"]
    assert ds["rpo_s"] == 900.0 and ds["sync_interval_s"] == 900.0
    guest = res.kpis()["guest"]
    assert guest["rpo_p50_s"] == 900.0
    assert (guest["data_sources"], guest["sql_databases"]) == (1, 1)


def test_a_simple_recovery_database_gets_express_full_points_only():
    # No log syncs at all; an express full a day at 20:00: day 0's sends the blocks
    # changed since the replica arrived at 00:00 (20 h of 3 % a day of 200 GB: 5 GB),
    # day 1's a whole day's (6 GB). Points: the replica at 0 and the two fulls.
    res = run(one_sql(recovery_model="simple"))
    assert set(res.jobs["kind"]) == {"express_full"}
    assert res.jobs["bytes"].to_numpy() == pytest.approx([5e9, 6e9], rel=1e-9)
    assert list(res.guest_recovery_points["kind"]) == [
        "initial_replica",
        "express_full",
        "express_full",
    ]
    # The RPO achieved is a day (between the two express fulls; the replica's
    # arrival at 0 to the first full is 20 h).
    assert res.data_sources["worst_gap_s"].iloc[0] == DAY


def test_the_restore_chain_is_the_express_full_before_the_point_and_the_syncs_since():
    # At 21:00 on day 1: the latest point is that time's log sync; under it the
    # express full of 20:00 and the syncs of 20:15, 20:30, 20:45 and 21:00.
    world = build_world(scenario_from_dict(one_sql(), "t"), 1)
    hvsim.simulation.run_world(world)
    replica = world.guest_replicas[0]
    full, syncs = replica.restore_chain(DAY + 21 * H)
    assert (replica.point_kind[full], replica.point_time_s[full]) == ("express_full", DAY + 20 * H)
    assert [replica.point_time_s[i] for i in syncs] == [
        DAY + 20.25 * H,
        DAY + 20.5 * H,
        DAY + 20.75 * H,
        DAY + 21 * H,
    ]
    assert {replica.point_kind[i] for i in syncs} == {"log_sync"}


# -- Exchange: one database at a time per group, groups in parallel -----------------
def exchange_vm(name: str, **db: Any) -> dict:
    return {
        "name": name,
        "exchange": {
            "size": "100 GB",
            "log_per_day": "12 GB",
            "daily_change": 0.03,
            "eseutil": False,
            **db,
        },
    }


def express_fulls_day0(res: hvsim.Results) -> list[float]:
    """Start and end of each express full of day 0, seconds after 20:00, flat."""
    j = res.jobs[(res.jobs["kind"] == "express_full") & (res.jobs["scheduled_s"] < DAY)]
    pairs = sorted(zip(j["start_s"] - 20 * H, j["end_s"] - 20 * H, strict=True))
    return [t for pair in pairs for t in pair]


# Each 20:00 express full sends 20 h of 3 % a day of 100 GB (2.5 GB) and the 2 h of
# log since the 18:00 sync (12 GB a day: 1 GB): 3.5 GB, 35 s at the pool's 100 MB/s.


def test_two_exchange_databases_in_one_group_back_up_one_after_the_other():
    doc = estate(
        [exchange_vm("ex-1"), exchange_vm("ex-2")],
        [{"name": "pg", "members": ["ex-*"]}],
        horizon_days=1,
    )
    res = run(doc)
    assert res.kpis()["guest"]["exchange_databases"] == 2
    # The second waits for the first (0 to 35 s) and starts at 35 s. Its 18:00 sync
    # had waited the same way, for the first's 1 GB (10 s), so it starts at 18:00:10:
    # its express full sends 20 h + 35 s of change and 2 h + 25 s of log.
    second = 2.5e9 + 3e9 * 35 / 86400 + 1e9 + 12e9 * 25 / 86400
    assert express_fulls_day0(res) == pytest.approx(
        [0.0, 35.0, 35.0, 35.0 + second / 100e6], abs=1e-6
    )


def test_two_exchange_databases_in_two_groups_back_up_at_once():
    doc = estate(
        [exchange_vm("ex-1"), exchange_vm("ex-2")],
        [{"name": "pg1", "members": ["ex-1"]}, {"name": "pg2", "members": ["ex-2"]}],
        horizon_days=1,
    )
    res = run(doc)
    # Both at once, sharing the pool's 100 MB/s: 7 GB in 70 s, both end at 70 s.
    assert express_fulls_day0(res) == pytest.approx([0.0, 70.0, 0.0, 70.0], abs=1e-6)


def test_nine_exchange_groups_run_eight_at_once():
    # Exchange runs up to eight database backups in parallel (source:
    # dpm-exchange-protection); the DPM server's own job slots are raised to 16 so
    # that only Exchange's limit holds. Eight share 100 MB/s: 3.5 GB each at
    # 12.5 MB/s, 280 s; the ninth starts then and runs alone. Its 18:00 sync had
    # waited the same way, for eight 1 GB syncs (80 s): its express full sends 20 h +
    # 280 s of change and 2 h + 200 s of log.
    vms = [exchange_vm(f"ex-{i}") for i in range(9)]
    groups = [{"name": f"pg{i}", "members": [f"ex-{i}"]} for i in range(9)]
    res = run(estate(vms, groups, horizon_days=1, max_parallel_jobs=16))
    ninth = 2.5e9 + 3e9 * 280 / 86400 + 1e9 + 12e9 * 200 / 86400
    assert express_fulls_day0(res) == pytest.approx(
        [0.0, 280.0] * 8 + [280.0, 280.0 + ninth / 100e6], abs=1e-6
    )


def test_eseutil_reads_the_replica_on_the_dpm_server_at_its_rate():
    # After the 20:00 express full (35 s), Eseutil checks the 100 GB database at
    # 225 MB/s (source: eseutil-throughput): 444.44 s, in the same job's slots. A DAG
    # copy checks log files only: the 1 GB of log the full took, 4.44 s.
    for copies, read in ((1, 100e9), (2, 1e9)):
        doc = estate(
            [exchange_vm("ex-1", eseutil=True, dag_copies=copies)],
            [{"name": "pg", "members": ["ex-1"]}],
            horizon_days=1,
        )
        res = run(doc)
        j = res.jobs
        check = j[(j["kind"] == "eseutil") & (j["scheduled_s"] == 20 * H)].iloc[0]
        assert check["bytes"] == pytest.approx(read, rel=1e-9)
        assert check["start_s"] == pytest.approx(20 * H + 35.0, abs=1e-6)
        assert check["end_s"] - check["start_s"] == pytest.approx(read / 225e6, rel=1e-9)


# -- SharePoint: express fulls only and the catalog after the first point ------------
def test_sharepoint_gets_express_fulls_and_a_catalog_catalog_offset_after_them():
    # Express fulls at 20:00 only (no syncs); the catalog 60 min (the default
    # CatalogOffset) after the day's first express full: 21:00. 10 million items:
    # 2 GB of catalog (source: dpm-sharepoint-protection), 20 s at 100 MB/s.
    farm = {"content_databases": 4, "size": "50 GB", "items": 10_000_000}
    doc = estate([{"name": "sp-1", "sharepoint": farm}], [{"name": "pg", "members": ["sp-1"]}])
    res = run(doc)
    kinds = res.jobs.groupby("kind").size().to_dict()
    assert kinds == {"express_full": 2, "catalog": 2}
    cat = res.jobs[res.jobs["kind"] == "catalog"]
    assert list(cat["start_s"]) == [21 * H, DAY + 21 * H]
    assert cat["bytes"].to_numpy() == pytest.approx([2e9, 2e9])
    assert (cat["end_s"] - cat["start_s"]).to_numpy() == pytest.approx([20.0, 20.0])
    assert res.kpis()["guest"]["sharepoint_farms"] == 1


# -- file volumes: syncs make no points, scheduled file points do --------------------
def test_file_volumes_sync_changed_blocks_and_make_points_at_their_times():
    # Syncs every 60 min send the blocks changed since the last (5 % a day of 480 GB:
    # 1 GB an hour); points at 08:00 and 18:00 only: 2 a day, 4 in two days (and the
    # replica at 0).
    doc = estate(
        [{"name": "fs-1", "files": {"size": "480 GB", "daily_change": 0.05}}],
        [
            {
                "name": "pg",
                "members": ["fs-1"],
                "express_full_times": ["08:00", "18:00"],
                "sync_frequency": "60 min",
            }
        ],
    )
    res = run(doc)
    rp = res.guest_recovery_points
    assert list(rp["kind"]).count("file_point") == 4
    assert len(rp) == 5
    syncs = res.jobs[res.jobs["kind"] == "sync"]
    # 47 hours with a sync, the 4 at 08:00 and 18:00 are file points: 43.
    assert len(syncs) == 43
    assert syncs["bytes"].to_numpy() == pytest.approx([1e9] * 43, rel=1e-9)


# -- the VM's host route and both levels side by side --------------------------------
def test_a_vm_protected_both_ways_gets_host_and_guest_jobs_and_backups_count_host_ones():
    doc = one_sql()
    doc["vms"][0]["protection"] = "both"
    doc["protection_groups"].append(
        {"name": "hv", "dpm_server": "dpm1", "members": ["sql-1"], "express_full_times": ["22:00"]}
    )
    res = run(doc)
    kpis = res.kpis()
    # Host level: the initial replica on day 0 and an express full on day 1.
    assert kpis["backups"]["jobs"] == 2
    assert set(res.jobs.loc[res.jobs["workload"] == "hyperv", "data_source"]) == {"sql-1"}
    assert kpis["guest"]["jobs"] == len(res.jobs) - 2
    # Guest jobs crossed the host's link to DPM.
    link = res.resources[res.resources["resource"].str.contains("h1")]
    assert link["bytes"].sum() > 0


def test_200_sql_vms_with_5_databases_each_expand_to_1000_sources_and_run_a_day():
    # The bulk form: one VM entry of count 200 with sql: {databases: 5}. A day with a
    # replica by removable media: syncs at 00:15 .. 23:45 (95), the one at 20:00 the
    # express full: 95 scheduled jobs per database, 95,000 rows (jobs run or skipped
    # while the express fulls of 6 TB fill the pool's 1 GB/s).
    doc = estate(
        [
            {
                "name": "sql-{i:03d}",
                "count": 200,
                "sql": {"databases": 5, "size": "200 GB", "log_per_day": "9.6 GB"},
            }
        ],
        [{"name": "pg", "members": ["sql-*"]}],
        horizon_days=1,
        colocate=True,
    )
    doc["dpm_servers"][0]["pool"]["write"] = "1 GB/s"
    t0 = time.process_time()
    res = run(doc)
    cpu_s = time.process_time() - t0
    assert len(res.data_sources) == 1000
    assert len(res.jobs) == 95_000
    # The run's estimate counts them, as an upper bound (a day's 96 syncs and the
    # express fulls, plus one of each for the horizon's ends: 99 a database).
    assert estimate_run(scenario_from_dict(doc, "t")).guest_jobs == 99_000
    assert res.kpis()["guest"]["express_full_jobs"] == 1000
    # Not a timed test: a bound far above the 5 s it takes, against a quadratic slip.
    assert cpu_s < 120


def test_a_recovery_in_progress_cancels_the_data_sources_synchronizations():
    # A restore (hvsim's restores set GuestReplica.restoring) from 10:00 to 11:00 on
    # day 0: the syncs due at 10:00, 10:15, 10:30 and 10:45 are cancelled (source:
    # dpm-exchange-protection); the one at 11:00 sends the log since 09:45, 75 min of
    # 100 MB a quarter hour: 500 MB.
    world = build_world(scenario_from_dict(one_sql(), "t"), 1)
    replica = world.guest_replicas[0]
    env = world.env

    def restore():
        yield env.timeout(10 * H - 1)
        replica.restoring = True
        yield env.timeout(H)
        replica.restoring = False

    env.process(restore())
    hvsim.simulation.run_world(world)
    jobs = [j for j in world.trace.jobs if 10 * H <= j.scheduled_s <= 11 * H]
    assert [j.outcome for j in jobs] == ["skipped"] * 4 + ["succeeded"]
    assert {j.failure_reason for j in jobs[:4]} == {
        "cancelled: a recovery of this data source is running"
    }
    assert jobs[4].bytes == pytest.approx(500e6, rel=1e-9)


def test_the_agent_cpu_in_the_guest_is_its_share_over_the_time_its_jobs_send():
    # A simple-recovery database: express fulls only, of 5 GB (day 0) and 6 GB (day
    # 1) through the pool's 100 MB/s write (the bottleneck): 50 s and 60 s of sending.
    # With agent_cpu 0.05 the agent uses 0.05 x 110 s = 5.5 CPU-seconds of its VM,
    # 2.75 per VM-day over the 2-day run; with 0.2, four times as much.
    for share, expected in ((None, 5.5), (0.2, 22.0)):
        doc = one_sql(recovery_model="simple")
        if share is not None:
            doc["vms"][0]["agent_cpu"] = share
        g = run(doc).kpis()["guest"]
        assert g["agent_cpu_s"] == pytest.approx(expected, rel=1e-6)
        assert g["agent_cpu_s_per_vm_day"] == pytest.approx(expected / 2, rel=1e-6)
