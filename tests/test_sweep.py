"""Replications, sweeps and comparisons: statistics by theory, caching by count."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hvsim import cli
from hvsim.sweep import (
    canonical_json,
    compare_tables,
    execute,
    flatten_kpis,
    mean_ci,
    parse_vary,
    plan,
    run_one,
    set_path,
    summarize,
)
from tests.conftest import base_scenario


def _noisy() -> dict:
    """Lognormal writer times and random disk sizes: KPIs vary from seed to seed."""
    return base_scenario(
        vms=[
            {
                "name": "v{i}",
                "count": 6,
                "cluster": "c1",
                "csv": "csv1",
                "disks": [
                    {"size": "50 GB", "used": {"dist": "uniform", "low": "5 GB", "high": "45 GB"}}
                ],
            }
        ],
        horizon_days=2,
    )


def test_mean_ci_is_students_t_interval_of_known_numbers():
    x = [1.0, 2.0, 3.0, 4.0]
    half = stats.t.ppf(0.975, 3) * np.std(x, ddof=1) / 2  # sd 1.291 / sqrt(4)
    assert mean_ci(x) == pytest.approx((2.5, 2.5 - half, 2.5 + half))
    m, lo, hi = mean_ci([7.0])
    assert m == 7.0 and math.isnan(lo) and math.isnan(hi)


def test_ci_width_shrinks_as_replications_grow_on_a_noisy_scenario(tmp_path):
    doc = _noisy()
    widths = []
    for reps in (3, 12):
        out = execute(plan(doc, [], reps), tmp_path / "cache", workers=1, progress=False)
        row = summarize(out.table).set_index("kpi").loc["backups.bytes"]
        widths.append(row["ci_high"] - row["ci_low"])
    # Width ~ t(n-1) s / sqrt(n): from 3 to 12 runs about 4.3 x 1/1.73 vs 2.2 x 1/3.46.
    assert widths[1] < widths[0] / 2


def test_a_resumed_sweep_does_not_rerun_finished_runs(tmp_path):
    doc = _noisy()
    specs = plan(doc, [("links[2].bandwidth", ["1 Gbps", "10 Gbps"])], 3)
    calls = []

    def counting(doc_json, seed):
        calls.append(seed)
        return run_one(doc_json, seed)

    first = execute(specs[:4], tmp_path, workers=1, progress=False, runner=counting)
    assert (first.computed, first.cached, len(calls)) == (4, 0, 4)
    again = execute(specs, tmp_path, workers=1, progress=False, runner=counting)
    assert (again.computed, again.cached, len(calls)) == (2, 4, 6)
    assert len(again.table) == 6
    assert again.table["links[2].bandwidth"].tolist() == ["1 Gbps"] * 3 + ["10 Gbps"] * 3


def test_a_failing_run_is_reported_with_its_parameters_and_the_sweep_goes_on(tmp_path):
    specs = plan(_noisy(), [("horizon_days", [1, 2])], 2)

    def flaky(doc_json, seed):
        if json.loads(doc_json)["horizon_days"] == 2 and seed == 2:
            raise RuntimeError("boom")
        return run_one(doc_json, seed)

    out = execute(specs, tmp_path, workers=1, progress=False, runner=flaky)
    assert len(out.table) == 3
    assert out.errors == ["run failed (horizon_days=2, seed 2): RuntimeError: boom"]


def test_the_process_pool_gives_the_same_table_as_one_process(tmp_path):
    specs = plan(_noisy(), [("links[2].bandwidth", ["1 Gbps", "10 Gbps"])], 2)
    one = execute(specs, tmp_path / "a", workers=1, progress=False).table
    pool = execute(specs, tmp_path / "b", workers=2, progress=False).table
    pd.testing.assert_frame_equal(one, pool)


def test_compare_uses_paired_differences_of_the_same_seeds():
    a = pd.DataFrame({"seed": [1, 2, 3], "k": [10.0, 20.0, 30.0]})
    b = pd.DataFrame({"seed": [1, 2, 3], "k": [11.0, 22.0, 33.0]})
    row = compare_tables(a, b).iloc[0]
    # Differences 1, 2, 3: mean 2, sd 1, t(2) = 4.303 -> 2 +- 4.303 / sqrt(3).
    half = stats.t.ppf(0.975, 2) / math.sqrt(3)
    assert (row["a_mean"], row["b_mean"], row["diff"]) == (20.0, 22.0, 2.0)
    assert (row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx((2 - half, 2 + half))


def test_set_path_and_parse_vary_address_the_document():
    doc = {"a": [{"b": 1}], "c": {"d": 2}}
    assert set_path(doc, "a[0].b", 5) == {"a": [{"b": 5}], "c": {"d": 2}}
    assert set_path(doc, "c.e", "x")["c"] == {"d": 2, "e": "x"}
    assert doc == {"a": [{"b": 1}], "c": {"d": 2}}  # the original is untouched
    with pytest.raises(ValueError, match="no such place"):
        set_path(doc, "a[3].b", 1)
    assert parse_vary("x.y=1,2.5,true,10 Gbps") == ("x.y", [1, 2.5, True, "10 Gbps"])


def test_flatten_kpis_keeps_numbers_under_dotted_names():
    flat = flatten_kpis({"seed": 3, "a": {"b": 1, "c": {"d": 2.5}, "e": "text"}, "f": True})
    assert flat == {"a.b": 1.0, "a.c.d": 2.5, "f": 1.0}


def test_sweep_command_writes_tables_and_report_and_resumes(tmp_path, capsys):
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_noisy()), encoding="utf-8")
    args = [
        "sweep",
        str(path),
        "--vary",
        "links[2].bandwidth=1 Gbps,10 Gbps",
        "--replications",
        "2",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "out"),
    ]
    assert cli.main(args) == 0
    for name in ("sweep.parquet", "sweep.csv", "sweep-summary.csv", "summary.md", "report.html"):
        assert (tmp_path / "out" / name).exists(), name
    table = pd.read_parquet(tmp_path / "out" / "sweep.parquet")
    assert len(table) == 4 and set(table["seed"]) == {1, 2}
    assert cli.main(args) == 0
    assert "(0 computed, 4 from the cache, 0 failed)" in capsys.readouterr().out


def test_sweep_with_a_bad_path_is_bad_input(tmp_path, capsys):
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_noisy()), encoding="utf-8")
    code = cli.main(
        ["sweep", str(path), "--vary", "links[7].bandwidth=1 Gbps", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"{path}: --vary: no such place") and "Traceback" not in err


def test_run_with_replications_reports_each_kpi_with_a_ci(tmp_path, capsys):
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_noisy()), encoding="utf-8")
    assert (
        cli.main(
            [
                "run",
                str(path),
                "--replications",
                "3",
                "--workers",
                "1",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "3 replications (mean, 95 % CI, p50, p95)" in out
    summary = pd.read_csv(tmp_path / "o" / "replications-summary.csv")
    assert set(summary.columns) >= {"kpi", "mean", "ci_low", "ci_high", "p50", "p95"}
    assert (summary["n"] == 3).all()


def test_plan_uses_the_same_seeds_for_every_combination():
    specs = plan({"a": 1, "b": 2}, [("a", [1, 2]), ("b", [3])], 3, base_seed=5)
    assert [s.seed for s in specs] == [5, 6, 7, 5, 6, 7]
    assert len({s.key for s in specs}) == 6
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'
