"""The verdict: each example's checks agree with its KPIs, and a design built to miss
its window is named as missing it, with the bottleneck and how much more it needs
(worked out by hand); ``hvsim run --check`` exits 1 on it and 0 on one that fits."""

from __future__ import annotations

import pytest

import hvsim
from hvsim.report.verdict import run_checks, summary_line
from tests.builders import EXAMPLES, base_scenario, cli, run, write_scenario


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_examples_verdict_names_what_its_kpis_say_fails(path):
    scenario = hvsim.load_scenario(path)
    res = hvsim.simulate(scenario, seed=1)
    k = res.kpis()
    checks = {c.target: c for c in run_checks(res, k, scenario)}
    b, s, r = k["backups"], k["storage"], k["restores"]
    window = None if b["window_compliance"] is None else b["window_compliance"] == 1.0
    assert checks["backup window"].ok is window
    if k["rpo"]["recovery_points"]:
        assert checks["RPO"].ok is (k["rpo"]["violations"] == 0)
    assert checks["RTO"].ok is (None if not r["count"] else r["over_rto_target"] == 0)
    pool_ok = s["pool_full_failures"] == 0 and s["needed_bytes"] <= s["capacity_bytes"]
    assert checks["DPM pool"].ok is pool_ok
    assert checks["coverage"].ok is (k["coverage"]["unprotected_vms"] == 0)
    # No budget in the examples: downtime is judged only when no VM is offline.
    assert checks["saved-state downtime"].ok is (True if not k["downtime"]["vms_offline"] else None)
    missed = [name for name, c in checks.items() if c.ok is False]
    line = summary_line(list(checks.values()))
    assert all(name in line for name in missed)
    assert ("meets its" in line) is (not missed)


def late_window(end: str) -> dict:
    # One VM whose initial replica moves 100 GB at 22:00 over the DPM server's 1 Gbps
    # link at 80 % (1e8 B/s): 1000 s, plus a snapshot's second or two.
    doc = base_scenario()
    doc["links"][2]["bandwidth"] = "1 Gbps"
    doc["vms"][0]["disks"] = [{"size": "100 GB", "used": "100 GB"}]
    doc["protection_groups"][0]["backup_window"] = {"start": "22:00", "end": end}
    return doc


def test_a_window_too_short_is_missed_with_the_link_and_how_much_faster_it_must_be():
    # Window 22:00-22:10: 600 s for a job of ~1000 s: the link must be 1000/600 = 1.67x
    # as fast (1.67 to 1.68 with the snapshot's seconds).
    res = run(late_window("22:10"))
    check = run_checks(res, res.kpis())[0]
    assert check.target == "backup window" and check.ok is False
    assert "first on day 1 (vm1, group pg)" in check.finding
    # The 1 Gbps link (links[2], to the DPM server) is the only bottleneck.
    assert check.fix.startswith("link2:sw->dpm1 limits the backups (100% of flow time)")
    factor = float(check.fix.split("took ")[1].split("x")[0])
    assert 1000 / 600 <= factor <= 1010 / 600


def test_check_exits_1_on_a_design_that_misses_its_window_and_0_when_it_fits(tmp_path, capsys):
    late = write_scenario(tmp_path, late_window("22:10"), "late.yaml")
    fits = write_scenario(tmp_path, late_window("23:00"), "fits.yaml")
    status, out, err = cli(capsys, "run", str(late), "--check", "--out", str(tmp_path / "a"))
    assert status == 1 and out.startswith("Verdict\n")
    assert "MISSES: backup window" in out and any("--check" in line for line in err)
    status, out, _ = cli(capsys, "run", str(fits), "--check", "--out", str(tmp_path / "b"))
    assert status == 0 and "The design meets its" in out
    # Without --check a miss is reported, not an error.
    assert cli(capsys, "run", str(late), "--out", str(tmp_path / "c"))[0] == 0
    for folder in ("a", "b"):
        assert (tmp_path / folder / "summary.md").read_text().count("## Verdict") == 1
        assert 'id="verdict"' in (tmp_path / folder / "report.html").read_text()


def test_a_downtime_budget_is_judged(tmp_path):
    doc = base_scenario()
    doc["vms"][0]["running"] = False  # backed up offline (saved state), no downtime cost
    doc["vms"].append({"name": "vm2", "cluster": "c1", "csv": "csv1", "dynamic_disks": True})
    doc["saved_state"] = {"downtime_budget": "1 s"}
    res = run(doc)
    worst = res.kpis()["downtime"]["per_backup_max_s"]
    check = {c.target: c for c in run_checks(res, res.kpis(), hvsim.scenario_from_dict(doc))}
    assert worst > 1.0 and check["saved-state downtime"].ok is False
    assert "dynamic disks" in check["saved-state downtime"].fix


def test_sweep_and_compare_open_with_the_verdict_of_each_combination(tmp_path, capsys):
    # 22:10 misses (1000 s for a 600 s window), 23:00 fits: one combination of two.
    path = write_scenario(tmp_path, late_window("22:10"))
    vary = "protection_groups[0].backup_window.end=22:10,23:00"
    status, out, _ = cli(
        capsys, "sweep", str(path), "--vary", vary, "--replications", "2",
        "--out", str(tmp_path / "s"), "--workers", "1",
    )  # fmt: skip
    assert status == 0
    assert out.startswith("Verdict\n-------\n1 of 2 combination(s) meet every target.\n")
    assert (
        "MISSES: protection_groups[0].backup_window.end=22:10: jobs outside their backup "
        "window in 2 of 2 runs"
    ) in out
    assert "meets: protection_groups[0].backup_window.end=23:00" in out
    summary = (tmp_path / "s" / "summary.md").read_text()
    assert summary.index("## Verdict") < summary.index("replication(s) per combination")
    assert 'id="verdict"' in (tmp_path / "s" / "report.html").read_text()
    fits = write_scenario(tmp_path, late_window("23:00"), "fits.yaml")
    status, out, _ = cli(
        capsys, "compare", str(path), str(fits), "--replications", "2",
        "--out", str(tmp_path / "c"), "--workers", "1",
    )  # fmt: skip
    assert status == 0
    assert "1 of 2 side(s) meet every target." in out
    assert "MISSES: scenario=scenario: jobs outside their backup window in 2 of 2 runs" in out
    assert "meets: scenario=fits" in out
