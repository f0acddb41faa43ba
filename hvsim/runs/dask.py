"""Runs on an existing Dask cluster. The
workers need hvsim installed, the same version: runs are keyed by the client's
model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hvsim.runs.plan import RunSpec
from hvsim.runs.task import failure


class SchedulerError(Exception):
    """The Dask scheduler cannot be reached (a message for people, no traceback)."""


def connect(scheduler: str, timeout_s: float = 10.0) -> Any:
    """A ``distributed.Client`` for a scheduler address, or SchedulerError."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(
            f"--scheduler {scheduler}: cannot reach the Dask scheduler "
            f"({' '.join(str(exc).split())})"
        ) from None


def run_dask(
    todo: list[RunSpec],
    client: Any,
    runner: Callable[[RunSpec], dict[str, Any]],
    done: Callable[[RunSpec, dict[str, Any]], None],
) -> None:
    """Submit every run to the cluster, take results as they come."""
    from distributed import as_completed as dask_as_completed

    futures = {client.submit(runner, spec, pure=False): spec for spec in todo}
    try:
        for fut in dask_as_completed(futures):
            spec = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker lost mid-run
                outcome = failure(spec, exc)
            done(spec, outcome)
    except BaseException:
        client.cancel(list(futures))
        raise
