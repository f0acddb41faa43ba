"""Migrations, protection continuity, SMB 3.0 prerequisites, consistency checks and
RPO, against values counted or computed by hand."""

from __future__ import annotations

import pytest

from tests.builders import INSTANT_WRITERS, GiB, base_scenario, run

VMM_READY = {
    "vmm_server": "vmm1",
    "console_installed": True,
    "console_version_matches": True,
    "helper_service_running": True,
}


def _two_hosts(vm: dict, *, vmm: bool = True, **kw) -> dict:
    """Standalone hosts h1, h2 (local storage 400 MB/s), a file server fs1 with share
    sh1, everything on one switch with 1 Gbps links; one DPM server."""
    storage = {"capacity": "10 TB", "read": "400 MB/s", "write": "400 MB/s"}
    doc = base_scenario(
        clusters=[],
        hosts=[
            {"name": "h1", "os": "2012", "storage": storage},
            {"name": "h2", "os": "2012", "storage": storage},
        ],
        file_servers=[{"name": "fs1"}],
        smb_shares=[dict(storage, name="sh1", file_servers=["fs1"])],
        links=[{"between": [m, "sw"], "bandwidth": "1 Gbps"} for m in ("h1", "h2", "fs1", "dpm1")],
        vms=[vm],
        vss=INSTANT_WRITERS,
        vmm_servers=[{"name": "vmm1", "manages": ["h1", "h2"]}] if vmm else [],
        **kw,
    )
    if vmm:
        doc["dpm_servers"][0]["vmm"] = VMM_READY
    return doc


LOCAL_VM = {"name": "v", "host": "h1", "disks": [{"size": "50 GB", "used": "40 GB"}]}
SMB_VM = {
    "name": "v",
    "share": "sh1",
    "smb_host": "h1",
    "disks": [{"size": "50 GB", "used": "40 GB"}],
}
DAY1_NOON = {"day": 1, "time": "12:00"}


def test_shared_nothing_move_with_storage_gets_one_check_reading_source_plus_replica():
    doc = _two_hosts(
        LOCAL_VM,
        horizon_days=3,
        migrations={"events": [dict(DAY1_NOON, vm="v", kind="shared_nothing", target="h2")]},
    )
    res = run(doc)
    mig = res.migrations.iloc[0]
    assert (mig["from_storage"], mig["to_storage"]) == ("h1/local", "h2/local")
    assert mig["protection"] == "continues"
    cc = res.consistency_checks
    assert len(cc) == 1
    assert cc.loc[0, "trigger"] == "storage_migration"
    # Source (40 GB used) + replica (40 GB, made by the initial replica) read block by block.
    assert cc.loc[0, "bytes_read"] == pytest.approx(80e9)
    k = res.kpis()
    assert k["consistency_checks"]["count"] == 1
    assert k["migrations"]["shared_nothing"] == 1 and k["migrations"]["storage"] == 1
    assert (res.jobs["outcome"] == "succeeded").all()


def test_shared_nothing_move_of_a_vm_on_an_smb_share_triggers_no_check():
    doc = _two_hosts(
        SMB_VM,
        horizon_days=3,
        migrations={"events": [dict(DAY1_NOON, vm="v", kind="shared_nothing", target="h2")]},
    )
    res = run(doc)
    mig = res.migrations.iloc[0]
    assert (mig["from_storage"], mig["to_storage"]) == ("sh1", "sh1")
    assert mig["storage_bytes"] == 0.0
    assert res.consistency_checks.empty
    assert res.kpis()["migrations"]["storage"] == 0


def test_missing_file_server_vss_agent_service_fails_the_backup_with_that_reason():
    doc = _two_hosts(SMB_VM)
    doc["smb_shares"][0]["file_server_vss_agent"] = False
    jobs = run(doc).jobs
    assert set(jobs["failure_reason"]) == {
        "File Server VSS Agent Service not enabled for share sh1"
    }


def test_missing_dpm_agent_on_a_file_server_fails_the_backup_with_that_reason():
    doc = _two_hosts(SMB_VM)
    doc["file_servers"][0]["dpm_agent"] = False
    jobs = run(doc).jobs
    assert set(jobs["failure_reason"]) == {"no DPM agent on file server fs1 of share sh1"}


def _cluster_with_move(vmm: dict | None, repair: str = "36 h") -> dict:
    doc = base_scenario(
        horizon_days=4,
        vss=INSTANT_WRITERS,
        vms=[{"name": "v", "cluster": "c1", "csv": "csv1", "node": "c1-n1"}],
        vmm_servers=[{"name": "vmm1", "manages": ["c1"]}],
        migrations={"events": [dict(DAY1_NOON, vm="v", kind="live", target="c1-n2")]},
    )
    doc["dpm_servers"][0]["protection_repair_time"] = repair
    if vmm is not None:
        doc["dpm_servers"][0]["vmm"] = vmm
    return doc


