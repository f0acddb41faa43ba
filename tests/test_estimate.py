"""A run's cost estimated before it starts (issue 12 §3): a scenario that would run for
hours and take hundreds of GB is refused in one line unless --yes or --max-jobs says
go; a small one runs and prints nothing about it. And the progress of a long single
run, with its elapsed time and ETA."""

from __future__ import annotations

import io
import re
import time

import pytest

import hvsim
from hvsim import estimate as est
from hvsim.cli import main
from hvsim.runs.progress import day_progress
from tests.builders import ROOT, base_scenario, write_scenario


def _huge() -> dict:
    """The issue's case: 100,000 VMs over ten years (validates; the run would not end
    for most of a day and would need about a TB)."""
    doc = base_scenario(
        vms=[{"name": "vm{i:06d}", "count": 100_000, "cluster": "c1", "csv": "csv1"}],
        horizon_days=3650,
    )
    # 100,000 x (100 GB + 4 GiB of saved-state file) = 10.4 PB: a CSV that holds them.
    doc["clusters"][0]["csvs"][0]["capacity"] = "11 PB"
    return doc


def test_the_job_count_is_protected_vms_times_scheduled_express_fulls_and_the_rest():
    doc = base_scenario(
        vms=[
            {"name": "v{i}", "count": 3, "cluster": "c1", "csv": "csv1"},
            {"name": "loose", "cluster": "c1", "csv": "csv1"},
        ],
        horizon_days=2.5,
        on_demand=[{"dpm_server": "dpm1", "per_hour": 2, "mean_duration": "10 min"}],
        migrations={
            "poisson": [
                {"members": ["v1", "v2"], "per_vm_per_day": 0.5, "targets": ["c1-n1", "c1-n2"]}
            ]
        },
    )
    doc["protection_groups"][0].update(members=["v*"], express_full_times=["22:00", "10:00"])
    e = est.estimate_run(hvsim.scenario_from_dict(doc))
    # 10:00 falls on days 0, 1 and 2 of a 2.5-day run (the third at 58 h < 60 h), 22:00
    # on days 0 and 1 (the third at 70 h is past 60 h): 5 express fulls x 3 protected
    # VMs ("loose" is in no group) = 15, and ceil(5 % of 15) = 1 re-run allowed.
    assert (e.vms, e.protected_vms, e.express_fulls, e.reruns) == (4, 3, 15, 1)
    # On demand: 2 an hour x 24 h x 2.5 days = 120.
    assert e.on_demand == 120
    # Moves: 0.5 a VM a day x 2 VMs x 2.5 days = 2.5, each counted as 1 + 8 pre-copy
    # rounds (the default max_precopy_rounds) of transfers: ceil(22.5) = 23.
    assert e.migrations == 23
    assert e.jobs == 15 + 1 + 120 + 23
    # The wizard's scan, then discovery at 00:00 of days 1 and 2 (day 0's is the
    # wizard's): 3 scans of the cluster's 4 VMs.
    assert (e.scans, e.scanned_vms) == (3, 12)
    assert e.seconds == pytest.approx(
        est.BASE_S + 4 * est.S_PER_VM + e.jobs * est.S_PER_JOB + 12 * est.S_PER_SCAN_VM
    )
    assert e.peak_bytes == pytest.approx(
        est.BASE_BYTES + 4 * est.BYTES_PER_VM + e.jobs * est.BYTES_PER_JOB
    )


def test_the_issues_100000_vms_over_ten_years_is_over_the_limit_by_its_estimate_fast():
    scenario = hvsim.scenario_from_dict(_huge())
    t0 = time.perf_counter()
    e = est.estimate([scenario])
    assert time.perf_counter() - t0 < 1.0
    # 100,000 VMs x 3,650 nightly express fulls, + 5 % re-runs.
    assert e.jobs == 365_000_000 + 18_250_000
    assert e.seconds > est.LIMIT_S and e.peak_bytes > est.LIMIT_BYTES
    assert e.over_limit()
    assert not e.over_limit(max_jobs=400_000_000)


