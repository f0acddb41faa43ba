"""Every plot function returns a figure with the run's data on it, for every example
scenario; the numbers drawn are the tables' numbers."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import hvsim
from hvsim.report import plots
from hvsim.report.html import compare_report, run_report, sweep_report
from hvsim.stats import summarize
from hvsim.sweep import compare, replicate, run_sweep
from tests.builders import EXAMPLES, ROOT, noisy_scenario

_RUNS: dict[Path, tuple[hvsim.Scenario, hvsim.Results]] = {}


def _run(path: Path) -> tuple[hvsim.Scenario, hvsim.Results]:
    """An example's scenario and its run (seed 1), simulated once for this module."""
    if path not in _RUNS:
        scenario = hvsim.load_scenario(path)
        _RUNS[path] = scenario, hvsim.simulate(scenario, seed=1)
    return _RUNS[path]


# The examples with host-level protection groups: they have backup nights to draw
# (sql-guest-level protects its VMs at guest level only; its Gantt is one line,
# checked in the test above).
HOST_LEVEL_EXAMPLES = [
    p for p in EXAMPLES if any(g.level == "host" for g in hvsim.load_scenario(p).protection_groups)
]


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def example(request):
    return _run(request.param)


@pytest.fixture(scope="module", params=HOST_LEVEL_EXAMPLES, ids=lambda p: p.stem)
def host_example(request):
    return _run(request.param)


def _drawn(fig: Figure) -> int:
    """Data artists on the figure's axes: lines with points, bars, spans, patches."""
    n = 0
    for ax in fig.axes:
        n += sum(len(line.get_xdata()) > 0 for line in ax.lines)
        n += len(ax.patches) + len(ax.collections) + sum(len(c) for c in ax.containers)
    return n


def _bar_spans(ax, start_date) -> list[tuple[float, float]]:
    """(start, end) in seconds from the run's start (to the millisecond) of every job
    bar on a Gantt axis, sorted: the x extent of each rectangle in the job-bar
    collections (drawn in date numbers, days)."""
    origin = mdates.date2num(pd.Timestamp(start_date))
    spans = []
    for coll in ax.collections:
        if coll.get_gid() == plots.GANTT_BARS:
            for path in coll.get_paths():
                x = (path.vertices[:, 0] - origin) * 86400
                spans.append((round(x.min(), 3), round(x.max(), 3)))
    return sorted(spans)


@pytest.mark.parametrize("name", list(plots.RUN_PLOTS))
def test_each_plot_function_returns_a_figure_with_data_for_every_example(example, name):
    scenario, res = example
    fig = plots.RUN_PLOTS[name](res, scenario=scenario) if name == "gantt" else None
    fig = fig or plots.RUN_PLOTS[name](res)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    if name == "downtime" and res.downtime.empty:
        assert texts == ["no saved-state backups: every backed-up VM stayed online"]
        return
    if name == "gantt" and plots.guest_only(res):
        # Guest level only (the SQL pair's guest side): no host-level night to draw.
        assert texts == ["no host-level backup jobs in this run (guest level only)"]
        return
    assert _drawn(fig) > 0


def test_the_host_level_examples_are_every_example_but_the_guest_level_one():
    assert {p.stem for p in EXAMPLES} - {p.stem for p in HOST_LEVEL_EXAMPLES} == {"sql-guest-level"}


