"""The run store (hvsim/runs/store.py) and its keys (hvsim/runs/plan.py): a resumed
sweep reruns nothing finished, a changed scenario or seed is computed again, and the
fingerprint covers every module a simulation loads and changes with the model, not
with the reports, the runner or the command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import hvsim
from hvsim.cli import main
from hvsim.runs.options import RunOptions
from hvsim.runs.plan import kpi_source_files, source_fingerprint
from hvsim.runs.task import run_spec
from hvsim.sweep import run_sweep
from tests.builders import BANDWIDTH_VARY, ROOT, noisy_scenario, write_scenario


def test_a_resumed_sweep_does_not_rerun_finished_runs(tmp_path):
    doc, store = noisy_scenario(), tmp_path / "runs"
    calls: list[int] = []

    def killed_after_three(spec):
        if len(calls) == 3:
            raise KeyboardInterrupt  # the sweep dies while the fourth run is going
        calls.append(spec.seed)
        return run_spec(spec)

    def counted(spec):
        calls.append(1)
        return run_spec(spec)

    here = RunOptions(store=store, workers=1)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(doc, [BANDWIDTH_VARY], 3, options=here.but(runner=killed_after_three))
    assert len(list(store.glob("*.json"))) == 3

    calls.clear()
    resumed = run_sweep(doc, [BANDWIDTH_VARY], 3, options=here.but(runner=counted))
    assert len(calls) == 6 - 3
    assert (resumed.computed, resumed.stored) == (3, 3)
    fresh = run_sweep(doc, [BANDWIDTH_VARY], replications=3, workers=1)
    pd.testing.assert_frame_equal(resumed.table, fresh.table)

    calls.clear()
    again = run_sweep(doc, [BANDWIDTH_VARY], 3, options=here.but(runner=counted))
    assert calls == [] and (again.computed, again.stored) == (0, 6)


def test_a_changed_scenario_or_seed_is_not_taken_from_the_store(tmp_path):
    doc, store = noisy_scenario(), tmp_path / "runs"
    run_sweep(doc, [BANDWIDTH_VARY], replications=2, store=store, workers=1)
    other = run_sweep(noisy_scenario(horizon_days=1), [BANDWIDTH_VARY], 2, store=store, workers=1)
    assert (other.computed, other.stored) == (4, 0)
    shifted = run_sweep(doc, [BANDWIDTH_VARY], replications=2, base_seed=2, store=store, workers=1)
    assert (shifted.computed, shifted.stored) == (2, 2)  # seed 2 is stored, seed 3 is new


def test_sweep_command_run_twice_computes_nothing_the_second_time(tmp_path, capsys):
    scenario = write_scenario(tmp_path, noisy_scenario())
    out = tmp_path / "out"
    argv = ["sweep", str(scenario), "--vary", BANDWIDTH_VARY, "--replications", "2"]
    argv += ["--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    assert "4 finished (4 computed, 0 from the store)" in capsys.readouterr().out
    stored = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert len(stored) == 4
    assert main(argv) == 0
    assert "4 finished (0 computed, 4 from the store)" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")} == stored
    table = pd.read_parquet(out / "runs.parquet")
    assert len(table) == 4
    pd.testing.assert_frame_equal(
        table[["links[2].bandwidth", "seed"]],
        pd.read_csv(out / "runs.csv")[["links[2].bandwidth", "seed"]],
    )
    for name in ("summary.csv", "summary.md", "report.html"):
        assert (out / name).is_file()
    assert "KPIs against the varied parameter" in (out / "report.html").read_text()


def test_editing_report_runner_or_command_code_keeps_stored_runs_but_a_model_edit_does_not(
    tmp_path,
):
    # Stored runs are keyed by a fingerprint of what decides KPIs: a copy of the
    # package with the reports, the runner, the statistics or the command line edited
    # keeps its fingerprint (its stores stay valid); a model edit changes it.
    root = tmp_path / "hvsim"
    package = Path(hvsim.__file__).parent
    shutil.copytree(package, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = source_fingerprint(root)
    assert before == source_fingerprint(package)
    for rel in ("report/html.py", "runs/local.py", "cli.py", "sweep.py", "stats.py", "files.py"):
        with (root / rel).open("a", encoding="utf-8") as fh:
            fh.write("\n# moved\n")
    assert source_fingerprint(root) == before
    with next((root / "model").glob("*.py")).open("a", encoding="utf-8") as fh:
        fh.write("\n# changed\n")
    assert source_fingerprint(root) != before


def test_every_module_a_simulation_loads_is_in_the_fingerprint():
    # A module that simulate() and kpis() load decides KPIs: forgetting it in
    # KPI_SOURCES would reuse stored runs of an older model.
    code = (
        "import sys, hvsim\n"
        "from hvsim.scenario.loader import load_scenario\n"
        "hvsim.simulate(load_scenario(sys.argv[1]), seed=1).kpis()\n"
        "for name, m in sorted(sys.modules.items()):\n"
        "    if name.split('.')[0] == 'hvsim': print(m.__file__)\n"
    )
    example = ROOT / "scenarios" / "small-lab.yaml"
    out = subprocess.run(
        [sys.executable, "-c", code, str(example)], capture_output=True, text=True, check=True
    )
    loaded = {Path(line).resolve() for line in out.stdout.split()}
    hashed = {p.resolve() for p in kpi_source_files(Path(hvsim.__file__).parent)}
    assert loaded and loaded <= hashed, sorted(map(str, loaded - hashed))
