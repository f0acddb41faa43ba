"""KPI names in words, which way is better, the sweep's targets, and the bottleneck of
each tier, as the reports show them."""

from __future__ import annotations

import html
import math
from types import SimpleNamespace

import pandas as pd
import pytest

import hvsim
from hvsim.report.html import run_report
from hvsim.report.names import better, has_label, kpi_direction, kpi_label
from hvsim.report.text import (
    DECISION_KPIS,
    HEADLINE_KPIS,
    bottleneck_rows,
    busiest_table,
    console_table,
    meets_targets,
    summary_markdown,
)
from tests.builders import ROOT, cli


def test_a_kpi_reads_as_words_and_an_unknown_one_as_its_name():
    assert kpi_label("backups.makespan_max_s") == "longest night (per schedule)"
    assert kpi_label("backups.window_compliance") == "jobs in their backup window"
    assert kpi_label("downtime.per_backup_max_s") == "longest saved-state downtime per backup"
    assert kpi_label("scan.prod.duration_s") == "protection scan of prod"
    assert kpi_label("restores.per_kind.whole_vm.rto_p95_s") == "time to restore: whole vm (p95)"
    assert kpi_label("no.such_kpi") == "no.such_kpi"


def test_every_headline_kpi_has_words():
    assert [k for k in (*HEADLINE_KPIS, *DECISION_KPIS) if not has_label(k)] == []


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("backups.makespan_max_s", "lower"),
        ("downtime.per_backup_p95_s", "lower"),
        ("backups.failed", "lower"),
        ("rpo.violations", "lower"),
        ("online.rpo_violations", "lower"),
        ("storage.needed_bytes", "lower"),
        ("storage.pool_full_failures", "lower"),
        ("backups.window_compliance", "higher"),
        ("backups.succeeded", "higher"),
        ("coverage.protected_vms", "higher"),
        ("coverage.vms", None),  # what the estate is
        ("rpo.target_s", None),
        ("backups.jobs", None),
        ("bottleneck.dpm1:pool-write", None),
    ],
)
def test_each_kpi_says_which_way_is_better(name, direction):
    assert kpi_direction(name) == direction


def test_b_is_better_or_worse_by_the_sign_of_b_minus_a_and_the_kpis_direction():
    assert better("backups.makespan_max_s", -600.0) == "better"  # shorter night
    assert better("backups.makespan_max_s", 600.0) == "worse"
    assert better("backups.window_compliance", 0.02) == "better"  # more jobs on time
    assert better("backups.window_compliance", -0.02, significant=False) == "worse?"
    assert better("backups.failed", 0.0) == "same"
    assert better("backups.jobs", 5.0) == "n/a"
    assert better("backups.failed", math.nan) == "n/a"


def test_a_combination_meets_the_targets_when_95_percent_of_its_runs_keep_them():
    runs = pd.DataFrame(
        {
            "x": ["a"] * 5 + ["b"] * 5 + ["c"] * 20 + ["d"] * 2,
            # b: one run of 5 with a job late: 4 / 5 = 80 % < 95 %, a miss;
            # c: one of 20 late: 19 / 20 = 95 %, kept; d: no scheduled job (n/a), kept.
            "backups.window_compliance": [1.0] * 5
            + [1.0] * 4
            + [0.9]
            + [1.0] * 19
            + [0.8]
            + [math.nan] * 2,
            "rpo.violations": [0] * 32,
            "storage.pool_full_failures": [0] * 4 + [3] + [0] * 27,  # a: 1 of 5 full
        }
    )
    meets = meets_targets(runs, ["x"]).set_index("x")
    assert list(meets["meets"]) == [False, False, True, True]
    assert meets.loc["a", "misses"] == "jobs failed on a full DPM pool in 1 of 5 runs"
    assert meets.loc["b", "misses"] == "jobs outside their backup window in 1 of 5 runs"


def _resources(rows):
    cols = ["resource", "kind", "bytes", "busy_s", "bottleneck_flow_s"]
    return SimpleNamespace(resources=pd.DataFrame(rows, columns=cols))


