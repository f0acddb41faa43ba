"""A worker process that dies (the OS kills it for memory, say) costs its own run
only: the sweep records that run as failed, says why, and finishes the others."""

from __future__ import annotations

import os

import pandas as pd

from hvsim.runs.plan import RunSpec
from hvsim.runs.task import run_spec
from hvsim.sweep import run_sweep
from tests.builders import BANDWIDTH_VARY, noisy_scenario


def dies_on_seed_2(spec: RunSpec) -> dict:
    """Runs in the worker (pickled by name): its process ends without a word on seed 2,
    as a process killed by the OS does."""
    if spec.seed == 2:
        os._exit(9)
    return run_spec(spec)


def always_dies(spec: RunSpec) -> dict:
    os._exit(9)


def test_a_run_that_kills_its_worker_fails_alone_and_the_other_runs_finish():
    doc = noisy_scenario()
    # 2 bandwidths x 3 seeds: the two seed-2 runs die, the four others must finish
    # with exactly the KPIs of a sweep run in this process. (Each death starts new
    # worker processes, so this test takes a few seconds.)
    swept = run_sweep(doc, [BANDWIDTH_VARY], 3, workers=2, progress=False, runner=dies_on_seed_2)
    assert sorted(swept.failures["seed"]) == [2, 2]
    assert set(swept.failures["error"]) == {
        "WorkerProcessDied: its worker process died during the run (out of memory?)"
    }
    assert sorted(swept.table["seed"]) == [1, 1, 3, 3]

    here = run_sweep(doc, [BANDWIDTH_VARY], replications=3, workers=1, progress=False)
    expected = here.table[here.table["seed"] != 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(swept.table.reset_index(drop=True), expected)


def test_workers_that_die_before_any_run_finishes_fail_every_run_with_the_reason():
    swept = run_sweep(
        noisy_scenario(), [BANDWIDTH_VARY], 3, workers=2, progress=False, runner=always_dies
    )
    assert swept.table.empty
    assert len(swept.failures) == 6
    assert swept.failures["error"].str.contains("__name__ == '__main__'", regex=False).all()