def test_gantt_draws_each_attempt_of_the_night_once_per_host_and_once_per_dpm_server(
    host_example,
):
    scenario, res = host_example
    night = plots.Night.of(res, "worst", scenario)
    checks = res.consistency_checks
    n_checks = int(((checks["end_s"] > night.begin) & (checks["start_s"] < night.end)).sum())
    in_night = (checks["end_s"] > night.begin) & (checks["start_s"] < night.end)
    fig = plots.gantt(res, "worst", scenario)
    hosts, dpm = fig.axes
    # Each attempt and check of the night is one bar from its start to its end, on
    # both panels.
    expected = sorted(
        (round(a, 3), round(b, 3))
        for a, b in zip(
            [*night.jobs["start_s"], *checks.loc[in_night, "start_s"]],
            [*night.jobs["end_s"], *checks.loc[in_night, "end_s"]],
            strict=True,
        )
    )
    assert len(expected) == len(night.jobs) + n_checks
    for ax in (hosts, dpm):
        spans = _bar_spans(ax, res.start_date)
        assert len(spans) == len(expected)
        assert np.asarray(spans) == pytest.approx(np.asarray(expected), abs=0.01)
    assert set(night.jobs["outcome"]) <= {"succeeded", "failed"}
    # one tick label per host (top) and per DPM server (bottom)
    assert [t.get_text() for t in hosts.get_yticklabels()] == sorted(set(night.jobs["host"]))
    assert [t.get_text() for t in dpm.get_yticklabels()] == sorted(set(night.jobs["dpm_server"]))


def test_gantt_marks_the_backup_window_of_the_scenario(host_example):
    scenario, res = host_example
    night = plots.Night.of(res, "last", scenario)
    pg = scenario.protection_groups[0]
    length = (pg.backup_window.end - pg.backup_window.start) % 86400 or 86400
    ends = sorted(night.jobs.loc[night.jobs["protection_group"] == pg.name, "window_end_s"])
    assert (ends[-1] - length, ends[-1]) in night.windows
    fig = plots.gantt(res, "last", scenario)
    origin = mdates.date2num(pd.Timestamp(res.start_date))
    end_lines = [line.get_xdata()[0] for line in fig.axes[0].lines]
    assert any(abs(x - (origin + ends[-1] / 86400)) < 1e-9 for x in end_lines)


def test_gantt_night_index_picks_that_night_and_worst_is_the_longest():
    res = hvsim.simulate(hvsim.load_scenario(ROOT / "scenarios" / "small-lab.yaml"), seed=1)
    assert len(plots.nights(res)) == 7
    assert plots.Night.of(res, 3).jobs["window_end_s"].nunique() == 1
    first = res.jobs[res.jobs["attempt"] == 1]
    span = first.groupby("window_end_s").apply(lambda g: g["end_s"].max() - g["scheduled_s"].min())
    worst = plots.Night.of(res, "worst")
    assert worst.jobs["window_end_s"].iloc[0] == span.idxmax()
    with pytest.raises(ValueError, match="night must be"):
        plots.Night.of(res, 7)


def test_downtime_bars_are_per_vm_totals_most_first_and_the_histogram_counts_backups(example):
    _, res = example
    if res.downtime.empty:
        return  # checked by the test above: the figure says so
    fig = plots.downtime(res)
    bars, hist = fig.axes
    expected = res.downtime.groupby("vm")["seconds"].sum().sort_values(ascending=False)
    heights = [p.get_height() for p in bars.patches]
    assert heights == pytest.approx(list(expected))
    assert sum(p.get_height() for p in hist.patches) == len(res.downtime)


def test_utilisation_lines_show_load_and_never_exceed_capacity(example):
    _, res = example
    fig = plots.utilisation(res)
    lines = [line for ax in fig.axes for line in ax.lines]
    assert lines
    peak = max(float(np.max(line.get_ydata())) for line in lines)
    assert 0 < peak <= 100 + 1e-6
    # the pool panel shows every DPM pool that wrote bytes
    pools = res.resources[(res.resources["kind"] == "pool") & (res.resources["bytes"] > 0)]
    pool_ax = next(ax for ax in fig.axes if ax.get_title(loc="left") == "DPM storage pools")
    assert sorted(line.get_label() for line in pool_ax.lines) == sorted(pools["resource"])