def test_the_backup_paths_bottleneck_leaves_tape_drives_and_azure_uplinks_to_their_own_lines():
    res = _resources(
        [
            ("dpm1:pool-write", "pool", 9e12, 5000.0, 300.0),
            ("link0:hv1->dpm1", "network", 9e12, 5000.0, 100.0),
            ("dpm1:pool-read", "pool", 3e12, 9000.0, 0.0),
            ("dpm1:tape-drive1", "tape", 6e12, 9000.0, 600.0),
            ("dpm1:tape-drive2", "tape", 4e12, 8000.0, 200.0),
            ("dpm1:uplink", "network", 3e12, 90000.0, 5000.0),
        ]
    )
    # Backup path: 300 / (300 + 100 + 0) = 75 %; tape: 600 / 800 = 75 %; Azure: 100 %.
    assert bottleneck_rows(res) == [
        ("main transfer bottleneck", "dpm1:pool-write (75% of backup flow time)"),
        ("tape bottleneck", "dpm1:tape-drive1 (75% of tape flow time)"),
        ("Azure upload bottleneck", "dpm1:uplink (100% of upload flow time)"),
    ]
    table = busiest_table(res)
    # The backup path only, the bottleneck longest first, then the busiest.
    assert [r[0] for r in table.rows] == ["dpm1:pool-write", "link0:hv1->dpm1", "dpm1:pool-read"]
    assert [r[-1] for r in table.rows] == ["75.0%", "25.0%", "0.0%"]


@pytest.fixture(scope="module")
def lab():
    scenario = hvsim.load_scenario(ROOT / "scenarios" / "small-lab.yaml")
    res = hvsim.simulate(scenario, seed=1)
    return scenario, res, res.kpis()


def test_the_run_report_lists_offline_vms_failures_and_the_busiest_resources(lab):
    scenario, res, k = lab
    page = run_report(res, k, scenario)
    # small-lab: four offline-only VMs, each with its reason (as in summary.md).
    offline = res.vms[res.vms["method"] == "offline"]
    assert len(offline) == 4
    assert "<h2>VMs backed up offline (saved state)</h2>" in page
    for vm, reason in zip(offline["vm"], offline["offline_reason"], strict=True):
        assert f"<td>{vm}</td><td>{reason}</td>" in page
    assert "<h2>Failed attempts by reason</h2>" in page
    assert "<h2>Busiest resources of the backup path</h2>" in page
    assert '<h2 id="unprotected-vms">Unprotected VMs</h2>' in page


def test_the_bottleneck_reads_the_same_on_the_console_in_summary_md_and_report_html(lab):
    scenario, res, k = lab
    ((what, value),) = bottleneck_rows(res)  # small-lab has no tape and no Azure
    assert what == "main transfer bottleneck"
    lines = console_table(k, res).splitlines()
    assert any(line.startswith(what) and line.endswith(f"  {value}") for line in lines)
    assert f"| {what} | {value} |" in summary_markdown(res, k)
    assert f"<td>{what}</td><td>{html.escape(value)}</td>" in run_report(res, k, scenario)


def test_sweep_kpi_picks_the_kpis_shown_and_warns_of_an_unknown_one(capsys, tmp_path):
    out = tmp_path / "sweep"
    code, stdout, err = cli(
        capsys,
        "sweep",
        str(ROOT / "scenarios" / "small-lab.yaml"),
        "--vary",
        "links[2].bandwidth=100 Mbps,1 Gbps",
        "--replications",
        "2",
        "--workers",
        "1",
        "--kpi",
        "backups.makespan_max_s",
        "--kpi",
        "rpo.violationz",
        "--out",
        str(out),
    )
    assert code == 0
    assert any(
        "--kpi rpo.violationz: not a KPI" in line and "rpo.violations" in line for line in err
    )
    summary = (out / "summary.md").read_text(encoding="utf-8")
    shown = summary.split("## The KPIs shown, per combination")[1].split("## All KPIs")[0]
    # Two combinations x the one KPI asked for: two rows, the KPI in words and name.
    rows = [line for line in shown.splitlines() if line.startswith("| 1") or "Mbps" in line]
    assert len(rows) == 2
    assert all("longest night (per schedule) (`backups.makespan_max_s`)" in r for r in rows)
    # The console shows the KPI asked for, no other.
    assert "backups.makespan_max_s" in stdout and "backups.window_compliance" not in stdout
    # 100 Mbps misses the window: the first night's initial replicas (storage.replica_bytes
    # 723.81 GB in small-lab's kpis.json) need 724e9 * 8 / 1e8 = 57,920 s = 16 h at 100 Mbps,
    # past the 10 h window (20:00-06:00); 1 Gbps meets every target.
    assert "| 100 Mbps | no | jobs outside their backup window" in summary
    assert "| 1 Gbps | yes | |" in summary
