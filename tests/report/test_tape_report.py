"""The tape rows of the KPI summary: only in runs with long-term protection to tape,
so a run without it reads as before."""

from __future__ import annotations

from hvsim.report.text import kpi_rows, tape_rows
from tests.builders import base_scenario, run, tape_doc


def test_a_run_without_tape_has_no_tape_rows() -> None:
    k = run(base_scenario()).kpis()
    assert tape_rows(k) == []
    assert not [what for what, _ in kpi_rows(k) if "tape" in what]


def test_tape_rows_of_two_jobs_back_to_back_on_one_drive() -> None:
    # Two 1 TB replicas on one 100 MB/s drive from Monday 10:00: 20,000 s = 5.56 h,
    # ending 15:33, outside the 20:00-06:00 window; each full on one 1.5 TB tape;
    # weekly kept 4 weeks: 2 x 4 = 8 in rotation, 2 x 52 = 104 a year.
    rows = dict(tape_rows(run(tape_doc()).kpis()))
    assert rows["tape jobs (skipped) / bytes"] == "2 (0) / 2.00 TB"
    assert rows["tape session makespan p50 / max"] == "5.56 h / 5.56 h"
    assert rows["tape sessions in the backup window (overlap)"] == "0 of 1 (0.00 h)"
    assert rows["tapes written / a year / in rotation"] == "2 / 104 / 8"


def test_the_tape_schedule_draws_each_job_on_its_drive_from_start_to_end() -> None:
    # Two 1 TB replicas on one 100 MB/s drive from Monday 10:00 (day 0, 36,000 s):
    # 10,000 s each, back to back: [36,000, 46,000] and [46,000, 56,000] on drive 1.
    import matplotlib.dates as mdates
    from matplotlib.collections import PolyCollection

    from hvsim.report import plots

    res = run(tape_doc())
    fig = plots.tape_schedule(res)
    whole = fig.axes[0]
    bars = [c for c in whole.collections if isinstance(c, PolyCollection)]
    verts = [p.vertices for c in bars for p in c.get_paths()]
    origin = mdates.date2num(res.start_date)
    spans = sorted(
        (round((v[:, 0].min() - origin) * 86400), round((v[:, 0].max() - origin) * 86400))
        for v in verts
    )
    assert spans == [(36000, 46000), (46000, 56000)]
    assert [t.get_text() for t in whole.get_yticklabels()] == ["dpm1:drive1"]


def test_a_run_with_tape_shows_the_tape_schedule_and_one_without_does_not() -> None:
    from hvsim.report.html import run_figures

    assert "Long-term protection to tape" in [t for t, _ in run_figures(run(tape_doc()))]
    assert "Long-term protection to tape" not in [t for t, _ in run_figures(run(base_scenario()))]
