"""The runs a report draws in detail are planned runs, carried out once: in this
process (while the workers run the others), kept for the report, never simulated
again; a run the command simulated itself is not run again either."""

from __future__ import annotations

import os
from typing import Any

import pytest

import hvsim.sweep
from hvsim.runs.local import run_local
from hvsim.runs.plan import RunSpec
from hvsim.runs.task import stored_kpis
from hvsim.sweep import compare, replicate, run_sweep
from tests.builders import BANDWIDTH_VARY, noisy_scenario


def pid_runner(spec: RunSpec) -> dict[str, Any]:
    return {"key": spec.key, "kpis": {"pid": os.getpid()}, "error": None, "traceback": ""}


def test_runs_kept_here_run_in_this_process_and_the_rest_in_the_workers():
    specs = [RunSpec(i, f"k{i}", {}, 1, {}, "t") for i in range(5)]
    pids: dict[int, int] = {}
    run_local(
        specs,
        2,
        "spawn",
        pid_runner,
        lambda spec, outcome: pids.__setitem__(spec.index, outcome["kpis"]["pid"]),
        here={0: pid_runner, 4: pid_runner},
    )
    # Every run once; runs 0 and 4 here, the three others in (at most two) workers.
    assert sorted(pids) == [0, 1, 2, 3, 4]
    assert pids[0] == pids[4] == os.getpid()
    workers = {pids[i] for i in (1, 2, 3)}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2


def no_second_simulation(spec: RunSpec) -> None:
    raise AssertionError(f"run {spec.index} simulated again")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sweeps_detail_runs_are_its_planned_runs_of_the_base_seed(monkeypatch, workers):
    monkeypatch.setattr(hvsim.sweep, "_simulate_again", no_second_simulation)
    seen: list[tuple[int, int, dict[str, Any]]] = []

    def keep(res: Any, scenario: Any) -> str:
        seen.append((os.getpid(), res.seed, stored_kpis(res.kpis())))
        return f"drawn {scenario.name}"

    # 2 bandwidths x 3 seeds from 5: the first and the last combination's run of seed 5.
    swept = run_sweep(
        noisy_scenario(),
        [BANDWIDTH_VARY],
        3,
        5,
        workers=workers,
        progress=False,
        details={0: keep, -1: keep},
    )
    assert swept.computed == 6  # 2 x 3, none twice
    assert sorted(swept.details) == [0, 1]
    assert set(swept.details.values()) == {f"drawn {noisy_scenario()['name']}"}
    assert [(pid, seed) for pid, seed, _ in seen] == [(os.getpid(), 5)] * 2
    rows = swept.table[swept.table["seed"] == 5].to_dict("records")
    for (_, _, kpis), row in zip(seen, rows, strict=True):
        # The very run of the table's row: its KPIs, as the table holds them.
        assert all(row[k] == v for k, v in kpis.items() if k in row and v is not None)


def test_a_detail_run_the_store_holds_is_simulated_here(tmp_path):
    doc = noisy_scenario()
    first = run_sweep(doc, [BANDWIDTH_VARY], 2, store=tmp_path, progress=False)
    assert (first.computed, first.details) == (4, {})
    again = run_sweep(
        doc,
        [BANDWIDTH_VARY],
        2,
        store=tmp_path,
        progress=False,
        details={1: lambda res, scenario: res.seed},
    )
    # Nothing computed (all 4 stored), but the report still gets its run of seed 1.
    assert (again.computed, again.stored, again.details) == (0, 4, {1: 1})


def test_a_comparisons_details_are_each_sides_run_of_the_base_seed(monkeypatch):
    monkeypatch.setattr(hvsim.sweep, "_simulate_again", no_second_simulation)
    doc = noisy_scenario()
    slower = noisy_scenario()
    slower["links"][2]["bandwidth"] = "1 Gbps"
    cmp = compare(
        doc,
        slower,
        2,
        3,
        progress=False,
        details={0: lambda r, s: ("A", r.seed), 1: lambda r, s: ("B", r.seed)},
    )
    assert cmp.computed == 4
    assert cmp.details == {0: ("A", 3), 1: ("B", 3)}


class Ran:
    """A run simulated already by the caller: its KPIs (one, made up)."""

    seed = 1

    def kpis(self) -> dict[str, Any]:
        return {"made_up": 7.0}


def test_replications_take_the_callers_run_of_the_base_seed():
    reps = replicate(noisy_scenario(), 2, 1, progress=False, first=(Ran(), 0.5))
    # Seed 1 is the caller's run (its made-up KPI, no other), seed 2 is simulated.
    assert reps.computed == 2 and reps.stored == 0
    one, two = reps.table.to_dict("records")
    assert (one["seed"], one["made_up"]) == (1, 7.0)
    assert two["seed"] == 2 and "backups.makespan_max_s" in reps.kpis
