"""The storage timeline and the online timeline of report.html draw the day-end
tables: checked against values worked out by hand."""

from __future__ import annotations

from pytest import approx

from hvsim.report import plots
from hvsim.report.html import run_figures
from tests.builders import base_scenario, run


def _thin_vm_doc(horizon_days: int = 4, capacity: str = "100 TB") -> dict:
    # One VM of 100 GB (the default disk, all in use) changing 3 % a day, an express
    # full at 22:00 each day: the initial replica (100 GB) on day 0, then 3 GB a day.
    # Thin pool: what is stored is what is allocated. Retention 2 days with a point.
    doc = base_scenario(horizon_days=horizon_days)
    doc["dpm_servers"][0]["pool"].update(allocation="thin", capacity=capacity)
    doc["protection_groups"][0]["retention_days"] = 2
    return doc


def _line(ax, label):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return line.get_ydata()


def test_the_storage_timeline_steps_through_each_days_end():
    # Day ends 0..3: 100 GB (replica), 103, 106 (two days of points), 106 (the first
    # day's 3 GB pruned as the third day's come in): in TB, repeated first at t = 0.
    res = run(_thin_vm_doc())
    fig = plots.storage_timeline(res)
    (ax,) = fig.axes
    assert list(_line(ax, "allocated to volumes")) == approx([0.1, 0.1, 0.103, 0.106, 0.106])
    assert list(_line(ax, "pool capacity")) == approx([100.0] * 5)
    assert not [ln for ln in ax.get_lines() if "pool full" in str(ln.get_label())]
    top = max(p.vertices[:, 1].max() for c in ax.collections for p in c.get_paths())
    assert top == approx(0.106)


def test_a_full_pool_is_marked_on_its_day():
    # A 101 GB pool holds the replica (day 0) but not day 1's 3 GB point: full on day 1.
    res = run(_thin_vm_doc(capacity="101 GB"))
    assert res.kpis()["storage"]["days_until_full"] == 1
    (ax,) = plots.storage_timeline(res).axes
    (full,) = [ln for ln in ax.get_lines() if "pool full" in str(ln.get_label())]
    assert full.get_label() == "pool full (day 1): jobs fail"


def test_report_figures_have_the_storage_timeline_and_online_only_with_online():
    titles = [t for t, _ in run_figures(run(_thin_vm_doc()))]
    assert "DPM storage pool by day" in titles
    assert "Online protection to Azure" not in titles


def test_the_online_timeline_draws_the_backlog_at_each_days_end():
    # tests/model/test_online.py's throttled seed: 100 GB from Monday 23:30 at 1e6 B/s
    # until midnight leaves 100 GB - 1,800 s x 1e6 B/s = 98.2 GB at the end of day 1.
    from tests.model.test_online import online_scenario

    throttling = {"work_hours_rate": "2 Mbps", "non_work_hours_rate": "8 Mbps"}
    res = run(online_scenario(uplink={"throttling": throttling}))
    fig = plots.online_timeline(res)
    backlog_ax = fig.axes[0]
    (line,) = backlog_ax.get_lines()
    assert line.get_ydata()[0] == approx(98.2)
    assert "Online protection to Azure" in [t for t, _ in run_figures(res)]
