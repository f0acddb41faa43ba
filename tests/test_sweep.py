"""Sweeps and comparisons (hvsim/sweep.py): the tidy table, failures, progress and
compare. The --vary grammar and the run store are tested in runs/."""

from __future__ import annotations

import copy
import io
import re
from functools import partial

import pandas as pd
import pytest
from scipy import stats

import hvsim
from hvsim.cli import main
from hvsim.results import flatten_kpis
from hvsim.runs.options import RunOptions
from hvsim.runs.task import run_spec
from hvsim.sweep import compare, run_sweep
from tests.builders import BANDWIDTH_VARY, base_scenario, noisy_scenario, where, write_scenario

# --- the table ----------------------------------------------------------------------


def test_kpis_flatten_to_dotted_numeric_columns():
    kpis = {
        "scenario": "x",
        "seed": 3,
        "horizon_days": 7.0,
        "scan": {"prod": {"duration_s": 10.5, "mode": "serialized", "vms_found": 4}},
        "backups": {"window_compliance": 0.97},
        "bottleneck": {},
    }
    assert flatten_kpis(kpis) == {
        "horizon_days": 7.0,
        "scan.prod.duration_s": 10.5,
        "scan.prod.vms_found": 4,
        "backups.window_compliance": 0.97,
    }


def test_sweep_table_has_one_row_per_run_in_planned_order():
    r = run_sweep(
        base_scenario(),
        [BANDWIDTH_VARY, "clusters[0].csvs[0].vss_provider=software,hardware"],
        replications=2,
        workers=1,
    )
    assert len(r.table) == 2 * 2 * 2 and r.computed == 8 and r.stored == 0
    assert list(r.table.columns[:3]) == [
        "links[2].bandwidth",
        "clusters[0].csvs[0].vss_provider",
        "seed",
    ]
    assert list(r.table["links[2].bandwidth"]) == ["1 Gbps"] * 4 + ["10 Gbps"] * 4
    assert (
        list(r.table["clusters[0].csvs[0].vss_provider"])
        == ["software"] * 2 + ["hardware"] * 2 + ["software"] * 2 + ["hardware"] * 2
    )
    assert list(r.table["seed"]) == [1, 2] * 4
    assert {"backups.window_compliance", "scan.c1.duration_s"} <= set(r.table.columns)
    assert "scan.c1.mode" not in r.table.columns


def test_varying_a_field_that_is_also_a_kpi_keeps_one_column_and_summarises(tmp_path):
    # horizon_days is both a scenario field and a top-level KPI: the table keeps the
    # varied input once (it used to get two columns and the summary crashed).
    r = run_sweep(base_scenario(), ["horizon_days=1,2"], replications=2, workers=1)
    assert list(r.table.columns).count("horizon_days") == 1
    assert list(r.table["horizon_days"]) == [1, 1, 2, 2]
    summary = r.summary()
    assert set(summary["horizon_days"]) == {1, 2}
    jobs = summary[summary["kpi"] == "backups.jobs"].set_index("horizon_days")["mean"]
    assert jobs[2] > jobs[1]


def test_a_row_equals_a_direct_run_of_the_varied_scenario():
    doc = noisy_scenario()
    r = run_sweep(doc, [BANDWIDTH_VARY], replications=2, workers=1)
    changed = copy.deepcopy(doc)
    changed["links"][2]["bandwidth"] = "10 Gbps"
    direct = flatten_kpis(hvsim.simulate(hvsim.scenario_from_dict(changed), seed=2).kpis())
    row = r.table[(r.table["links[2].bandwidth"] == "10 Gbps") & (r.table["seed"] == 2)]
    assert {k: row.iloc[0][k] for k in direct} == direct


