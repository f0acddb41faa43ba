"""Many runs of one model: the ``--vary`` grammar (vary), planning and keys
(plan), one run as a worker does it (task), the store of finished runs (store),
progress, local worker processes (local), a Dask cluster (dask), carrying them
out (execute, with RunOptions) and the runs table (table)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hvsim.runs.options import RunOptions

__all__ = ["RunOptions"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: RunOptions brings the simulator (and pandas) with it, the
    # --vary grammar and the worker count do not need them.
    if name == "RunOptions":
        from hvsim.runs.options import RunOptions

        return RunOptions
    raise AttributeError(f"module 'hvsim.runs' has no attribute {name!r}")