def test_run_refuses_the_100000_vm_ten_year_scenario_in_one_line_and_runs_a_small_one_quietly(
    tmp_path, capsys
):
    path = write_scenario(tmp_path, _huge())
    out = tmp_path / "out"
    t0 = time.perf_counter()
    assert main(["run", str(path), "--out", str(out)]) == 2
    # Loading 100,000 VMs is most of it; the simulation never starts (it would take
    # hours; before, it ran silently until killed).
    assert time.perf_counter() - t0 < 30
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: (run): about 383,250,000 jobs (100,000 protected VMs")
    assert "over the limit of 10 min or 4.0 GB; not started (--yes runs it anyway" in lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]
    # A small run says nothing of its estimate, and has no progress to show.
    small = ROOT / "scenarios" / "small-lab.yaml"
    assert main(["run", str(small), "--out", str(tmp_path / "small")]) == 0
    assert capsys.readouterr().err == ""


def test_replications_hold_the_seeds_run_while_the_pool_runs():
    # run --replications simulates its seed's run first and keeps its tables while
    # the replications run: the peak is one replication (base + tables) plus the
    # held run's tables (its peak less the process's base).
    one = hvsim.scenario_from_dict(base_scenario())
    run = est.estimate_run(one)
    held = est.estimate([one], [one] * 4, workers=1, held=True)
    assert held.peak_bytes == run.peak_bytes + (run.peak_bytes - est.BASE_BYTES)
    assert est.estimate([one], [one] * 4, workers=1).peak_bytes == run.peak_bytes


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_sweep_and_compare_refuse_it_too(tmp_path, capsys, command):
    huge = write_scenario(tmp_path, _huge(), "huge.yaml")
    if command == "sweep":
        argv = ["sweep", str(huge), "--vary", "horizon_days=1,3650"]
    else:
        argv = ["compare", str(write_scenario(tmp_path, base_scenario(), "small.yaml")), str(huge)]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "not started" in err[0]
    assert not (tmp_path / "out").exists()


