"""Backup jobs through the whole simulator, against values worked out by hand."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import pandas as pd
import pytest

from hvsim.results import _check_kpis
from tests.builders import INSTANT_WRITERS, GiB, base_scenario, run

# Instant writers inside a 10 s flush window.
WRITERS_10S_WINDOW = {**INSTANT_WRITERS, "flush_window": "10 s"}


def _overlaps(intervals: list[tuple[float, float]]) -> int:
    """Largest number of intervals open at one instant (touching ends do not overlap)."""
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )
    best = cur = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def test_16_gib_vm_saved_and_resumed_at_500_mb_s_is_down_save_plus_snapshot_plus_resume():
    # save  = 16 GiB / 500 MB/s = 17179869184 / 5e8 = 34.359738368 s, + 2 s overhead
    # snapshot (hardware provider) = 1 s
    # resume = 34.359738368 s + 2 s overhead          -> total 73.719476736 s
    doc = base_scenario(
        vms=[
            {
                "name": "old",
                "cluster": "c1",
                "csv": "csv1",
                "memory": "16 GiB",
                "guest_os": "windows2000",
            }
        ]
    )
    res = run(doc)
    assert len(res.downtime) == 1
    row = res.downtime.iloc[0]
    assert row["seconds"] == pytest.approx(2 * 16 * GiB / 5e8 + 2 + 1 + 2, rel=1e-12)
    assert row["save_s"] == pytest.approx(16 * GiB / 5e8 + 2, rel=1e-12)
    assert row["snapshot_s"] == pytest.approx(1.0)
    assert row["resume_s"] == pytest.approx(16 * GiB / 5e8 + 2, rel=1e-12)
    assert row["offline_reason"] == "guest OS does not support VSS"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("backup_integration_service", False, "Backup integration service is off"),
        ("guest_os", "windows2000", "guest OS does not support VSS"),
        ("dynamic_disks", True, "dynamic disks in the guest"),
        ("file_systems", ["NTFS", "FAT32"], "a volume is not NTFS"),
        ("running", False, "VM is not running"),
        ("vss_storage_assignment_modified", True, "VSS storage assignment modified"),
        ("cluster_group_online", False, "cluster resource group offline"),
    ],
)
def test_each_of_the_seven_requirements_alone_makes_a_vm_offline_with_that_reason(
    field, value, reason
):
    doc = base_scenario(
        vms=[
            {"name": "good", "cluster": "c1", "csv": "csv1"},
            {"name": "bad", "cluster": "c1", "csv": "csv1", field: value},
        ]
    )
    res = run(doc)
    vms = res.vms.set_index("vm")
    assert vms.loc["good", "method"] == "online"
    assert vms.loc["bad", "method"] == "offline"
    assert vms.loc["bad", "offline_reason"] == reason
    jobs = res.jobs.set_index("vm")
    assert jobs.loc["bad", "method"] == "offline"
    assert jobs.loc["good", "method"] == "online"
    # A stopped VM costs no downtime; every other offline VM is saved and resumed.
    assert (len(res.downtime) == 0) == (field == "running")


def test_every_failing_requirement_is_the_recorded_reason_in_the_articles_order():
    doc = base_scenario(
        vms=[
            {
                "name": "v",
                "cluster": "c1",
                "csv": "csv1",
                "guest_os": "linux",
                "backup_integration_service": False,
                "running": False,
            }
        ]
    )
    # Linux fails "guest supports VSS" too; its default file system is NTFS here.
    assert run(doc).vms.loc[0, "offline_reason"] == (
        "Backup integration service is off; guest OS does not support VSS; VM is not running"
    )


@pytest.mark.parametrize(("rollup", "method"), [(2, "offline"), (3, "online")])
def test_dpm_2012_r2_ur3_on_ws2012_r2_keeps_vms_online(rollup, method):
    doc = base_scenario(vms=[{"name": "lin", "cluster": "c1", "csv": "csv1", "guest_os": "linux"}])
    doc["clusters"][0]["os"] = "2012R2"
    doc["dpm_servers"][0].update(version="2012R2", update_rollup=rollup)
    res = run(doc)
    assert res.vms.loc[0, "method"] == method
    assert (len(res.downtime) == 0) == (method == "online")


def _csv_cluster(provider: str, n_vms: int = 6) -> dict:
    doc = base_scenario(
        vms=[{"name": "v{i}", "count": n_vms, "cluster": "c1", "csv": "csv1"}],
    )
    doc["clusters"][0].update(os="2008R2", max_parallel_backups_per_node=3)
    doc["clusters"][0]["csvs"][0]["vss_provider"] = provider
    return doc


def test_software_provider_on_2008r2_csv_never_overlaps_two_snapshots():
    res = run(_csv_cluster("software"))
    jobs = res.jobs
    assert _overlaps(list(zip(jobs["start_s"], jobs["end_s"], strict=True))) == 1
    red = res.redirected_io
    assert len(red) == len(jobs)  # every snapshot redirected the CSV until released
    assert _overlaps(list(zip(red["start_s"], red["end_s"], strict=True))) == 1


def test_hardware_provider_on_2008r2_csv_lets_snapshots_overlap():
    res = run(_csv_cluster("hardware"))
    jobs = res.jobs
    # 6 VMs on 2 nodes with 3 slots each: all six run at once.
    assert _overlaps(list(zip(jobs["start_s"], jobs["end_s"], strict=True))) == 6
    # Redirected only while each snapshot is taken: 1 s each (source: csv-redirected-access).
    assert res.redirected_io["seconds"].tolist() == pytest.approx([1.0] * 6)


def test_parallel_backups_per_host_never_exceed_the_registry_limit():
    doc = base_scenario(
        vms=[{"name": "v{i}", "count": 10, "cluster": "c1", "csv": "csv1", "node": "c1-n1"}]
    )
    doc["clusters"][0]["max_parallel_backups_per_node"] = 2
    res = run(doc)
    assert _overlaps(list(zip(res.jobs["start_s"], res.jobs["end_s"], strict=True))) == 2


def test_dpm_server_job_limit_caps_concurrent_jobs():
    doc = base_scenario(vms=[{"name": "v{i}", "count": 12, "cluster": "c1", "csv": "csv1"}])
    doc["dpm_servers"][0]["max_parallel_jobs"] = 4
    res = run(doc)
    assert _overlaps(list(zip(res.jobs["start_s"], res.jobs["end_s"], strict=True))) == 4


def test_initial_replica_over_a_saturated_1_gbps_link_takes_used_bytes_over_bandwidth():
    # used 50 GB over the 1 Gbps DPM link at its default 80 % efficiency (1e8 B/s; CSV
    # 500 MB/s and pool 1 GB/s are faster): 500 s; + snapshot 1 s + release 1 s,
    # writers flush instantly.
    doc = base_scenario(
        vms=[
            {
                "name": "v",
                "cluster": "c1",
                "csv": "csv1",
                "disks": [{"size": "100 GB", "used": "50 GB"}],
            }
        ],
        vss=WRITERS_10S_WINDOW,
    )
    doc["links"][2]["bandwidth"] = "1 Gbps"
    job = run(doc).jobs.iloc[0]
    assert job["kind"] == "initial_replica"
    assert job["bytes"] == pytest.approx(50e9)
    assert job["end_s"] - job["start_s"] == pytest.approx(500 + 1 + 1, rel=1e-9)


def test_express_full_moves_the_bytes_changed_since_the_last_recovery_point():
    # 50 GB used, 4 %/day: one day between 22:00 runs -> 2 GB.
    doc = base_scenario(
        horizon_days=2,
        vms=[
            {
                "name": "v",
                "cluster": "c1",
                "csv": "csv1",
                "disks": [{"size": "100 GB", "used": "50 GB", "daily_change": "4 %"}],
            }
        ],
        vss=WRITERS_10S_WINDOW,
    )
    jobs = run(doc).jobs
    assert jobs["kind"].tolist() == ["initial_replica", "express_full"]
    assert jobs.loc[1, "bytes"] == pytest.approx(2e9, rel=1e-12)


def test_removable_media_skips_the_network_initial_replica():
    # Replica seeded at time 0; the 22:00 job carries 22 h of change: 50 GB x 4 % x 22/24.
    doc = base_scenario(
        vms=[
            {
                "name": "v",
                "cluster": "c1",
                "csv": "csv1",
                "disks": [{"size": "100 GB", "used": "50 GB", "daily_change": "4 %"}],
            }
        ],
    )
    doc["protection_groups"][0]["initial_replica"] = "removable_media"
    res = run(doc)
    assert res.jobs["kind"].tolist() == ["express_full"]
    assert res.jobs.loc[0, "bytes"] == pytest.approx(50e9 * 0.04 * 22 / 24, rel=1e-12)
    assert res.kpis()["storage"]["replica_bytes"] == pytest.approx(50e9)


def test_writer_past_the_flush_window_fails_the_job_and_the_rerun_comes_60_min_later():
    doc = base_scenario(
        vms=[{"name": "v", "cluster": "c1", "csv": "csv1", "vss_writers": ["slow"]}],
        vss={"writers": {"slow": {"flush_time": "12 s"}}},
    )
    jobs = run(doc).jobs
    assert jobs["outcome"].tolist() == [
        "failed",
        "failed",
    ]  # first try + 1 re-run (source: dpm-auto-rerun)
    assert jobs["attempt"].tolist() == [1, 2]
    first, rerun = jobs.iloc[0], jobs.iloc[1]
    assert first["end_s"] - first["start_s"] == pytest.approx(10.0)  # the 10 s window
    assert rerun["queued_s"] - first["end_s"] == pytest.approx(3600.0)
    assert "'slow'" in first["failure_reason"]


def test_a_full_pool_fails_the_job_with_that_reason():
    doc = base_scenario(
        vms=[
            {
                "name": "v",
                "cluster": "c1",
                "csv": "csv1",
                "disks": [{"size": "100 GB", "used": "50 GB"}],
            }
        ]
    )
    doc["dpm_servers"][0]["pool"]["capacity"] = "10 GB"
    jobs = run(doc).jobs
    assert set(jobs["failure_reason"]) == {"DPM storage pool full"}


def test_every_job_row_has_start_after_queue_and_end_after_start():
    res = run(_csv_cluster("software", n_vms=8))
    j = res.jobs
    assert (j["start_s"] >= j["queued_s"]).all()
    assert (j["end_s"] >= j["start_s"]).all()
    k = res.kpis()
    assert k["backups"]["jobs"] == len(j)
    assert res.counters["bytes_sent"] == pytest.approx(res.counters["bytes_received"])
    assert res.counters["snapshots_alive"] == 0


def test_more_link_bandwidth_never_lengthens_the_night():
    makespans = []
    for gbps in (1, 2, 10):
        doc = base_scenario(
            vms=[{"name": "v{i}", "count": 8, "cluster": "c1", "csv": "csv1"}],
            vss=WRITERS_10S_WINDOW,
        )
        doc["links"][2]["bandwidth"] = f"{gbps} Gbps"
        makespans.append(run(doc).kpis()["backups"]["makespan_max_s"])
    assert all(a >= b for a, b in itertools.pairwise(makespans))


def test_a_nights_makespan_with_checks_runs_to_the_last_check_started_in_it():
    # Two nights (the jobs due by one window end). Night 1 (due 1,000 s): jobs
    # scheduled at 100 and 200 end at 300 and 600; the check started at 500 ends at
    # 2,000, the one started at 1,000 is not in it (at its window end). Night 2 (due
    # 5,000 s): a job scheduled at 4,000 ends at 4,100; checks started at 4,050 and
    # 4,500 end at 4,900 and 4,600. A re-run and a skipped job count in neither.
    #   without checks: max(600 - 100, 4,100 - 4,000) = 500
    #   with checks:    max(2,000 - 100, 4,900 - 4,000) = 1,900
    jobs = pd.DataFrame(
        [
            (1000.0, 100.0, 300.0, 1, "succeeded"),
            (1000.0, 200.0, 600.0, 1, "failed"),
            (1000.0, 200.0, 9999.0, 2, "succeeded"),
            (1000.0, 50.0, 50.0, 1, "skipped"),
            (5000.0, 4000.0, 4100.0, 1, "succeeded"),
        ],
        columns=["window_end_s", "scheduled_s", "end_s", "attempt", "outcome"],
    )
    checks = pd.DataFrame(
        [(500.0, 2000.0), (1000.0, 9000.0), (4500.0, 4600.0), (4050.0, 4900.0)],
        columns=["start_s", "end_s"],
    )
    checks["outcome"], checks["duration_s"] = "succeeded", checks["end_s"] - checks["start_s"]
    checks["bytes_read"] = checks["bytes_sent"] = 0.0
    kpis = _check_kpis(SimpleNamespace(jobs=jobs, consistency_checks=checks))
    assert kpis["window_makespan_max_without_checks_s"] == 500.0
    assert kpis["window_makespan_max_with_checks_s"] == 1900.0


def test_the_check_kpis_of_8640_nights_are_computed_by_groups_in_under_2_s():
    # 48 express fulls a day for 180 days: 8,640 nights. The KPIs filtered every table
    # once per night and took 5.4 s here (minutes over ten years, far past the run's
    # estimate); by groups they take about 0.05 s.
    doc = base_scenario(horizon_days=180)
    doc["protection_groups"][0]["express_full_times"] = [
        f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 1440, 30)
    ]
    doc["vms"][0]["disks"] = [{"size": "1 GiB"}]
    res = run(doc)
    started = time.perf_counter()
    kpis = res.kpis()
    assert time.perf_counter() - started < 1.5
    assert kpis["backups"]["jobs"] == 180 * 48