def test_sweep_summary_is_each_combinations_mean_t_interval_and_percentiles():
    r = run_sweep(noisy_scenario(), [BANDWIDTH_VARY], replications=3, workers=1)
    s = r.summary(["backups.makespan_max_s"]).set_index("links[2].bandwidth")
    for value in ("1 Gbps", "10 Gbps"):
        x = r.table.loc[r.table["links[2].bandwidth"] == value, "backups.makespan_max_s"]
        half = stats.t.ppf(0.975, 2) * x.std(ddof=1) / 3**0.5
        row = s.loc[value]
        assert row["n"] == 3 and row["mean"] == pytest.approx(x.mean())
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
        assert (row["p50"], row["p95"]) == pytest.approx((x.quantile(0.5), x.quantile(0.95)))


def test_the_same_sweep_gives_the_same_table_with_one_or_two_worker_processes():
    doc = noisy_scenario()
    one = run_sweep(doc, [BANDWIDTH_VARY], replications=2, workers=1)
    two = run_sweep(doc, [BANDWIDTH_VARY], replications=2, workers=2, start_method="spawn")
    pd.testing.assert_frame_equal(one.table, two.table)


# --- a run that raises --------------------------------------------------------------


def _simulate_failing_on_seed_2(scenario, seed=1, progress=None):
    if seed == 2:
        raise RuntimeError("model bug\nat day 3")
    return hvsim.simulate(scenario, seed=seed)


# Runs whose simulation raises on seed 2 (a model bug, say).
FAILING_SEED_2 = RunOptions(runner=partial(run_spec, simulate=_simulate_failing_on_seed_2))


def test_a_run_that_raises_is_reported_with_its_parameters_and_the_sweep_goes_on(tmp_path):
    store = tmp_path / "runs"
    failing = FAILING_SEED_2.but(store=store, workers=1)
    r = run_sweep(noisy_scenario(), [BANDWIDTH_VARY], replications=3, options=failing)
    assert list(r.table["seed"]) == [1, 3, 1, 3]
    assert r.failures[["links[2].bandwidth", "seed", "error"]].to_dict("records") == [
        {"links[2].bandwidth": "1 Gbps", "seed": 2, "error": "RuntimeError: model bug at day 3"},
        {"links[2].bandwidth": "10 Gbps", "seed": 2, "error": "RuntimeError: model bug at day 3"},
    ]
    assert "Traceback" in r.failures["traceback"].iloc[0]
    assert len(list(store.glob("*.json"))) == 4  # failed runs are not stored
    fixed = run_sweep(noisy_scenario(), [BANDWIDTH_VARY], replications=3, store=store, workers=1)
    assert (fixed.computed, fixed.stored, len(fixed.failures)) == (2, 4, 0)


def test_sweep_command_with_a_failing_run_says_which_and_exits_1(tmp_path, capsys):
    scenario = write_scenario(tmp_path, noisy_scenario())
    out = tmp_path / "out"
    argv = ["sweep", str(scenario), "--vary", BANDWIDTH_VARY, "--replications", "2"]
    code = main(argv + ["--workers", "1", "--out", str(out)], runs=FAILING_SEED_2)
    captured = capsys.readouterr()
    assert code == 1
    assert (
        "run failed (links[2].bandwidth=10 Gbps, seed 2): RuntimeError: model bug at day 3"
        in captured.err
    )
    assert "Traceback" not in captured.err
    assert len(pd.read_csv(out / "failures.csv")) == 2
    assert len(pd.read_parquet(out / "runs.parquet")) == 2


# --- progress -----------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_counts_runs_and_a_failed_run_is_a_line_of_its_own():
    stream = _Terminal()
    shown = FAILING_SEED_2.but(workers=1, progress=True, stream=stream)
    run_sweep(noisy_scenario(), [BANDWIDTH_VARY], replications=2, options=shown)
    text = stream.getvalue()
    # What a terminal shows of each line: what follows its last carriage return.
    lines = [line.split("\r")[-1].rstrip() for line in text.split("\n")]
    for bandwidth in ("1 Gbps", "10 Gbps"):
        assert (
            f"run failed (links[2].bandwidth={bandwidth}, seed 2): RuntimeError: model bug at day 3"
        ) in lines
    assert text.endswith("\n") and lines[-1] == ""
    assert re.fullmatch(r"runs \[#{24}\] 4/4, 2 failed, elapsed \d\d:\d\d, ETA 00:00", lines[-2]), (
        lines[-2]
    )


