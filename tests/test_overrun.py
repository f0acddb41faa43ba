"""A run that would not end stops with one clear line (exit 2), never a traceback.

Found by fuzzing: a 1 bps link or a 1e-300 B/s pool passed validation, the run went
on until its last job ended centuries after the horizon, and the tables failed with
pandas' OutOfBoundsTimedelta. The schema now refuses such rates, but rates it takes
(64 kbps), long durations and built-in-Python scenarios can still leave a run
going; it stops at hvsim.overrun.overrun_limit and names what was still running.
"""

from __future__ import annotations

import pandas as pd
import pytest

import hvsim
from hvsim.cli import main
from hvsim.overrun import DAY_S, RunawayError, overrun_limit
from hvsim.sweep import run_sweep
from tests.builders import base_scenario, slow_link, write_scenario

SLOW_LINK = (
    "links[2].bandwidth: still running 30.04 days past the horizon of 1 day: a transfer "
    "through link2:sw->dpm1 (64 kbps at efficiency 0.8: 51.2 kbps) moving at 51.2 kbps has "
    "100 GB left and would end on day 182; give a faster rate or a longer horizon_days "
    "(64 kbps at efficiency 0.8: 51.2 kbps)"
)


def test_the_run_may_go_a_month_or_the_horizon_again_past_its_horizon_at_most_20_years():
    one_day = hvsim.scenario_from_dict(base_scenario())
    # 1 day + 30 days + the longest wait the scenario schedules past the horizon (one
    # re-run after 60 min, source: dpm-auto-rerun): 30.04 days past the horizon.
    assert overrun_limit(one_day) == (1 + 30) * DAY_S + 3600
    year = hvsim.scenario_from_dict(base_scenario(horizon_days=365))
    assert overrun_limit(year) == (365 + 365) * DAY_S + 3600
    doc = base_scenario(horizon_days=3660)
    doc["dpm_servers"][0].update(auto_rerun_delay="3660 d", auto_rerun_attempts=10)
    longest = hvsim.scenario_from_dict(doc)
    assert overrun_limit(longest) == (3660 + 7320) * DAY_S
    # Every time of such a run fits pandas' timestamps from the latest start date,
    # with room for a break's repair (ten years at most) recorded at its end.
    end = pd.Timestamp("2200-12-31") + pd.Timedelta(seconds=overrun_limit(longest))
    assert end + pd.Timedelta(days=3660) < pd.Timestamp.max


def test_a_link_too_slow_for_the_horizon_stops_the_run_with_exit_2_and_one_line(tmp_path, capsys):
    scenario = write_scenario(tmp_path, slow_link())
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.splitlines() == [f"{scenario}: {SLOW_LINK}"]
    assert not out.exists()


def test_replications_of_a_run_that_runs_away_stop_with_its_one_line_before_they_start(
    tmp_path, capsys
):
    # The run of the seed comes first: it runs away, and the command stops with the
    # exit-2 line. The replications used to run first (their progress and one failure
    # line each on stderr, their store written), then the seed's run ran away again.
    scenario = write_scenario(tmp_path, slow_link())
    out = tmp_path / "out"
    argv = ["run", str(scenario), "--replications", "3", "--workers", "1", "--out", str(out)]
    code = main(argv)
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err.splitlines() == [f"{scenario}: {SLOW_LINK}"]
    assert not out.exists()


