"""Runs on an existing Dask cluster, with the optional extra ``hvsim[dask]`` (dask
and distributed). The workers need hvsim installed, the same version: runs are
keyed by the client's model."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hvsim.runs.plan import RunSpec

MISSING = (
    "--scheduler needs Dask, which is not installed: pip install 'hvsim[dask]' "
    "(dask and distributed)"
)


class SchedulerError(Exception):
    """The Dask scheduler cannot be reached (a message for people, no traceback)."""


class DaskMissing(SchedulerError):
    """Dask is not installed (the optional extra hvsim[dask])."""


def available() -> bool:
    """dask and distributed can be imported (found without importing them: ~1 s)."""
    return all(_found(name) for name in ("dask", "distributed"))


def _found(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # in sys.modules without a spec, say
        return False


def connect(scheduler: str, timeout_s: float = 10.0) -> Any:
    """A ``distributed.Client`` for a scheduler address, or SchedulerError (DaskMissing
    without Dask)."""
    if not available():
        raise DaskMissing(MISSING)
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

    from hvsim.runs.task import failure

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