def test_off_a_terminal_progress_is_a_first_and_a_last_line_counting_stored_runs(tmp_path):
    store = tmp_path / "runs"
    run_sweep(noisy_scenario(), [BANDWIDTH_VARY], replications=1, store=store, workers=1)
    stream = io.StringIO()  # not a terminal: lines, at most one every 10 s
    run_sweep(
        noisy_scenario(), [BANDWIDTH_VARY], 2, store=store, workers=1, progress=True, stream=stream
    )
    lines = stream.getvalue().splitlines()
    # 2 of 4 runs stored: half the bar at the start, no rate yet (ETA ?).
    assert lines[0] == "runs [############............] 2/4, 2 stored, elapsed 00:00, ETA ?"
    assert re.fullmatch(r"runs \[#{24}\] 4/4, 2 stored, elapsed \d\d:\d\d, ETA 00:00", lines[-1])
    assert len(lines) <= 3  # a line every 10 s at most between them


# --- comparisons --------------------------------------------------------------------


def test_comparing_a_scenario_with_itself_gives_zero_difference_with_zero_width():
    # Common random numbers: the same seeds on both sides give identical runs, so
    # every per-seed difference is exactly 0 (independent seeds would not).
    cmp = compare(noisy_scenario(), noisy_scenario(), replications=3, workers=1)
    diff = cmp.differences()
    assert (diff["diff_mean"] == 0).all()
    assert (diff["diff_ci_low"] == 0).all() and (diff["diff_ci_high"] == 0).all()
    assert not diff["significant"].any()
    assert list(cmp.table["scenario"]) == ["A"] * 3 + ["B"] * 3


def test_compare_difference_is_the_paired_t_interval_of_per_seed_differences():
    fast = noisy_scenario(name="fast")
    fast["links"][2]["bandwidth"] = "10 Gbps"
    slow = noisy_scenario(name="slow")
    slow["links"][2]["bandwidth"] = "1 Gbps"
    cmp = compare(slow, fast, replications=4, workers=1)
    assert cmp.labels == ("slow", "fast")
    t = cmp.table.set_index(["scenario", "seed"])["backups.makespan_max_s"]
    d = (t["fast"] - t["slow"]).to_numpy()
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2.0
    row = cmp.differences(["backups.makespan_max_s"]).iloc[0]
    assert row["pairs"] == 4
    assert row["diff_mean"] == pytest.approx(d.mean())
    assert (row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx(
        (d.mean() - half, d.mean() + half)
    )
    assert row["diff_ci_high"] < 0 and row["significant"]


def test_compare_command_writes_the_differences_and_a_report(tmp_path, capsys):
    slow = noisy_scenario(name="slow")
    fast = noisy_scenario(name="fast")
    fast["links"][2]["bandwidth"] = "1 Gbps"
    a, b = write_scenario(tmp_path, slow, "a.yaml"), write_scenario(tmp_path, fast, "b.yaml")
    out = tmp_path / "out"
    argv = ["compare", str(a), str(b), "--replications", "3", "--workers", "1"]
    assert main(argv + ["--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "A = slow, B = fast" in text and "B - A [95% CI]" in text
    diff = pd.read_csv(out / "compare.csv").set_index("kpi")
    assert diff.loc["backups.makespan_max_s", "pairs"] == 3
    assert len(pd.read_parquet(out / "runs.parquet")) == 6
    assert "B - A" in (out / "summary.md").read_text()
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 5


def test_compare_with_a_bad_file_exits_2_and_names_it(tmp_path, capsys):
    good = write_scenario(tmp_path, base_scenario(), "good.yaml")
    bad_doc = base_scenario()
    bad_doc["links"][0]["bandwidth"] = "fast"
    bad = write_scenario(tmp_path, bad_doc, "bad.yaml")
    assert main(["compare", str(good), str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err and all(
        line.startswith(f"{where(bad, 'bandwidth: fast')}: links[0].bandwidth: ") for line in err
    )
    assert not (tmp_path / "o").exists()