def test_max_jobs_sets_the_limit_in_jobs_and_yes_goes_ahead(tmp_path, capsys):
    # One VM, one day: its initial replica, + ceil(5 %) = 1 re-run allowed: 2 jobs.
    path = write_scenario(tmp_path, base_scenario())
    assert main(["run", str(path), "--out", str(tmp_path / "a"), "--max-jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert "about 2 jobs" in err and "over the limit of --max-jobs 1" in err
    assert not (tmp_path / "a").exists()
    assert main(["run", str(path), "--out", str(tmp_path / "b"), "--max-jobs", "2"]) == 0
    assert main(["run", str(path), "--out", str(tmp_path / "c"), "--yes"]) == 0
    assert (tmp_path / "c" / "kpis.json").exists()


class FakeClock:
    """Wall time that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float):
        self.now, self.step = -step, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_progress_off_a_terminal_prints_a_line_every_10_s_with_elapsed_and_eta():
    stream = io.StringIO()
    show = day_progress(10, stream=stream, tty=False, clock=FakeClock(3.0))
    for day in range(1, 11):
        show(day)  # day d is reached at 3 d seconds
    # First line at 12 s (day 4): 6 days left at 4 days per 12 s = 18 s; the next 10 s
    # later, at 24 s (day 8): 2 days left = 6 s; then the end (a line, as lines were
    # printed).
    assert stream.getvalue().splitlines() == [
        "simulated day 4/10, elapsed 00:12, ETA 00:18",
        "simulated day 8/10, elapsed 00:24, ETA 00:06",
        "simulated day 10/10, elapsed 00:30, ETA 00:00",
    ]


@pytest.mark.parametrize("tty", [False, True])
def test_progress_of_a_short_run_prints_nothing(tty):
    stream = io.StringIO()
    show = day_progress(365, stream=stream, tty=tty, clock=FakeClock(0.002))
    for day in range(1, 366):
        show(day)  # 0.73 s in all (and on a terminal, well under a second of real time)
    assert stream.getvalue() == ""


def test_progress_on_a_terminal_redraws_one_line_with_elapsed_and_eta_and_ends_it():
    # On a terminal tqdm draws (on its own clock): shown at once and redrawn at every
    # day here, where a run shows after 1 s and redraws at most every 0.2 s.
    stream = io.StringIO()
    show = day_progress(4, stream=stream, tty=True, show_after_s=0.0, redraw_s=0.0)
    for day in range(1, 5):
        show(day)
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1  # one line, ended
    shown = [part.rstrip() for part in text.rstrip("\n").split("\r") if part.strip()]
    days = [int(re.match(r"simulated day (\d)/4, ", part).group(1)) for part in shown]
    assert days == sorted(days) and {1, 2, 3, 4} <= set(days) and days[-1] == 4
    for part in shown:
        assert re.fullmatch(r"simulated day \d/4, elapsed \d\d:\d\d, ETA (\d\d:\d\d|\?)", part)


def test_long_runs_get_progress_from_hvsim_run_whatever_stderr_is(monkeypatch, tmp_path):
    # Before: progress only on a terminal, without time; a log got nothing for hours.
    seen = []

    def fake_printer(horizon_days, stream=None, tty=None, clock=None):
        seen.append(horizon_days)
        return lambda day: None

    monkeypatch.setattr("hvsim.runs.progress.day_progress", fake_printer)
    path = write_scenario(tmp_path, base_scenario())
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    assert seen == [1]


def test_a_run_estimated_over_a_minute_says_its_estimate_and_goes_ahead(
    monkeypatch, tmp_path, capsys
):
    # As if each run had a fixed cost of 100 s: over LONG_RUN_S (60 s), under the limit.
    monkeypatch.setattr(est, "BASE_S", 100.0)
    path = write_scenario(tmp_path, base_scenario())
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}: about 2 jobs (1 protected VMs, 1 express fulls each, 1 re-runs allowed): "
        "estimated 100 s and 215.0 MB of memory"
    ]  # 215 MB + 2.4 kB for the VM + 2 x 2.9 kB for its jobs
    assert (tmp_path / "out" / "kpis.json").exists()


def test_progress_changes_nothing_in_the_run_not_even_its_end_time():
    # 3 days; the last job (22:00 on day 2) ends before the horizon (72 h). A progress
    # tick scheduled as a SimPy event at 72 h moved the run's end (env.now, the pool's
    # expiries) to the horizon: hvsim run, which always shows progress now, would
    # differ from hvsim.simulate.
    scenario = hvsim.scenario_from_dict(base_scenario(horizon_days=3))
    seen: list[float] = []
    quiet = hvsim.simulate(scenario)
    shown = hvsim.simulate(scenario, progress=seen.append)
    assert quiet.counters["end_s"] < 3 * 86400.0
    assert shown.counters == quiet.counters
    assert shown.kpis() == quiet.kpis()
    assert seen == [1.0, 2.0, 3.0]


def test_the_estimate_line_counts_vms_protected_at_guest_level():
    # The SQL pair's guest side: 40 VMs protected in their guests only (160 databases),
    # none at host level; the line said "0 protected VMs".
    e = est.estimate([hvsim.load_scenario(ROOT / "scenarios" / "sql-guest-level.yaml")])
    run = e.largest
    assert (run.protected_vms, run.host_vms, run.guest_vms, run.data_sources) == (40, 0, 40, 160)
    assert run.express_fulls == 0
    line = e.describe()
    assert "(40 protected VMs (40 at guest level, 160 data sources), " in line
    assert "express fulls each" not in line
    # The host side: as before, no guest-level words.
    host = est.estimate([hvsim.load_scenario(ROOT / "scenarios" / "sql-host-level.yaml")])
    assert "(40 protected VMs, 14 express fulls each, " in host.describe()


def test_online_and_tape_jobs_are_counted():
    # 10 VMs for 14 days: online at 2 times a day -> 10 x 2 x 14 = 280 online jobs;
    # weekly tape -> ceil(14 / 7) = 2 fulls x 10 = 20 tape jobs; 10 x 14 express fulls.
    doc = base_scenario(
        vms=[{"name": "vm{i}", "count": 10, "cluster": "c1", "csv": "csv1"}], horizon_days=14
    )
    doc["dpm_servers"][0]["online"] = {"uplink": "100 Mbps"}
    doc["dpm_servers"][0]["tape_library"] = {"drives": 1}
    doc["protection_groups"][0].update(
        online={"times": ["12:00", "20:00"]},
        long_term={"frequency": "weekly", "retention_weeks": 4},
    )
    e = est.estimate_run(hvsim.scenario_from_dict(doc))
    assert (e.online_jobs, e.tape_jobs, e.express_fulls) == (280, 20, 140)
    assert e.jobs == 140 + e.reruns + 280 + 20
    assert "280 online jobs" in est.estimate([hvsim.scenario_from_dict(doc)]).describe()
