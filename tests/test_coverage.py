"""Coverage said, not hidden (issue 12 §5): VMs in no protection group are listed as
unprotected in every output, and each protected VM's recovery points say what they
hold (application, file or crash consistent)."""

from __future__ import annotations

import json

import pytest

from hvsim.cli import main
from hvsim.results import UNPROTECTED_NAMES_LISTED
from tests.builders import base_scenario, run, write_scenario


def _with_orphans() -> dict:
    """Two protected VMs and three in no protection group (the group takes app-*)."""
    doc = base_scenario(
        vms=[
            {"name": "app-{i}", "count": 2, "cluster": "c1", "csv": "csv1"},
            {"name": "orphan-{i}", "count": 3, "cluster": "c1", "csv": "csv1"},
        ]
    )
    doc["protection_groups"][0]["members"] = ["app-*"]
    return doc


def test_vms_in_no_protection_group_are_counted_and_named_in_the_kpis():
    res = run(_with_orphans())
    cov = res.kpis()["coverage"]
    assert cov["vms"] == 5
    assert cov["protected_vms"] == 2
    assert cov["unprotected_vms"] == 3
    assert cov["unprotected_vm_names"] == ["orphan-1", "orphan-2", "orphan-3"]
    assert cov["unprotected_vm_names_listed"] == "all"
    vms = res.vms.set_index("vm")
    # Never backed up: no jobs, no recovery points, and not counted as "offline".
    assert vms.loc["orphan-1", "method"] == "none"
    assert vms.loc["orphan-1", "recovery_point_consistency"] == "none"
    assert set(res.jobs["vm"]) == {"app-1", "app-2"}


def test_an_unprotected_vm_that_fails_a_requirement_is_not_counted_as_backed_up_offline():
    # Before: the engine marked it "offline" with a reason although DPM never touches it,
    # and downtime.vms_offline counted it.
    doc = _with_orphans()
    doc["vms"][1]["guest_os"] = "windows2000"
    res = run(doc)
    assert res.kpis()["downtime"]["vms_offline"] == 0
    assert (res.vms.loc[res.vms["vm"].str.startswith("orphan"), "offline_reason"] == "").all()


def test_a_long_list_of_unprotected_vms_is_capped_in_kpis_json_and_says_so():
    n = UNPROTECTED_NAMES_LISTED + 5
    doc = base_scenario(
        vms=[
            {"name": "app", "cluster": "c1", "csv": "csv1"},
            {"name": "o-{i:04d}", "count": n, "cluster": "c1", "csv": "csv1"},
        ],
        horizon_days=0.01,  # the scan only: what matters here is who is protected
    )
    doc["protection_groups"][0]["members"] = ["app"]
    doc["clusters"][0]["csvs"][0]["capacity"] = "20 TB"  # 106 x (100 GB + 4 GiB) fit
    cov = run(doc).kpis()["coverage"]
    assert cov["unprotected_vms"] == n  # the count is always complete
    assert cov["unprotected_vm_names"] == [f"o-{i:04d}" for i in range(1, 101)]
    assert cov["unprotected_vm_names_listed"] == f"first 100 of {n}, sorted"


