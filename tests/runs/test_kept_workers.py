"""Worker processes kept between batches of runs (a search's many small batches)."""

from __future__ import annotations

import os
from typing import Any

from hvsim.runs import local
from hvsim.runs.local import run_local, workers_kept
from hvsim.runs.plan import RunSpec


def pid_runner(spec: RunSpec) -> dict[str, Any]:
    return {"key": spec.key, "kpis": {"pid": os.getpid()}, "error": None, "traceback": ""}


def specs(n: int) -> list[RunSpec]:
    return [RunSpec(i, f"k{i}", {}, 1, {}, "t") for i in range(n)]


def pids_of_two_batches() -> tuple[set[int], set[int]]:
    batches: list[set[int]] = [set(), set()]
    for batch in batches:
        run_local(specs(4), 2, "spawn", pid_runner, lambda s, o, b=batch: b.add(o["kpis"]["pid"]))
    return batches[0], batches[1]


def test_kept_workers_serve_the_next_batch():
    with workers_kept():
        first, second = pids_of_two_batches()
    # The same two processes serve both batches (which of them takes which run depends
    # on the machine's load): new pools would bring new processes, up to four here.
    assert os.getpid() not in first | second
    assert len(first | second) <= 2


def test_without_the_block_each_batch_starts_its_own():
    first, second = pids_of_two_batches()
    assert not first & second


def test_workers_started_ahead_serve_the_batch_of_their_width():
    with workers_kept():
        local.start_workers(2, "spawn")
        started = set(local._KEPT[(2, "spawn")]._processes)  # type: ignore[index]
        pids: set[int] = set()
        run_local(specs(4), 2, "spawn", pid_runner, lambda s, o: pids.add(o["kpis"]["pid"]))
    # Two processes started ahead, and the four runs went to them: no other started.
    assert len(started) == 2
    assert pids <= started