def test_live_migration_without_vmm_configuration_breaks_protection_and_misses_points():
    # Move at day 1 12:00; repaired 36 h later (day 3 00:00). Express fulls due at
    # 22:00 on days 1 and 2 fail (first try and the re-run 60 min later): 2 recovery
    # points missed. At repair the replica is checked, and day 3's express full runs.
    res = run(_cluster_with_move(vmm=None))
    breaks = res.protection_breaks
    assert len(breaks) == 1
    assert breaks.loc[0, "reason"] == "VMM console not installed on the DPM server"
    assert breaks.loc[0, "duration_s"] == pytest.approx(36 * 3600)
    failed = res.jobs[res.jobs["outcome"] == "failed"]
    assert len(failed) == 4
    assert failed["failure_reason"].str.startswith("protection broken by a migration").all()
    k = res.kpis()
    assert k["migrations"]["protection_breaks"] == 1
    assert k["rpo"]["recovery_points_missed"] == 2
    assert k["rpo"]["recovery_points"] == 2  # days 0 and 3
    # One gap of three days (day 0 22:00 to day 3 22:00) breaks the 26 h RPO.
    assert k["rpo"]["violations"] == 1
    assert k["rpo"]["worst_gap_s"] == pytest.approx(3 * 86400, abs=60)
    assert res.consistency_checks["trigger"].tolist() == ["protection_repaired"]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("console_installed", False, "VMM console not installed on the DPM server"),
        ("console_version_matches", False, "VMM console version differs from the VMM server"),
        ("vmm_server", None, "KnownVMMServers does not name the VMM server managing the hosts"),
        ("helper_service_running", False, "DPMVMMHelper service not running"),
    ],
)
def test_each_missing_vmm_prerequisite_breaks_protection_with_its_reason(field, value, reason):
    res = run(_cluster_with_move(vmm=dict(VMM_READY, **{field: value})))
    assert res.protection_breaks["reason"].tolist() == [reason]


def test_live_migration_with_vmm_configured_keeps_protection_and_needs_no_check():
    # The 4.5 s setup (live_migration.setup), then 4 GiB over the 1 Gbps cluster network
    # (125 MB/s, line rate: no link efficiency there) with no dirty memory: one round
    # of 34.36 s, then a blackout of 0 bytes + 0.1 s switchover.
    doc = _cluster_with_move(vmm=VMM_READY)
    doc["vms"][0]["dirty_rate"] = "0 MB/s"
    res = run(doc)
    mig = res.migrations.iloc[0]
    assert mig["protection"] == "continues"
    assert mig["precopy_rounds"] == 1
    assert mig["duration_s"] == pytest.approx(4.5 + 4 * GiB / 125e6 + 0.1, rel=1e-9)
    assert mig["blackout_s"] == pytest.approx(0.1)
    assert res.consistency_checks.empty
    assert (res.jobs["outcome"] == "succeeded").all()


def test_precopy_rounds_shrink_by_the_dirty_rate_over_the_copy_rate():
    # 4 GiB at 125 MB/s, 25 MB/s dirtied: each round sends 1/5 of the previous one,
    # until it is below 64 MiB: 4096 -> 819.2 -> 163.84 -> 32.8 MiB (stop-and-copy).
    doc = _cluster_with_move(vmm=VMM_READY)
    doc["vms"][0]["dirty_rate"] = "25 MB/s"
    mig = run(doc).migrations.iloc[0]
    assert mig["precopy_rounds"] == 3
    sent = 4 * GiB * (1 + 0.2 + 0.04 + 0.008)
    assert mig["memory_bytes"] == pytest.approx(sent, rel=1e-9)
    assert mig["blackout_s"] == pytest.approx(4 * GiB * 0.008 / 125e6 + 0.1, rel=1e-9)


def test_a_lone_vms_consistency_check_takes_its_reads_then_the_differences():
    # Source 40 GB at 400 MB/s = 100 s and replica 40 GB at the pool's 200 MB/s = 200 s
    # run in parallel: 200 s. Then the blocks changed since the last sync (day 0 22:00 to
    # day 1 12:00 = 50400 s at 3 %/day of 40 GB = 0.7 GB) over the 1 Gbps links at 80 %
    # efficiency (100 MB/s): 7 s.
    doc = _two_hosts(
        LOCAL_VM,
        horizon_days=2,
        migrations={"events": [dict(DAY1_NOON, vm="v", kind="consistency_check")]},
    )
    doc["dpm_servers"][0]["pool"]["read"] = "200 MB/s"
    cc = run(doc).consistency_checks.iloc[0]
    assert cc["trigger"] == "request"
    assert cc["bytes_sent"] == pytest.approx(40e9 * 0.03 * 50400 / 86400, rel=1e-12)
    assert cc["duration_s"] == pytest.approx(200 + 0.7e9 / 100e6, rel=1e-9)


