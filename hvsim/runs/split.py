"""One run split into its independent parts (hvsim.parts), the parts run on worker
processes or Dask workers, their results merged (hvsim.merge): the tables of
``hvsim.simulate``, computed faster when an estate has several parts."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from hvsim.merge import PartTrace
from hvsim.results import Results
from hvsim.scenario.schema import Scenario
from hvsim.simulation import simulate_part, simulate_split

Pieces = list[tuple[Results, PartTrace]]
PartRunner = Callable[[Scenario, int, list[frozenset[int]]], Pieces]


def local_parts(workers: int, start_method: str = "spawn") -> PartRunner:
    """Run the groups of parts on ``workers`` worker processes (one: in this process)."""

    def run(scenario: Scenario, seed: int, owned: list[frozenset[int]]) -> Pieces:
        if workers <= 1 or len(owned) <= 1:
            return [simulate_part(scenario, seed, o) for o in owned]
        context = multiprocessing.get_context(start_method)
        with ProcessPoolExecutor(max_workers=min(workers, len(owned)), mp_context=context) as pool:
            futures = [pool.submit(simulate_part, scenario, seed, o) for o in owned]
            return [f.result() for f in futures]

    return run


def dask_parts(client: Any) -> PartRunner:
    """Run the groups of parts on the workers of a Dask ``distributed.Client``."""

    def run(scenario: Scenario, seed: int, owned: list[frozenset[int]]) -> Pieces:
        futures = [client.submit(simulate_part, scenario, seed, o, pure=False) for o in owned]
        pieces: Pieces = client.gather(futures)
        return pieces

    return run


def simulate_on(
    scenario: Scenario, seed: int, workers: int, client: Any = None, start_method: str = "spawn"
) -> Results:
    """``simulate``'s results, the parts dealt over ``workers`` groups on local worker
    processes, or on the Dask cluster of ``client`` when given."""
    runner = dask_parts(client) if client is not None else local_parts(workers, start_method)
    return simulate_split(scenario, seed, run_parts=runner, groups=workers)
