"""Trustworthy outputs: hvsim never deletes or overwrites a file it did not write,
checks --out before simulating, gives folders the user's permissions, locks a folder
it writes, checks every stored run before using it, caps its workers, refuses a bad
seed and keeps long default names within the file system's limits."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest

import hvsim
from hvsim.cli import main
from hvsim.files import LOCK, MANIFEST, OutputFolder, fit_name, write_table
from hvsim.runs.local import worker_count
from hvsim.runs.options import RunOptions
from hvsim.runs.store import RunStore, record_checksum
from hvsim.runs.task import run_spec
from hvsim.sweep import run_sweep
from tests.builders import BANDWIDTH_VARY, base_scenario, write_scenario

RUN_FILES = [
    "kpis.json",
    "jobs.parquet",
    "jobs.csv",
    "downtime.parquet",
    "downtime.csv",
    "redirected_io.parquet",
    "redirected_io.csv",
    "restores.parquet",
    "restores.csv",
    "storage.parquet",
    "storage.csv",
    "summary.md",
]


@pytest.fixture
def no_simulation(monkeypatch):
    """A simulation that must not start: the output folder is checked first."""

    def simulate(*args, **kwargs):
        raise AssertionError("simulated before the output folder was checked")

    monkeypatch.setattr(hvsim, "simulate", simulate)


def _must_not_run(spec):
    raise AssertionError("simulated before the output folder was checked")


# Sweeps and comparisons whose runs must not start.
NO_RUNS = RunOptions(runner=_must_not_run)


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# --- nothing lost --------------------------------------------------------------------


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_out_dot_with_a_file_in_it_keeps_the_file_and_exits_2(
    tmp_path, monkeypatch, capsys, no_simulation, force
):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario())
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    before = _listing(tmp_path)
    assert main(["run", scenario.name, "--out", ".", *force]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"hvsim: --out .: is the current folder ({tmp_path.resolve()}); hvsim writes its "
        "outputs into a folder of their own and never replaces this one, not even with --force"
    ]
    assert _listing(tmp_path) == before


def test_a_folder_above_the_current_one_and_the_home_folder_are_refused_even_with_force(
    tmp_path, monkeypatch, capsys, no_simulation
):
    work = tmp_path / "home" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # Path.home() reads HOME on POSIX
    scenario = write_scenario(work, base_scenario())
    assert main(["run", scenario.name, "--out", "..", "--force"]) == 2
    assert "holds the current folder" in capsys.readouterr().err
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    assert (
        main(["sweep", str(scenario), "--vary", BANDWIDTH_VARY, "--out", str(tmp_path / "home")])
        == 2
    )
    assert "is the home folder" in capsys.readouterr().err
    assert main(["run", str(scenario), "--out", "/", "--force"]) == 2
    assert "is the root folder" in capsys.readouterr().err
    assert sorted(p.name for p in work.iterdir()) == ["scenario.yaml"]


def test_a_scenario_named_dotdot_does_not_empty_the_working_directory(
    tmp_path, monkeypatch, capsys, no_simulation
):
    # reports/.. is the working directory: refused (or, once the schema refuses the
    # name, a scenario error); either way exit 2 and every file kept.
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario(name=".."))
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    before = _listing(tmp_path)
    assert main(["run", scenario.name, "--force"]) == 2
    assert _listing(tmp_path) == before


def test_a_folder_hvsim_did_not_write_is_refused_and_force_replaces_it(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario())
    out = tmp_path / "reports"
    (out / "other-study").mkdir(parents=True)
    (out / "other-study" / "kpis.json").write_text("{}", encoding="utf-8")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    real = hvsim.simulate
    monkeypatch.setattr(hvsim, "simulate", lambda *a, **k: pytest.fail("simulated"))
    assert main(["run", scenario.name, "--out", "reports"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "hvsim: --out reports: not replaced: it is a folder hvsim did not write (notes.txt, "
        "other-study); choose another --out, or add --force to replace it"
    ]
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "other-study" / "kpis.json").is_file()
    monkeypatch.setattr(hvsim, "simulate", real)
    assert main(["run", scenario.name, "--out", "reports", "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, *RUN_FILES, "report.html"])


def test_a_second_run_replaces_an_hvsim_folder_keeps_its_runs_and_lists_its_files(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario())
    argv = ["run", scenario.name, "--workers", "1"]
    assert main([*argv, "--replications", "2"]) == 0
    out = tmp_path / "reports" / "t"
    stored = sorted(p.name for p in (out / "runs").iterdir())
    assert len(stored) == 2
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["command"] == "run --replications"
    assert "runs.parquet" in manifest["files"] and "failures.csv" not in manifest["files"]
    assert main(argv) == 0  # a plain run replaces it: no --force needed, runs/ kept
    assert sorted(p.name for p in (out / "runs").iterdir()) == stored
    assert json.loads((out / MANIFEST).read_text())["files"] == [*RUN_FILES, "report.html"]
    assert not (out / "runs.parquet").exists()  # the replaced folder's own files went
    # nothing is left beside the target: no temporary or old folder
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["t"]


def test_a_user_file_dropped_into_an_hvsim_folder_is_not_deleted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario())
    assert main(["scan-table", scenario.name, "--nodes", "2", "--vms", "4"]) == 0
    out = tmp_path / "reports" / "t-scan-table"
    (out / "my-analysis.xlsx").write_bytes(b"planner's work")
    capsys.readouterr()
    assert main(["scan-table", scenario.name, "--nodes", "2", "--vms", "4"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "hvsim: reports/t-scan-table: not replaced: it holds files hvsim did not write "
        "(my-analysis.xlsx); choose another --out, or add --force to replace it"
    ]
    assert (out / "my-analysis.xlsx").read_bytes() == b"planner's work"


def test_scan_table_has_its_own_folder_which_a_later_run_keeps(tmp_path, monkeypatch, capsys):
    # Before, scan-table.csv went into reports/<name>/, which the next run replaced.
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario())
    assert main(["scan-table", scenario.name, "--nodes", "2", "--vms", "4"]) == 0
    assert capsys.readouterr().out.endswith("wrote reports/t-scan-table/scan-table.csv\n")
    assert main(["run", scenario.name]) == 0
    assert (tmp_path / "reports" / "t-scan-table" / "scan-table.csv").is_file()
    assert (tmp_path / "reports" / "t" / "kpis.json").is_file()


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_output_folders_and_files_follow_the_umask(tmp_path, monkeypatch, capsys, mask):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario())
    old = os.umask(mask)
    try:
        assert main(["scan-table", scenario.name, "--nodes", "2", "--vms", "4"]) == 0
    finally:
        os.umask(old)
    out = tmp_path / "reports" / "t-scan-table"
    # Not tempfile's 0700/0600: what mkdir and open give under this umask.
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask
    assert (out / "scan-table.csv").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (out / MANIFEST).stat().st_mode & 0o777 == 0o666 & ~mask


def _symlink(tmp_path: Path) -> str:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    return "link"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: (p / "a-file").write_text("x") and "a-file", "is a file, not a folder"),
        (_symlink, "is a symbolic link (to "),
        (lambda p: "missing/out", "the folder it goes in does not exist ("),
    ],
    ids=["file", "symlink", "missing-parent"],
)
@pytest.mark.parametrize("command", ["run", "sweep", "compare", "scan-table"])
def test_a_bad_out_is_refused_before_any_simulation(
    tmp_path, monkeypatch, capsys, no_simulation, make, problem, command
):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario()).name
    out = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = {
        "run": ["run", scenario],
        "sweep": ["sweep", scenario, "--vary", BANDWIDTH_VARY, "--workers", "1"],
        "compare": ["compare", scenario, scenario, "--workers", "1"],
        "scan-table": ["scan-table", scenario, "--nodes", "2", "--vms", "4"],
    }[command]
    assert main([*argv, "--out", out], runs=NO_RUNS) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"hvsim: --out {out}: {problem}"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if out == "link":
        assert list((tmp_path / "real").iterdir()) == []


def test_the_default_folder_may_create_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario())
    assert main(["scan-table", scenario.name, "--nodes", "2", "--vms", "4"]) == 0
    assert (tmp_path / "reports" / "t-scan-table" / "scan-table.csv").is_file()


def test_an_error_while_writing_is_one_exit_2_line_and_leaves_nothing(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    scenario = write_scenario(tmp_path, base_scenario())

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "reports"))

    monkeypatch.setattr("tempfile.mkdtemp", full)
    assert main(["scan-table", scenario.name, "--nodes", "2", "--vms", "4"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "hvsim: reports/t-scan-table: cannot write the outputs: No space left on device "
        f"({tmp_path / 'reports'})"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]


# --- temporary names and the lock ----------------------------------------------------


def test_tables_are_written_through_unique_temporary_names(tmp_path, monkeypatch):
    # Another writer's temporary file (the old fixed name) is neither used nor removed.
    (tmp_path / ".runs.csv.tmp").mkdir()
    (tmp_path / ".runs.parquet.tmp").write_text("another writer's", encoding="utf-8")
    sources: list[str] = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: sources.append(str(a)) or real(a, b))
    table = pd.DataFrame({"seed": [1, 2], "k": [0.5, 1.5]})
    write_table(table, tmp_path, "runs")
    write_table(table, tmp_path, "runs")
    assert len(sources) == 4 and len(set(sources)) == 4
    assert ".runs.csv.tmp" not in {Path(s).name for s in sources}
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "runs.parquet"), table)
    assert (tmp_path / ".runs.parquet.tmp").read_text() == "another writer's"


def test_a_second_hvsim_writing_the_same_folder_is_refused_at_once(
    tmp_path, monkeypatch, capsys, no_simulation
):
    scenario = write_scenario(tmp_path, base_scenario())
    out = tmp_path / "study"
    with OutputFolder(out, "sweep") as first:  # a sweep under way holds the lock
        assert (out / LOCK).is_file() and (out / MANIFEST).is_file()
        argv = [
            "sweep",
            str(scenario),
            "--vary",
            BANDWIDTH_VARY,
            "--workers",
            "1",
            "--out",
            str(out),
        ]
        assert main(argv, runs=NO_RUNS) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"hvsim: --out {out}: another hvsim is writing this folder ({out}); wait for it "
            "to finish, or choose another --out"
        ]
        assert first.path == out
    # Released, and nothing published: the folder it created is gone again.
    assert not out.exists()


def test_an_interrupted_sweep_leaves_an_hvsim_folder_that_the_same_command_resumes(
    tmp_path, capsys
):
    scenario = write_scenario(tmp_path, base_scenario())
    out = tmp_path / "study"
    argv = ["sweep", str(scenario), "--vary", BANDWIDTH_VARY, "--replications", "1"]
    argv += ["--workers", "1", "--out", str(out)]
    calls: list[int] = []

    def interrupted_after_one(spec):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return run_spec(spec)

    assert main(argv, runs=RunOptions(runner=interrupted_after_one)) == 130
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, "runs"])
    assert main(argv) == 0
    assert "2 finished (1 computed, 1 from the store)" in capsys.readouterr().out


# --- the run store -------------------------------------------------------------------


def _edit_kpi(record: dict, other: dict) -> dict:
    name = next(iter(record["kpis"]))
    record["kpis"][name] = record["kpis"][name] + 1
    return record


def _recompute(edit):
    """An edit whose maker also fixed up the checksum: the content checks stop it."""

    def edited(record: dict, other: dict) -> dict:
        record = edit(record, other)
        record["checksum"] = record_checksum(record)
        return record

    return edited


def _kpi_as(value):
    def edit(record: dict, other: dict) -> dict:
        record["kpis"][next(iter(record["kpis"]))] = value
        return record

    return edit


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_edit_kpi, "checksum does not match"),
        (lambda record, other: other, "another run's record"),
        (_recompute(lambda r, o: {**r, "kpis": {}}), "no KPIs"),
        (_recompute(_kpi_as("12 h")), "a KPI is not a number"),
        (_recompute(_kpi_as({"p50": 1})), "a KPI is not a number"),
        (_recompute(_kpi_as(float("inf"))), "a KPI is not a number"),
        (lambda r, o: {k: v for k, v in r.items() if k != "checksum"}, "checksum does not match"),
        (_recompute(lambda r, o: {**r, "format": 1}), "another record format"),
    ],
    ids=[
        "edited-kpi",
        "other-runs-record",
        "empty-kpis",
        "string-kpi",
        "mapping-kpi",
        "infinite-kpi",
        "no-checksum",
        "old-format",
    ],
)
def test_a_stored_record_that_does_not_check_is_computed_again_and_said_so(tmp_path, edit, reason):
    doc, store = base_scenario(), tmp_path / "runs"
    clean = run_sweep(doc, [BANDWIDTH_VARY], replications=1, store=store, workers=1)
    first, second = (RunStore(store).path(s.key) for s in clean.specs)
    record = json.loads(first.read_text())
    other = json.loads(second.read_text())
    first.write_text(json.dumps(edit(record, other)), encoding="utf-8")
    stream = io.StringIO()
    again = run_sweep(doc, [BANDWIDTH_VARY], 1, store=store, workers=1, stream=stream)
    assert (again.computed, again.stored, again.rejected) == (1, 1, 1)
    pd.testing.assert_frame_equal(again.table, clean.table)
    assert stream.getvalue().splitlines()[0] == (
        f"1 stored run did not match its record and was computed again ({store}/: {reason}: 1)"
    )
    # The record was written again, whole: the next sweep takes it from the store.
    assert (run_sweep(doc, [BANDWIDTH_VARY], 1, store=store, workers=1).stored) == 2


def test_the_sweep_command_counts_records_computed_again_in_its_line_and_summary(tmp_path, capsys):
    scenario = write_scenario(tmp_path, base_scenario())
    out = tmp_path / "study"
    argv = ["sweep", str(scenario), "--vary", BANDWIDTH_VARY, "--replications", "2"]
    argv += ["--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    for path in sorted((out / "runs").glob("*.json"))[:3]:
        record = json.loads(path.read_text())
        record["kpis"] = {}
        path.write_text(json.dumps(record), encoding="utf-8")
    capsys.readouterr()
    assert main(argv) == 0
    line = (
        "runs: 4 finished (3 computed, 1 from the store), 0 failed; 3 stored runs did not "
        "match their records and were computed again"
    )
    assert line in capsys.readouterr().out.splitlines()
    assert (
        "Runs: 4 finished (3 computed, 1 from the store), 0 failed. 3 stored runs did not "
        "match their records and were computed again."
    ) in (out / "summary.md").read_text().splitlines()


# --- workers, seeds, long names ------------------------------------------------------


def test_workers_are_capped_at_the_cores_and_the_runs_to_compute():
    assert worker_count(4096, 10, cores=2) == (
        2,
        "--workers 4096: using 2 worker processes (2 cores available)",
    )
    assert worker_count(4, 1, cores=2) == (
        1,
        "--workers 4: using 1 worker process (1 run to compute)",
    )
    assert worker_count(2, 10, cores=2) == (2, None)  # as asked: nothing to say
    # The default: one per core, but one on 2 cores or fewer (measured faster there:
    # hvsim.runs.local.ONE_WORKER_UP_TO_CORES).
    assert worker_count(None, 10, cores=2) == (1, None)
    assert worker_count(None, 10, cores=1) == (1, None)
    assert worker_count(None, 10, cores=3) == (3, None)
    assert worker_count(None, 10, cores=8) == (8, None)
    assert worker_count(None, 5, cores=8) == (5, None)  # at most one per run
    assert worker_count(None, 1, cores=2) == (1, None)


def test_a_sweep_asking_for_4096_workers_says_how_many_it_uses():
    # One core: the runs go in this process, not in 4096 (nor 3) worker processes.
    stream = io.StringIO()
    r = run_sweep(
        base_scenario(), [BANDWIDTH_VARY], 1, workers=4096, cores=1, progress=False, stream=stream
    )
    assert r.computed == 2
    assert stream.getvalue().splitlines() == [
        "--workers 4096: using 1 worker process (1 core available)"
    ]


@pytest.mark.parametrize("command", ["run", "sweep", "compare"])
def test_a_negative_seed_exits_2_naming_seed_and_its_range(
    tmp_path, capsys, no_simulation, command
):
    scenario = str(write_scenario(tmp_path, base_scenario()))
    argv = {
        "run": ["run", scenario],
        "sweep": ["sweep", scenario, "--vary", BANDWIDTH_VARY],
        "compare": ["compare", scenario, scenario],
    }[command]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--seed", "-1", "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        f"hvsim {command}: error: argument --seed: expected 0 to 4294967295 ('-1')"
    )
    assert "Traceback" not in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, float("nan"), "3"])
def test_simulate_with_a_bad_seed_raises_a_clear_value_error(seed):
    scenario = hvsim.scenario_from_dict(base_scenario())
    with pytest.raises(ValueError, match=r"^seed must be a whole number from 0 to 4294967295, "):
        hvsim.simulate(scenario, seed=seed)


def test_a_sweep_with_a_negative_first_seed_raises_before_any_run(no_simulation):
    with pytest.raises(ValueError, match="seed must be a whole number from 0"):
        run_sweep(base_scenario(), [BANDWIDTH_VARY], 2, base_seed=-1, workers=1)


def test_compare_of_two_200_character_names_writes_a_folder_within_the_limit(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    a = write_scenario(tmp_path, base_scenario(name="a" * 200), "a.yaml")
    b = write_scenario(tmp_path, base_scenario(name="b" * 200), "b.yaml")
    argv = ["compare", a.name, b.name, "--replications", "2", "--workers", "1"]
    assert main(argv) == 0
    (folder,) = (tmp_path / "reports").iterdir()
    # Each name cut to 116 bytes with a hash of it (105 + "-" + 10 hex), then the
    # whole: 8 + 116 + 4 + 116 = 244 bytes, within 255.
    assert folder.name.startswith("compare-" + "a" * 105 + "-")
    assert "-vs-" + "b" * 105 + "-" in folder.name
    assert len(folder.name.encode()) == 244
    assert (folder / "compare.csv").is_file()
    assert main(argv) == 0  # the same folder again: replaced, its runs from the store
    assert "4 finished (0 computed, 4 from the store)" in capsys.readouterr().out


def test_fit_name_keeps_names_that_fit_and_shortens_others_with_a_stable_hash():
    assert fit_name("small-lab") == "small-lab"
    long = "x" * 300
    assert len(fit_name(long).encode()) == 255
    assert fit_name(long) == fit_name(long) != fit_name("x" * 299 + "y")
