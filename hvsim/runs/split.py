"""One run split into its independent parts (hvsim.parts), the parts run on worker
processes or Dask workers, their results merged (hvsim.merge): the tables of
``hvsim.simulate``, computed faster when an estate has several parts."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from hvsim.parts import PartMap
from hvsim.results import Results
from hvsim.runs.local import kept_pool
from hvsim.scenario.schema import Scenario
from hvsim.simulation import PartsStarter, Pieces, simulate_part, simulate_split


def local_parts(workers: int, start_method: str = "spawn") -> PartsStarter:
    """Start the groups of parts on up to ``workers`` - 1 worker processes (this
    process runs the first group itself)."""

    def start(
        scenario: Scenario, seed: int, owned: list[frozenset[int]], parts: PartMap
    ) -> Callable[[], Pieces]:
        pool = kept_pool(start_method)
        own = pool is None
        if pool is None:
            context = multiprocessing.get_context(start_method)
            pool = ProcessPoolExecutor(
                max_workers=max(1, min(workers - 1, len(owned))), mp_context=context
            )
        futures = [pool.submit(simulate_part, scenario, seed, o, parts) for o in owned]

        def wait() -> Pieces:
            try:
                return [f.result() for f in futures]
            finally:
                if own:
                    pool.shutdown(wait=True, cancel_futures=True)

        return wait

    return start


def dask_parts(client: Any) -> PartsStarter:
    """Start the groups of parts on the workers of a Dask ``distributed.Client``."""

    def start(
        scenario: Scenario, seed: int, owned: list[frozenset[int]], parts: PartMap
    ) -> Callable[[], Pieces]:
        futures = [
            client.submit(simulate_part, scenario, seed, o, parts, pure=False) for o in owned
        ]

        def wait() -> Pieces:
            pieces: Pieces = client.gather(futures)
            return pieces

        return wait

    return start


def simulate_on(
    scenario: Scenario,
    seed: int,
    workers: int,
    client: Any = None,
    start_method: str = "spawn",
    progress: Callable[[float], None] | None = None,
    announce: Callable[[int, int], None] | None = None,
) -> Results:
    """``simulate``'s results, the parts dealt into ``workers`` groups: the first run
    here, the others on local worker processes, or on the Dask cluster of ``client``
    when given (simulate_split's ``progress`` and ``announce``)."""
    start = dask_parts(client) if client is not None else local_parts(workers, start_method)
    return simulate_split(
        scenario, seed, start_parts=start, groups=workers, progress=progress, announce=announce
    )
