"""What sweep and compare print and write, to the line: one set-up serves both
commands and run --replications (runs stored under the output folder, failures.csv
written or a stale one removed, the heading, the runs line and the files written;
run --replications is pinned in runs/test_replications)."""

from __future__ import annotations

from hvsim.cli import main
from hvsim.sweep import compare
from tests.builders import base_scenario, slow_link, write_scenario


def test_sweep_prints_heading_runs_and_files_and_keeps_failures_csv_only_while_runs_fail(
    tmp_path, capsys
):
    scenario = write_scenario(tmp_path, slow_link(name="lab"), "lab.yaml")
    out = tmp_path / "out"
    argv = ["sweep", str(scenario), "--replications", "1", "--workers", "1", "--out", str(out)]
    assert main(argv + ["--vary", "links[2].bandwidth=64 kbps,10 Gbps"]) == 1
    lines = capsys.readouterr().out.splitlines()
    head = (
        "hvsim sweep: lab, 1 replication(s) per combination (seeds 1 to 1): mean, 95% CI, p50, p95"
    )
    # The verdict first (the one combination that ran meets the targets), then the stats.
    assert lines[:4] == [
        "Verdict",
        "-------",
        "It meets every target.",
        "  meets: links[2].bandwidth=10 Gbps",
    ]
    i = lines.index(head)
    assert lines[i + 1] == "-" * len(head)
    assert lines[-3:] == [
        "runs: 1 finished (1 computed, 0 from the store), 1 failed",
        "",
        f"wrote {out}/ (runs.parquet, runs.csv, summary.csv, summary.md, report.html, "
        "failures.csv; finished runs in runs/)",
    ]
    assert (out / "failures.csv").exists()
    # Again without the failing value: the finished run comes from the store and the
    # stale failures.csv goes.
    assert main(argv + ["--vary", "links[2].bandwidth=10 Gbps"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3:] == [
        "runs: 1 finished (0 computed, 1 from the store), 0 failed",
        "",
        f"wrote {out}/ (runs.parquet, runs.csv, summary.csv, summary.md, report.html; "
        "finished runs in runs/)",
    ]
    assert not (out / "failures.csv").exists()


def test_compare_prints_heading_runs_and_files(tmp_path, capsys):
    a = write_scenario(tmp_path, base_scenario(name="one"), "a.yaml")
    b = write_scenario(tmp_path, base_scenario(name="two"), "b.yaml")
    out = tmp_path / "out"
    argv = ["compare", str(a), str(b), "--replications", "2", "--workers", "1"]
    assert main(argv + ["--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = "hvsim compare: A = one, B = two, 2 replication(s) each, same seeds (1 to 2)"
    assert lines[:5] == [
        "Verdict",
        "-------",
        "2 of 2 side(s) meet every target.",
        "  meets: scenario=one",
        "  meets: scenario=two",
    ]
    i = lines.index(head)
    assert lines[i + 1] == "-" * len(head)
    assert lines[-3:] == [
        "runs: 4 finished (4 computed, 0 from the store), 0 failed",
        "",
        f"wrote {out}/ (runs.parquet, runs.csv, compare.csv, summary.md, report.html; "
        "finished runs in runs/)",
    ]
    assert len(list((out / "runs").glob("*.json"))) == 4


def test_a_comparison_knows_its_seeds_like_a_sweep():
    cmp = compare(base_scenario(), base_scenario(), replications=3, base_seed=4, workers=1)
    assert cmp.seeds == [4, 5, 6]
