"""backups.window_compliance: the share of scheduled recovery points created by their
deadline. The rule (ProtectionGroupPlan.deadline_for): a point scheduled inside its
group's backup window is due by that window's end; one scheduled outside any window
is due by the group's next scheduled express full. A zero-length window is refused;
a run with no scheduled backup has no compliance (null), not 0 %."""

from __future__ import annotations

import json

import pytest

import hvsim
from hvsim.model.dpm import DAY_S, ProtectionGroupPlan
from hvsim.report import plots
from hvsim.report.text import console_table, kpi_rows, summary_markdown
from hvsim.results import flatten_kpis, kpis_json
from hvsim.scenario.loader import ScenarioError
from hvsim.sweep import load_document
from tests.builders import ROOT, base_scenario, run

H = 3600.0


def _plan(times_h: tuple[float, ...], start_h: float, end_h: float) -> ProtectionGroupPlan:
    times = tuple(t * H for t in times_h)
    return ProtectionGroupPlan("pg", None, times, 5, start_h * H, end_h * H, True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("times_h", "window_h", "scheduled_h", "inside", "deadline_h"),
    [
        # 20:00-06:00 window, express fulls 08:00 and 22:00 (day 2 = 48 h).
        ((8, 22), (20, 6), 48 + 22, True, 72 + 6),  # the window's end, next morning
        ((8, 22), (20, 6), 48 + 8, False, 48 + 22),  # the next express full, 22:00
        ((8,), (20, 6), 48 + 8, False, 72 + 8),  # the only time: tomorrow's 08:00
        ((23,), (20, 6), 48 + 23, True, 72 + 6),  # before midnight
        ((3,), (20, 6), 48 + 3, True, 48 + 6),  # after midnight
        ((6, 22), (20, 6), 48 + 6, False, 48 + 22),  # at the window's end is outside it
        ((20,), (20, 6), 48 + 20, True, 72 + 6),  # at its start is inside
        ((0.5, 3), (1, 5), 48 + 0.5, False, 48 + 3),  # before a 01:00-05:00 window
        ((0.5, 3), (1, 5), 48 + 3, True, 48 + 5),
    ],
)
def test_deadline_is_the_window_end_inside_it_and_the_next_express_full_outside(
    times_h, window_h, scheduled_h, inside, deadline_h
):
    plan = _plan(times_h, *window_h)
    assert plan.in_window(scheduled_h * H) == inside
    assert plan.deadline_for(scheduled_h * H) == deadline_h * H


def test_small_lab_with_express_fulls_at_08_and_22_is_fully_compliant_when_all_succeed():
    # The case: express fulls at 08:00 and 22:00, window 20:00-06:00. Every job
    # succeeds (small-lab's night takes minutes), so every point exists long before
    # its deadline: 100 %, where the 08:00 points were judged against the window that
    # closed at 06:00 that morning and always counted late (50 %). 20 VMs x 7 days x
    # 2 = 280 points; the 08:00 ones (140) are outside the window.
    doc = load_document(ROOT / "scenarios" / "small-lab.yaml")
    doc["protection_groups"][0]["express_full_times"] = ["08:00", "22:00"]
    res = hvsim.simulate(hvsim.scenario_from_dict(doc), seed=1)
    k = res.kpis()
    assert k["backups"]["jobs"] == k["backups"]["succeeded"] == 280
    assert k["backups"]["window_compliance"] == 1.0
    assert k["backups"]["outside_window"] == 140
    morning = res.jobs[res.jobs["scheduled_s"] % DAY_S == 8 * H]
    assert (morning["window_end_s"] - morning["scheduled_s"] == 14 * H).all()
    row = dict(kpi_rows(k))["backup window compliance"]
    assert row == "100.0% (140 scheduled outside the window, due by the next express full)"
    # The Gantt shades only real windows: a night with the 08:00 jobs has one window.
    night = plots.Night.of(res, 1, hvsim.scenario_from_dict(doc))
    assert all((end - start) == 10 * H for start, end in night.windows)


def test_an_express_full_outside_the_window_is_late_after_the_next_one_is_due():
    # Express fulls at 08:00 and 09:00, window 20:00-06:00, a 10-hour run: the 08:00
    # point is due by 09:00, the 09:00 one by 08:00 next day. The initial replica of a
    # 1 TB VM, read from the 500 MB/s CSV (the bottleneck), takes 1e12 / 5e8 = 2000 s
    # plus snapshots: done at about 08:33, on time, and so is the 09:00 express full.
    # With the CSV at 200 MB/s it takes 5000 s: done at 09:23, late; the 09:00
    # occurrence is skipped (the VM's job still runs), which is not on time either.
    vm = {"name": "v", "cluster": "c1", "csv": "csv1", "disks": [{"size": "1 TB"}]}
    doc = base_scenario(horizon_days=10 / 24, vms=[vm])
    doc["protection_groups"][0]["express_full_times"] = ["08:00", "09:00"]
    k = run(doc).kpis()["backups"]
    assert (k["window_compliance"], k["outside_window"]) == (1.0, 2)
    doc["clusters"][0]["csvs"][0]["read"] = "200 MB/s"
    k = run(doc).kpis()["backups"]
    assert (k["window_compliance"], k["outside_window"], k["skipped"]) == (0.0, 2, 1)


def test_a_backup_window_whose_start_equals_its_end_is_refused():
    doc = base_scenario()
    doc["protection_groups"][0]["backup_window"] = {"start": "06:00", "end": "06:00"}
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(doc, "f.yaml")
    assert caught.value.problems == [
        "f.yaml: protection_groups[0].backup_window: a backup window needs a length: start "
        "and end are equal (for a window around the clock give e.g. start 00:00, end 23:59) "
        "({'start': '06:00', 'end': '06:00'})"
    ]


@pytest.mark.parametrize(
    "doc",
    [
        # On-demand jobs only: no VM, no protection group.
        {
            "name": "od",
            "horizon_days": 1,
            "dpm_servers": [
                {
                    "name": "dpm",
                    "version": "2012SP1",
                    "pool": {"capacity": "1 TB", "write": "1 GB/s"},
                }
            ],
            "on_demand": [{"dpm_server": "dpm", "per_hour": 1, "mean_duration": "10 min"}],
        },
        # A protected VM, but the run ends at 12:00, before the first 22:00 express full.
        base_scenario(horizon_days=0.5),
    ],
    ids=["on-demand-only", "horizon-before-first-backup"],
)
def test_a_run_with_no_scheduled_backup_has_no_compliance_not_zero(doc):
    res = run(doc)
    k = res.kpis()
    assert k["backups"]["jobs"] == 0
    assert k["backups"]["window_compliance"] is None
    assert k["backups"]["outside_window"] == 0
    assert json.loads(kpis_json(k))["backups"]["window_compliance"] is None
    assert '"window_compliance": null' in kpis_json(k)
    assert "backup window compliance" in console_table(k)
    assert "n/a (no scheduled backups)" in console_table(k)
    assert "| backup window compliance | n/a (no scheduled backups) |" in summary_markdown(res, k)
    # Sweep tables take numbers only: the KPI is left out of the run's row.
    assert "backups.window_compliance" not in flatten_kpis(k)
