"""scenarios/restore-drill.yaml: its restores pinned (seed 1), and the report and
summary show RTO per kind when a run has restores, and nothing new when it has none."""

from __future__ import annotations

import pytest

import hvsim
from hvsim.report.html import run_report
from hvsim.report.text import summary_markdown
from tests.builders import ROOT

EXAMPLE = ROOT / "scenarios" / "restore-drill.yaml"


@pytest.fixture(scope="module")
def drill() -> hvsim.Results:
    return hvsim.simulate(hvsim.load_scenario(EXAMPLE), seed=1)


# Pinned from seed 1. A model change that moves them must say why in its commit.
PINNED = {
    "count": 11,
    "succeeded": 11,
    "failed": 0,
    "degraded": 0,
    "under_6h": 11,
    "over_rto_target": 0,
    "recovery_point_age_p95_s": 82849.559,
}


def test_the_restore_drill_example_keeps_its_pinned_restore_kpis(drill):
    k = drill.kpis()
    for key, expected in PINNED.items():
        assert k["restores"][key] == pytest.approx(expected, rel=1e-9), key
    # The same 100 GB file server restored in place at 10:00 and at 22:00: 5 min setup
    # + 100 GB at the CSV's 300 MB/s write (its bottleneck: 10 GbE gives 1 GB/s, the
    # pool reads 600 MB/s) = 633.3 s both times. At night it shares no resource with
    # the backups (they read the CSV, write the pool and send towards the DPM server
    # on full-duplex links) and a DPM job slot is free, so it is no slower.
    events = drill.restores[drill.restores["trigger"] == "event"]
    assert events["rto_s"].tolist() == pytest.approx([300 + 100e9 / 300e6] * 2, rel=1e-9)
    # Its own 22:00 express full finds it being restored, fails and is re-run.
    failed = drill.jobs[drill.jobs["outcome"] == "failed"]
    assert failed["vm"].tolist() == ["files-01"]
    assert k["backups"]["failed"] == 1
    # Item-level restores (the DPM server has the Hyper-V role): 10 min + 2 GB at
    # 300 MB/s each.
    items = drill.restores[drill.restores["kind"] == "item_level"]
    assert items["rto_s"].tolist() == pytest.approx([600 + 2e9 / 300e6] * len(items), rel=1e-9)


def test_the_report_and_summary_show_rto_per_kind_only_when_there_are_restores(drill):
    page = run_report(drill)
    assert '<h2 id="restores">Restores: RTO per kind</h2>' in page
    assert "<td>item_level</td>" in page and "<td>whole_vm</td>" in page
    summary = summary_markdown(drill, drill.kpis())
    assert "## Restores: RTO per kind" in summary
    assert "| whole_vm | 5 | 0 | 0 | 8.3 min | 10.6 min | 10.6 min | 0 |" in summary

    lab = hvsim.simulate(hvsim.load_scenario(ROOT / "scenarios" / "small-lab.yaml"), seed=1)
    assert "Restores" not in run_report(lab)
    assert "Restores" not in summary_markdown(lab, lab.kpis())
