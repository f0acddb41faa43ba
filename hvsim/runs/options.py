"""How many runs are carried out: where (this process, local worker processes, a
Dask cluster), with which store and progress. One object, handed down, instead of
arguments repeated at every level (and of module globals patched in tests)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hvsim.runs.plan import RunSpec
from hvsim.runs.task import run_spec


@dataclass(frozen=True)
class RunOptions:
    """``store``: a folder for finished runs (resume); ``workers``: local processes
    (default one per core, but 1 on 2 cores or fewer; at most ``cores`` and one per
    run to compute; 1 runs in this process); ``scheduler``: a Dask address ``tcp://host:port`` or a
    ``distributed.Client`` instead; ``progress``: show progress (None: on a
    terminal only) on ``stream`` (default stderr); ``start_method`` of the worker
    processes; ``runner``: the function that carries out one run (picklable, top
    level: it goes to the workers by name); ``cores``: the cores this process may
    use (None: asked of the OS)."""

    store: str | Path | None = None
    workers: int | None = None
    scheduler: Any = None
    progress: bool | None = None
    start_method: str = "spawn"
    stream: TextIO | None = None
    runner: Callable[[RunSpec], dict[str, Any]] = run_spec
    cores: int | None = None

    def but(self, **changes: Any) -> RunOptions:
        """A copy with ``changes`` (field names; another name is a TypeError)."""
        return dataclasses.replace(self, **changes) if changes else self
