"""Replications: Student t intervals by theory, seeds base + r, the run command."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hvsim
from hvsim.cli import main
from hvsim.results import flatten_kpis
from hvsim.stats import mean_ci, summarize
from hvsim.sweep import replicate
from tests.builders import base_scenario, noisy_scenario, write_scenario


def test_mean_ci_of_known_numbers_is_the_student_t_interval():
    # 1..5: mean 3, sample sd sqrt(2.5) = 1.5811; t(0.975, 4) = 2.7764 (tables);
    # half width 2.7764 * 1.5811 / sqrt(5) = 1.9632.
    ci = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ci.n == 5 and ci.mean == 3.0
    assert stats.t.ppf(0.975, 4) == pytest.approx(2.7764, abs=1e-4)
    assert ci.half_width == pytest.approx(1.9632, abs=1e-4)
    assert (ci.low, ci.high) == pytest.approx((3.0 - 1.9632, 3.0 + 1.9632), abs=1e-4)


def test_mean_ci_at_90_percent_uses_the_95th_t_quantile():
    # 90 % two-sided: t(0.95, 3) = 2.3534; values 2, 4, 6, 8: sd 2.582, half 3.038.
    ci = mean_ci([2.0, 4.0, 6.0, 8.0], confidence=0.90)
    assert ci.half_width == pytest.approx(2.3534 * 2.5820 / 2.0, abs=1e-3)


def test_mean_ci_of_one_value_has_no_interval_and_of_equal_values_has_zero_width():
    one = mean_ci([7.0])
    assert one.mean == 7.0 and math.isnan(one.half_width)
    assert mean_ci([4.0, 4.0, 4.0]).half_width == 0.0


def test_95_percent_intervals_cover_the_true_mean_95_percent_of_the_time():
    # 4000 samples of 5 draws from N(10, 2): coverage is binomial(4000, 0.95),
    # standard deviation sqrt(0.95 * 0.05 / 4000) = 0.0034; allow 3 of them.
    rng = np.random.default_rng(20260105)
    covered = 0
    for _ in range(4000):
        ci = mean_ci(rng.normal(10.0, 2.0, size=5))
        covered += ci.low <= 10.0 <= ci.high
    assert abs(covered / 4000 - 0.95) < 3 * 0.0034


def test_summary_percentiles_interpolate_linearly_between_runs():
    # p50 of 10, 20, 30, 40 is 25; p95 sits at rank 0.95 * 3 = 2.85: 30 + 0.85 * 10.
    table = pd.DataFrame({"seed": [1, 2, 3, 4], "k": [10.0, 20.0, 30.0, 40.0]})
    row = summarize(table).iloc[0]
    assert (row["kpi"], row["n"], row["mean"]) == ("k", 4, 25.0)
    assert (row["p50"], row["p95"]) == pytest.approx((25.0, 38.5))
    assert row["std"] == pytest.approx(np.std([10, 20, 30, 40], ddof=1))


def test_ci_width_shrinks_as_replications_grow_on_a_noisy_scenario():
    reps = replicate(noisy_scenario(), replications=32, workers=1)
    widths = {}
    for n in (4, 8, 16, 32):
        first = reps.table[reps.table["seed"] <= n]
        widths[n] = summarize(first, kpis=["backups.makespan_max_s"]).iloc[0]["ci_half_width"]
    assert widths[4] > widths[8] > widths[16] > widths[32] > 0
    # Theory: the half width goes as t(n-1) s / sqrt(n); from 4 to 32 runs that is
    # (2.040 / 3.182) * sqrt(4 / 32) = 0.23 times, give or take the change in s.
    assert widths[32] / widths[4] < 0.5


def test_replication_r_runs_seed_base_plus_r_and_its_row_is_that_runs_kpis():
    doc = noisy_scenario()
    reps = replicate(doc, replications=3, base_seed=7, workers=1)
    assert list(reps.table["seed"]) == [7, 8, 9]
    direct = flatten_kpis(hvsim.simulate(hvsim.scenario_from_dict(doc), seed=8).kpis())
    row = reps.table[reps.table["seed"] == 8].iloc[0]
    assert {k: row[k] for k in direct} == direct


def test_replications_differ_from_seed_to_seed_on_a_noisy_scenario():
    reps = replicate(noisy_scenario(), replications=3, workers=1)
    assert reps.table["backups.bytes"].nunique() == 3


def test_run_with_replications_writes_runs_statistics_and_reports(tmp_path, capsys):
    scenario = write_scenario(tmp_path, noisy_scenario())
    out = tmp_path / "out"
    argv = ["run", str(scenario), "--replications", "4", "--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "4 replications (seeds 1 to 4" in text and "95% CI" in text
    for name in ("kpis.json", "jobs.csv", "runs.parquet", "runs.csv", "summary.csv"):
        assert (out / name).is_file(), name
    assert len(list((out / "runs").glob("*.json"))) == 4
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(runs["seed"]) == [1, 2, 3, 4]
    summary = pd.read_csv(out / "summary.csv").set_index("kpi")
    x = runs["backups.makespan_max_s"].to_numpy()
    half = stats.t.ppf(0.975, 3) * x.std(ddof=1) / 2.0
    row = summary.loc["backups.makespan_max_s"]
    assert row["mean"] == pytest.approx(x.mean(), rel=1e-6)
    assert row["ci_half_width"] == pytest.approx(half, rel=1e-6)
    # kpis.json and the tables of the base seed stay those of a single run
    assert json.loads((out / "kpis.json").read_text())["seed"] == 1
    md = (out / "summary.md").read_text()
    assert "# hvsim replications" in md and "## hvsim summary" in md
    page = (out / "report.html").read_text()
    assert "KPIs across replications" in page and page.count("data:image/png;base64,") >= 6


def test_run_again_with_more_replications_computes_only_the_new_seeds(tmp_path, capsys):
    scenario = write_scenario(tmp_path, noisy_scenario())
    out = tmp_path / "out"
    base = ["run", str(scenario), "--workers", "1", "--out", str(out)]
    assert main(base + ["--replications", "2"]) == 0
    capsys.readouterr()
    assert main(base + ["--replications", "3"]) == 0
    assert "3 finished (1 computed, 2 from the store)" in capsys.readouterr().out
    assert len(list((out / "runs").glob("*.json"))) == 3


def test_single_run_writes_a_self_contained_report_html(tmp_path, capsys):
    scenario = write_scenario(tmp_path, base_scenario())
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("data:image/png;base64,") >= 4
    # Nothing fetched from elsewhere; links only within the page (the verdict's).
    assert 'src="http' not in page and 'href="http' not in page
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    for title in ("Jobs of the worst night", "Saved-state downtime", "Utilisation"):
        assert title in page