def test_slot_queue_lines_peak_at_each_kinds_longest_queue(example):
    _, res = example
    fig = plots.slot_queues(res)
    q = res.slot_queues
    # A panel per kind of slot some job waited for; the others named in one line.
    waited = set(q.loc[q["queued"] > 0, "kind"])
    order = [k for k in plots.SLOT_KIND_ORDER if k in set(q["kind"])]
    order += sorted(set(q["kind"]) - set(order))
    kinds = [k for k in order if k in waited]
    idle = [k for k in order if k not in waited]
    assert [ax.get_title(loc="left") for ax in fig.axes] == [
        plots.SLOT_KIND_TITLES[k] for k in kinds
    ]
    for ax, kind in zip(fig.axes, kinds, strict=False):
        peak = max(float(np.max(line.get_ydata())) for line in ax.lines)
        assert peak == q.loc[q["kind"] == kind, "queued"].max()
        assert peak > 0
    notes = " ".join(t.get_text() for t in fig.texts)
    for kind in idle:
        assert plots.SLOT_KIND_TITLES[kind] in notes


def test_a_night_zoom_spans_that_nights_windows_and_jobs():
    scenario = hvsim.load_scenario(ROOT / "scenarios" / "small-lab.yaml")
    res = hvsim.simulate(scenario, seed=1)
    night = plots.Night.of(res, "worst", scenario)
    fig = plots.utilisation(res, night="worst", scenario=scenario)
    lo, hi = fig.axes[-1].get_xlim()
    origin = mdates.date2num(pd.Timestamp(res.start_date))
    assert (lo, hi) == pytest.approx((origin + night.lo / 86400, origin + night.hi / 86400))
    assert night.lo < min(w[0] for w in night.windows) and night.hi > night.end


# --- many runs ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_sweep():
    return run_sweep(
        noisy_scenario(),
        ["links[2].bandwidth=1 Gbps,10 Gbps", "dpm_servers[0].max_parallel_jobs=2,8"],
        replications=3,
        workers=1,
    )


def test_sweep_figure_draws_each_combinations_mean_with_its_ci_band(small_sweep):
    kpi = "backups.makespan_max_s"
    fig = plots.sweep_figure(small_sweep, [kpi])
    (ax,) = fig.axes
    assert len(ax.lines) == 2 and len(ax.collections) == 2  # one line and band per hue
    summary = summarize(small_sweep.table, small_sweep.params, [kpi])
    div, unit = plots.kpi_unit(kpi, summary[["mean", "ci_low", "ci_high"]].to_numpy())
    for line, jobs in zip(ax.lines, (2, 8), strict=True):
        rows = summary[summary["dpm_servers[0].max_parallel_jobs"] == jobs]
        assert list(line.get_ydata()) == pytest.approx(list(rows["mean"] / div))
    assert ax.get_ylabel() == unit and [t.get_text() for t in ax.get_xticklabels()] == [
        "1 Gbps",
        "10 Gbps",
    ]


def test_sweep_figure_by_default_plots_the_kpis_that_change(small_sweep):
    fig = plots.sweep_figure(small_sweep)
    # A panel's title: the KPI's words, the dotted name on its last line.
    titles = [ax.get_title().split("\n") for ax in fig.axes if ax.lines]
    assert ["longest night (per schedule)", "backups.makespan_max_s"] in titles
    assert "scan.c1.duration_s" not in [t[-1] for t in titles]  # the same in every run


def test_replications_and_comparison_figures_draw_the_runs():
    doc = noisy_scenario()
    reps = replicate(doc, 3, workers=1)
    fig = plots.replications_figure(reps.table, ["backups.bytes"])
    (ax,) = fig.axes
    div, _ = plots.kpi_unit("backups.bytes", reps.table["backups.bytes"])
    assert list(ax.lines[0].get_ydata()) == pytest.approx(list(reps.table["backups.bytes"] / div))
    cmp = compare(doc, noisy_scenario(horizon_days=1), 3, workers=1)
    fig = plots.comparison_figure(cmp, ["backups.bytes", "backups.jobs"])
    assert [len(ax.patches) for ax in fig.axes] == [2, 2]  # A and B