@pytest.mark.parametrize(
    ("section", "field", "value", "path"),
    [
        ("links", "bandwidth", 1 / 8, "links[2].bandwidth"),  # 1 bps
        ("pool", "write", 1e-300, "dpm_servers[0].pool.write"),
    ],
)
def test_a_rate_below_the_schema_set_in_python_ends_in_the_error_not_out_of_bounds(
    section, field, value, path
):
    # model_copy does not validate: the fuzzed rates reach the engine this way, where
    # the tables used to fail with OutOfBoundsTimedelta.
    s = hvsim.scenario_from_dict(base_scenario())
    if section == "links":
        links = [*s.links[:2], s.links[2].model_copy(update={field: value})]
        s = s.model_copy(update={"links": links})
    else:
        pool = s.dpm_servers[0].pool.model_copy(update={field: value})
        s = s.model_copy(
            update={"dpm_servers": [s.dpm_servers[0].model_copy(update={"pool": pool})]}
        )
    with pytest.raises(hvsim.RunawayError) as caught:  # exported for notebooks
        hvsim.simulate(s, seed=1)
    assert caught.value.path == path
    assert caught.value.message.startswith("still running 30.04 days past the horizon of 1 day: ")
    # 100 GB at 1 bps x efficiency 0.8 (0.1 B/s): 1e12 s, day 11,574,075.
    assert ("never ends" if section == "pool" else "would end on day 11,574,075") in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"on_demand": [{"dpm_server": "dpm1", "per_hour": 5, "mean_duration": "3000 d"}]},
            "on_demand[0]: still running 30.04 days past the horizon of 1 day: 124 on-demand jobs "
            "of this stream are still queued or holding one of the 8 job slots of dpm1; lower "
            "per_hour or mean_duration (per_hour 5, mean_duration 3,000 days)",
        ),
        (
            {"scan": {"per_vm_query": "100 d"}},
            "scan: still running 30.04 days past the horizon of 1 day: the protection scan of "
            "cluster c1 is still going; shorten the scan costs (per_vm_query 100 days, "
            "per_writer_metadata 1 s)",
        ),
        (
            {"vss": {"snapshot_time_hardware": "3000 d"}},
            "vss.snapshot_time_hardware: still running 30.04 days past the horizon of 1 day: the "
            "backups of 1 VM(s) (vm1) still running or waiting; the longest duration in the "
            "scenario is vss.snapshot_time_hardware (3,000 days)",
        ),
    ],
    ids=["on-demand-jobs", "scan", "snapshot"],
)
def test_what_keeps_a_run_going_is_named_by_its_field(overrides, line):
    with pytest.raises(RunawayError) as caught:
        hvsim.simulate(hvsim.scenario_from_dict(base_scenario(**overrides)), seed=1)
    assert caught.value.problem("f.yaml") == f"f.yaml: {line}"


def test_a_drain_that_returns_after_the_horizon_is_no_runaway():
    # The scenario schedules the return 60 days on: nothing starts after the horizon
    # (tests/model/test_horizon.py), so the run does not wait for it.
    drain = {"node": "c1-n1", "day": 0, "time": "12:00", "duration": "60 d"}
    res = hvsim.simulate(
        hvsim.scenario_from_dict(base_scenario(migrations={"drains": [drain]})), seed=1
    )
    assert res.migrations["trigger"].tolist() == ["drain"]
    assert res.counters["end_s"] < DAY_S


def test_a_sweep_lists_runs_that_run_away_as_failures_and_reports_the_others(tmp_path):
    sweep = run_sweep(
        slow_link(), ["links[2].bandwidth=64 kbps,10 Gbps"], replications=1, workers=1
    )
    assert list(sweep.table["links[2].bandwidth"]) == ["10 Gbps"]
    assert sweep.failures[["links[2].bandwidth", "error"]].to_dict("records") == [
        {"links[2].bandwidth": "64 kbps", "error": f"<scenario>: {SLOW_LINK}"}
    ]
    assert sweep.failures["traceback"].tolist() == [""]


def test_the_sweep_command_leaves_a_runaway_combination_out_of_the_report_and_exits_1(
    tmp_path, capsys
):
    scenario = write_scenario(tmp_path, slow_link())
    out = tmp_path / "out"
    vary = "links[2].bandwidth=64 kbps,10 Gbps"
    code = main(
        ["sweep", str(scenario), "--vary", vary, "--replications", "1"]
        + ["--workers", "1", "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    assert pd.read_csv(out / "failures.csv")["error"].tolist() == [f"{scenario}: {SLOW_LINK}"]
    assert len(pd.read_parquet(out / "runs.parquet")) == 1
    assert (out / "report.html").exists()


def test_a_comparison_whose_runs_all_run_away_writes_compare_csv_with_its_header(tmp_path, capsys):
    # Every run of both sides runs away: exit 1, each run in failures.csv, and the
    # tables empty but readable (compare.csv was a lone newline, which pandas cannot
    # read: found by whole-command fuzzing).
    scenario = write_scenario(tmp_path, slow_link())
    out = tmp_path / "out"
    argv = ["compare", str(scenario), str(scenario), "--replications", "1"]
    assert main([*argv, "--workers", "1", "--out", str(out)]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert len(pd.read_csv(out / "failures.csv")) == 2
    differences = pd.read_csv(out / "compare.csv")
    assert len(differences) == 0
    assert list(differences.columns[:3]) == ["kpi", "a_mean", "a_ci_low"]