def test_a_migration_waits_for_the_vms_backup_snapshot_to_go():
    doc = _cluster_with_move(vmm=VMM_READY)
    doc["migrations"]["events"] = [
        {"vm": "v", "day": 0, "time": "22:00", "kind": "live", "target": "c1-n2"}
    ]
    res = run(doc)
    first = res.jobs.iloc[0]
    mig = res.migrations.iloc[0]
    assert mig["requested_s"] == 22 * 3600
    assert mig["start_s"] == pytest.approx(first["end_s"])


def test_a_backup_that_finds_its_vm_migrating_fails_and_is_rerun():
    # A 64 GiB VM takes over 9 min to move; the 22:00 backup finds it migrating.
    doc = _cluster_with_move(vmm=VMM_READY)
    doc["vms"][0]["memory"] = "64 GiB"
    doc["migrations"]["events"] = [
        {"vm": "v", "day": 0, "time": "21:59", "kind": "live", "target": "c1-n2"}
    ]
    jobs = run(doc).jobs
    first = jobs.iloc[0]
    assert first["outcome"] == "failed"
    assert first["failure_reason"] == "VM is being migrated"
    assert jobs.iloc[1]["outcome"] == "succeeded"


def test_draining_a_node_moves_its_vms_away_and_back():
    doc = base_scenario(
        horizon_days=1,
        vms=[{"name": "v{i}", "count": 4, "cluster": "c1", "csv": "csv1", "node": "c1-n1"}],
        migrations={"drains": [{"node": "c1-n1", "day": 0, "time": "10:00", "duration": "2 h"}]},
    )
    doc["clusters"][0]["nodes"] = 3
    res = run(doc)
    m = res.migrations
    assert m["trigger"].tolist().count("drain") == 4
    assert m["trigger"].tolist().count("return") == 4
    assert set(m.loc[m["trigger"] == "drain", "to_host"]) == {"c1-n2", "c1-n3"}
    assert (res.vms["host"] == "c1-n1").all()  # vms table reflects final placement
    # Two live migrations per host at most (source: hyperv-simultaneous-migrations):
    # c1-n1 sends four, two at a time.
    drains = m[m["trigger"] == "drain"].sort_values("start_s")
    assert drains["start_s"].iloc[2] >= drains["end_s"].iloc[:2].min() - 1e-9


def test_poisson_migrations_arrive_at_the_configured_rate():
    # 40 VMs x 0.5 moves per day x 10 days = 200 expected; Poisson sd ~ 14.
    doc = base_scenario(
        horizon_days=10,
        vms=[{"name": "v{i}", "count": 40, "cluster": "c1", "csv": "csv1", "memory": "1 GiB"}],
        migrations={"poisson": [{"per_vm_per_day": 0.5}]},
        vmm_servers=[{"name": "vmm1", "manages": ["c1"]}],
    )
    doc["dpm_servers"][0]["vmm"] = VMM_READY
    res = run(doc)
    assert 200 - 4 * 14 <= len(res.migrations) <= 200 + 4 * 14
    assert res.kpis()["migrations"]["protection_breaks"] == 0


def test_a_vm_protected_in_its_guest_keeps_that_protection_across_a_live_migration():
    # Without VMM integration a live migration breaks host-level protection (above);
    # DPM's agent in the guest moves with the guest: the move reads "guest level",
    # no break, and the database's syncs go on from the new node, every 15 min.
    doc = _cluster_with_move(vmm=None)
    doc["vms"][0].update(protection="guest", sql={"size": "10 GB"})
    doc["protection_groups"][0].update(level="guest", express_full_times=["20:00"])
    doc["protection_groups"][0]["initial_replica"] = "removable_media"
    res = run(doc)
    (move,) = res.migrations.itertuples()
    assert move.protection == "guest level"
    assert res.protection_breaks.empty
    syncs = res.jobs[(res.jobs["kind"] == "log_sync") & (res.jobs["start_s"] > move.end_s)]
    assert (syncs["host"] == "c1-n2").all() and len(syncs) > 0
    assert (res.jobs["outcome"] == "succeeded").all()