def test_run_lists_unprotected_vms_in_console_summary_report_and_kpis(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(write_scenario(tmp_path, _with_orphans())), "--out", str(out)]) == 0
    console = capsys.readouterr().out
    assert "VMs protected / unprotected" in console
    assert "2 / 3 (not backed up: orphan-1, orphan-2, orphan-3)" in console
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Unprotected VMs" in summary
    assert "3 of 5 VMs are in no protection group" in summary
    assert "- orphan-3" in summary
    report = (out / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="unprotected-vms">Unprotected VMs</h2>' in report
    assert "orphan-1, orphan-2, orphan-3" in report
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["coverage"]["unprotected_vms"] == 3


def test_validate_warns_of_unprotected_vms_on_stderr_and_exits_0(tmp_path, capsys):
    path = write_scenario(tmp_path, _with_orphans())
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{path}: ok (5 VMs, 1 protection groups)\n"
    assert captured.err == (
        f"{path}: protection_groups: warning: 3 of 5 VMs are in no protection group and "
        "get no backups or recovery points (orphan-1, orphan-2, orphan-3)\n"
    )
    # Every VM in a group: no warning.
    assert main(["validate", str(write_scenario(tmp_path, base_scenario()))]) == 0
    assert capsys.readouterr().err == ""


def _ur3(rollup: int = 3, host_os: str = "2012R2") -> dict:
    """One VM of each kind on a WS2012 R2 cluster (``host_os``) protected by DPM 2012 R2
    with update rollup ``rollup``."""
    vms = [
        {"name": "good", "cluster": "c1", "csv": "csv1"},
        # Linux with its integration services (hv_vss_daemon): fails "guest supports
        # VSS" and "NTFS only".
        {"name": "lin-lis", "guest_os": "linux", "file_systems": ["ext4"]},
        {
            "name": "lin-bare",
            "guest_os": "linux",
            "file_systems": ["ext4"],
            "backup_integration_service": False,
        },
        {"name": "w2k", "guest_os": "windows2000"},
        {"name": "dyn", "dynamic_disks": True},
        {"name": "stopped", "running": False},
    ]
    for v in vms:
        v.update(cluster="c1", csv="csv1")
    doc = base_scenario(vms=vms)
    doc["clusters"][0]["os"] = host_os
    doc["dpm_servers"][0].update(version="2012R2", update_rollup=rollup)
    return doc


def test_dpm_2012_r2_ur3_keeps_failing_vms_running_with_file_or_crash_consistent_points():
    res = run(_ur3())
    vms = res.vms.set_index("vm")
    assert vms["method"].to_dict() == dict.fromkeys(vms.index, "online")
    # source: dpm-ur3-online: Linux is file-consistent (its VSS daemon freezes the file systems);
    # without the integration service nothing freezes it, and a Windows guest that
    # cannot take a VSS snapshot is copied as it runs: crash. A stopped VM's disks are
    # at rest.
    assert vms["recovery_point_consistency"].to_dict() == {
        "good": "application",
        "lin-lis": "file",
        "lin-bare": "crash",
        "w2k": "crash",
        "dyn": "crash",
        "stopped": "application",
    }
    assert vms.loc["lin-lis", "failed_requirements"] == (
        "guest OS does not support VSS; a volume is not NTFS"
    )
    assert vms.loc["lin-lis", "offline_reason"] == ""
    cov = res.kpis()["coverage"]
    assert (
        cov["application_consistent_vms"],
        cov["file_consistent_vms"],
        cov["crash_consistent_vms"],
    ) == (2, 1, 3)


@pytest.mark.parametrize(("rollup", "host_os"), [(2, "2012R2"), (3, "2012")])
def test_saved_state_backups_are_application_consistent(rollup, host_os):
    # Before UR3, or on WS2012 hosts, the same VMs are saved and resumed (offline): the
    # whole VM at one instant, nothing in flight (seed article: the offline backup is
    # "the only way to ensure a good backup").
    res = run(_ur3(rollup, host_os))
    vms = res.vms.set_index("vm")
    assert (vms["recovery_point_consistency"] == "application").all()
    assert (vms.drop("good")["method"] == "offline").all()
    assert res.kpis()["coverage"]["application_consistent_vms"] == 6


def test_the_console_summary_and_report_name_vms_whose_points_are_not_application_consistent(
    tmp_path, capsys
):
    out = tmp_path / "out"
    assert main(["run", str(write_scenario(tmp_path, _ur3())), "--out", str(out)]) == 0
    assert "recovery points application / file / crash consistent  2 / 1 / 3 VMs" in (
        capsys.readouterr().out
    )
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Recovery points not application-consistent" in summary
    assert "| lin-lis | file | guest OS does not support VSS; a volume is not NTFS |" in summary
    assert "| w2k | crash | guest OS does not support VSS |" in summary
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Recovery points not application-consistent</h2>" in report
    assert "<td>lin-bare</td><td>crash</td>" in report


def test_the_offline_reason_lists_every_failed_requirement_in_the_articles_order():
    doc = base_scenario(
        vms=[
            {
                "name": "v",
                "cluster": "c1",
                "csv": "csv1",
                "running": False,
                "dynamic_disks": True,
                "backup_integration_service": False,
            }
        ]
    )
    res = run(doc)
    expected = "Backup integration service is off; dynamic disks in the guest; VM is not running"
    assert res.vms.loc[0, "offline_reason"] == expected
    assert res.vms.loc[0, "failed_requirements"] == expected
    assert set(res.jobs["offline_reason"]) == {expected}


def test_drains_and_events_due_after_the_horizon_are_named_as_not_carried_out(tmp_path, capsys):
    # A 1-day run with a drain on day 3 and an event at 24:00 of day 0 (the horizon
    # itself): nothing starts at or after the horizon, so both are left out; validate
    # and run say so on stderr (exit 0), and an event inside the horizon is not named.
    doc = base_scenario(
        migrations={
            "drains": [{"node": "c1-n1", "day": 3, "time": "01:00", "duration": "1 h"}],
            "events": [
                {"vm": "vm1", "day": 0, "time": "12:00", "kind": "live", "target": "c1-n2"},
                {"vm": "vm1", "day": 1, "time": "00:00", "kind": "consistency_check"},
            ],
        }
    )
    path = write_scenario(tmp_path, doc)
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}: migrations.drains[0]: warning: due on day 3 at 01:00, at or after the "
        "horizon of 1 days; nothing starts then, so it is not carried out",
        f"{path}: migrations.events[1]: warning: due on day 1 at 00:00, at or after the "
        "horizon of 1 days; nothing starts then, so it is not carried out",
    ]
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().err.splitlines() == err