def test_kpi_units_scale_seconds_bytes_and_shares():
    assert plots.kpi_unit("backups.makespan_max_s", [9000.0]) == (3600.0, "h")
    assert plots.kpi_unit("backups.mean_wait_s", [300.0]) == (60.0, "min")
    assert plots.kpi_unit("downtime.total_s", [30.0]) == (1.0, "s")
    assert plots.kpi_unit("storage.pool_peak_bytes", [2.5e12]) == (1e12, "TB")
    assert plots.kpi_unit("backups.window_compliance", [0.97]) == (0.01, "%")
    assert plots.kpi_unit("backups.jobs", [40]) == (1.0, "")


def _self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert 'src="http' not in page and "href=" not in page and "<script" not in page


def test_reports_are_self_contained_with_every_plot_embedded(small_sweep):
    scenario = hvsim.load_scenario(ROOT / "scenarios" / "small-lab.yaml")
    res = hvsim.simulate(scenario, seed=1)
    page = run_report(res, res.kpis(), scenario)
    _self_contained(page)
    # worst night, last night, downtime, utilisation x2, slot queues x2, the pool by day
    assert page.count("data:image/png;base64,") == 8
    detail = small_sweep.scenario(0)
    page = sweep_report(small_sweep, [("first", hvsim.simulate(detail, seed=1), detail)])
    _self_contained(page)
    assert "KPIs against the varied parameter" in page
    assert page.count("data:image/png;base64,") >= 1 + 4
    cmp = compare(noisy_scenario(), noisy_scenario(horizon_days=1), 2, workers=1)
    page = compare_report(cmp)
    _self_contained(page)
    assert page.count("data:image/png;base64,") == 1


def test_a_report_escapes_what_the_scenario_says_and_keeps_its_own_markup():
    # The page comes from a jinja2 template: every value is escaped as html.escape
    # does (quotes too), the page's own tags are not.
    scenario = hvsim.scenario_from_dict(noisy_scenario(horizon_days=1))
    res = hvsim.simulate(scenario, seed=1)
    page = run_report(res, None, scenario, '<b>A & B\'s "x"</b>\n')
    assert "<p>&lt;b&gt;A &amp; B&#x27;s &quot;x&quot;&lt;/b&gt;</p>\n" in page
    assert '<h2 id="kpis">KPIs</h2>\n<table><tr><th>KPI</th><th>value</th></tr><tr><td>' in page
    assert page.endswith("</table>\n</body></html>\n") or page.endswith('">\n</body></html>\n')


def test_results_statistics_and_runs_import_nothing_from_the_report_or_the_command_line():
    # Floors: results < runs < report < cli. Results used to import the plots (for its
    # plot_* methods) while the plots import Results: a circle.
    import ast

    package = Path(hvsim.__file__).parent
    below = [package / "results.py", package / "stats.py", package / "sweep.py"]
    below += sorted((package / "runs").glob("*.py"))
    for path in below:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                assert not name.startswith(("hvsim.report", "hvsim.cli")), (path.name, name)


def test_gantt_names_no_more_hosts_than_fit_and_no_two_names_overlap():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from tests.builders import base_scenario

    # Two clusters of 64 nodes, a VM on each node: 128 host lanes, more names than
    # the 16-inch figure holds at 12 points a line.
    clusters = [f"c{c}" for c in (1, 2)]
    doc = base_scenario(
        clusters=[
            {
                "name": c,
                "os": "2012",
                "nodes": 64,
                "csvs": [
                    {"name": "csv1", "capacity": "100 TiB", "read": "2 GB/s", "write": "2 GB/s"}
                ],
            }
            for c in clusters
        ],
        links=[
            {"between": [f"{c}-n{i}", "sw"], "bandwidth": "10 Gbps"}
            for c in clusters
            for i in range(1, 65)
        ]
        + [{"between": ["dpm1", "sw"], "bandwidth": "10 Gbps"}],
        vms=[
            {"name": f"{c}-vm{{i:02d}}", "count": 64, "cluster": c, "csv": "csv1"} for c in clusters
        ],
    )
    scenario = hvsim.scenario_from_dict(doc)
    res = hvsim.simulate(scenario, seed=1)
    hosts_ax = plots.gantt(res, "worst", scenario).axes[0]
    labels = hosts_ax.get_yticklabels()
    assert len(set(res.jobs["host"])) == 128
    assert 1 < len(labels) < 128
    assert hosts_ax.get_ylabel() == f"hosts (1 in {math.ceil(128 / len(labels))} named)"
    renderer = FigureCanvasAgg(hosts_ax.figure).get_renderer()
    hosts_ax.figure.draw(renderer)
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.y0)
    assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:], strict=False))


