"""The report side of issue 14: the host-or-guest recommendations in summary.md and
report.html (only for a scenario with restore_needs), and a guest-level run's page
without host-level panels that have nothing to show (the SQL pair, over 2 days)."""

from __future__ import annotations

import pytest
import yaml

import hvsim
from hvsim.report.html import GUEST_ONLY_DOWNTIME, GUEST_ONLY_GANTT, run_report
from hvsim.report.text import (
    HOST_ONLY_NA,
    RECOMMENDATIONS_TITLE,
    kpi_rows,
    summary_markdown,
    unprotected_vms,
)
from tests.builders import ROOT


def _pair_run(name: str, days: float = 2):
    doc = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    doc["horizon_days"] = days
    scenario = hvsim.scenario_from_dict(doc)
    return scenario, hvsim.simulate(scenario, seed=1)


@pytest.fixture(scope="module")
def host():
    return _pair_run("sql-host-level")


@pytest.fixture(scope="module")
def guest():
    return _pair_run("sql-guest-level")


def _section(text: str) -> list[str]:
    """The lines of summary.md's recommendations section (its heading to the next)."""
    lines = text.splitlines()
    start = lines.index(f"## {RECOMMENDATIONS_TITLE}")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("## "))
    return [line for line in lines[start + 1 : end] if line]


def test_the_host_level_examples_summary_counts_the_19_vms_that_need_guest_level(host):
    _, res = host
    intro, head, _, row = _section(summary_markdown(res, res.kpis()))
    # sql-01 .. sql-19 need database restores (guest level) and are protected at host
    # level; sql-20 .. sql-40 need whole VMs, protected as recommended.
    assert intro.startswith("21 of the 40 VMs named by the restore needs are protected")
    assert "; 19 are not." in intro
    assert head.startswith("| need | RTO target | RPO target | protected now | recommended |")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:7] == [
        "database",
        "1.00 h",
        "15.0 min",
        "host",
        "guest",
        "19",
        "sql-01, sql-02, sql-03, sql-04, sql-05 and 14 more",
    ]
    # The reason, without the clause the columns already say.
    assert cells[7].startswith("database restores need guest level")
    assert "protected at host level now" not in cells[7]


def test_the_guest_level_examples_summary_counts_the_21_vms_that_need_host_level(guest):
    _, res = guest
    intro, _, _, row = _section(summary_markdown(res, res.kpis()))
    assert intro.startswith("19 of the 40 VMs") and "; 21 are not." in intro
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:6] == ["vm", "4.00 h", "24.00 h", "guest", "host", "21"]
    assert cells[6] == "sql-20, sql-21, sql-22, sql-23, sql-24 and 16 more"


def test_report_html_shows_the_same_section(host):
    scenario, res = host
    page = run_report(res, scenario=scenario)
    assert f"<h2>{RECOMMENDATIONS_TITLE}</h2>" in page
    assert "<td>database</td><td>1.00 h</td><td>15.0 min</td><td>host</td><td>guest</td>" in page


def test_a_run_without_restore_needs_has_no_recommendations_section():
    scenario = hvsim.load_scenario(ROOT / "scenarios" / "small-lab.yaml")
    assert not scenario.restore_needs
    res = hvsim.simulate(scenario, seed=1)
    assert "recommendations" not in summary_markdown(res, res.kpis())
    assert RECOMMENDATIONS_TITLE not in run_report(res, scenario=scenario)


def test_all_vms_as_recommended_says_so_without_a_table():
    doc = yaml.safe_load((ROOT / "scenarios" / "sql-host-level.yaml").read_text())
    doc["restore_needs"] = [{"members": ["sql-*"], "finest_unit": "vm"}]
    doc["horizon_days"] = 1
    res = hvsim.simulate(hvsim.scenario_from_dict(doc), seed=1)
    lines = _section(summary_markdown(res, res.kpis()) + "## end\n")
    assert lines == [
        "40 of the 40 VMs named by the restore needs are protected at the level "
        "recommended (host, guest or both). Per VM: recommendations.csv."
    ]


def test_a_guest_level_runs_page_has_no_empty_host_level_panels(guest):
    scenario, res = guest
    page = run_report(res, scenario=scenario)
    # No backup night at host level: one line each instead of an empty Gantt and an
    # empty downtime chart, no "last night"; the zooms show the busiest day of
    # guest-level jobs and the whole run as hourly means (not a solid block of peaks).
    assert (
        f'<h2 id="jobs-of-the-worst-night">Jobs of the worst night</h2><p>{GUEST_ONLY_GANTT}</p>'
        in page
    )
    assert (
        f'<h2 id="saved-state-downtime">Saved-state downtime</h2><p>{GUEST_ONLY_DOWNTIME}</p>'
        in page
    )
    assert "Jobs of the last night" not in page
    assert "busiest day of guest-level jobs (" in page
    assert "over the whole run, mean per hour</h2>" in page
    # The RTO per kind table shows the databases restored.
    assert "<td>sql_database</td>" in page
    # Its VMs are protected (in their guest): none is listed as unprotected.
    assert unprotected_vms(res) == []
    assert "None: every VM is in a protection group." in page
    # What host-level backups measure reads n/a, not 0.
    rows = dict(kpi_rows(res.kpis()))
    for row in (
        "backup window compliance",
        "downtime per backup p50 / p95 / max",
        "RPO violations (target, worst gap)",
        "recovery points application / file / crash consistent",
    ):
        assert rows[row] == HOST_ONLY_NA, row
    assert rows["guest RPO achieved p50 / max (worst gap)"].startswith("15.0 min")


def test_a_host_level_runs_rows_are_unchanged(host):
    _, res = host
    rows = dict(kpi_rows(res.kpis()))
    assert HOST_ONLY_NA not in rows.values()
    assert rows["backup window compliance"] == "100.0%"