def test_sweep_panels_start_at_zero_and_ring_the_combinations_meeting_the_targets(small_sweep):
    from hvsim.report.text import meets_targets

    meets = meets_targets(small_sweep.table, small_sweep.params)
    kpis = ["backups.window_compliance", "backups.failed"]
    fig = plots.sweep_figure(small_sweep, kpis, meets=meets)
    share, count = fig.axes
    # A share from 0 to 100 % at least; a count from 0.
    assert share.get_ylim()[0] == 0 and share.get_ylim()[1] >= 100
    assert count.get_ylim()[0] == 0
    # One ring per combination that meets the targets (4 combinations, 2 lines of 2).
    rings = [c for c in share.collections if c.get_label() == "meets the targets"]
    n_ok = int(meets["meets"].sum())
    assert (len(rings[0].get_offsets()) if rings else 0) == n_ok


def test_downtime_bars_name_their_vms_one_in_k_when_there_are_many():
    from types import SimpleNamespace

    # 120 VMs with 120 - i seconds each: sorted bars, most first. 120 names do not fit
    # DOWNTIME_NAMES = 50: one in ceil(120 / 50) = 3 is named, 40 names.
    d = pd.DataFrame({"vm": [f"vm{i:03d}" for i in range(120)], "seconds": 120.0 - np.arange(120)})
    fig = plots.downtime(SimpleNamespace(downtime=d, horizon_days=7))
    bars = fig.axes[0]
    names = [t.get_text() for t in bars.get_xticklabels()]
    assert names == [f"vm{i:03d}" for i in range(0, 120, 3)]
    assert "1 in 3 named" in bars.get_xlabel()
    # 12 VMs: every bar named.
    fig = plots.downtime(SimpleNamespace(downtime=d.head(12), horizon_days=7))
    assert len(fig.axes[0].get_xticklabels()) == 12


def test_gantt_lanes_put_each_job_on_its_groups_first_free_lane():
    # Group 0: A 0-10, B 2-5, C 5-8 (B's lane is free again at 5: ends at 5 <= 5),
    # D 6-12 (lane 0 busy to 10, lane 1 to 8 by C: a third lane), E 10-11 (lane 0
    # free at 10, the first). Group 1: F 1-2 and G 3-4 never overlap: one lane.
    # Rows in any order: the lanes follow the starts (D and E given first here).
    group = np.array([0, 0, 1, 0, 0, 0, 1])
    starts = np.array([6.0, 10.0, 3.0, 0.0, 2.0, 5.0, 1.0])
    ends = np.array([12.0, 11.0, 4.0, 10.0, 5.0, 8.0, 2.0])
    lane, n_lanes = plots._group_lanes(group, starts, ends, 2)
    assert lane.tolist() == [2, 0, 0, 0, 1, 1, 0]  # D, E, G, A, B, C, F
    assert n_lanes.tolist() == [3, 1]


def test_gantt_lanes_of_jobs_that_start_together_follow_the_rows():
    # Three jobs from 0 to 1 and a fourth from 1: rows 0, 1, 2 take lanes 0, 1, 2 in
    # row order, and the fourth the first lane free at 1 (lane 0).
    lane, n_lanes = plots._group_lanes(
        np.zeros(4, dtype=int), np.array([0.0, 0.0, 0.0, 1.0]), np.array([1.0] * 4), 1
    )
    assert lane.tolist() == [0, 1, 2, 0] and n_lanes.tolist() == [3]
