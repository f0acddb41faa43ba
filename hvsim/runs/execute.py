"""Carrying out planned runs: those the store holds are taken from it, the others
go to this process, local worker processes or a Dask cluster; each finished run is
stored at once and shown on the progress bar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hvsim.runs.local import Runner, run_local, worker_count
from hvsim.runs.options import RunOptions
from hvsim.runs.plan import RunSpec, describe
from hvsim.runs.progress import RunsProgress
from hvsim.runs.store import RunStore, rejected_line


@dataclass
class Execution:
    outcomes: dict[int, dict[str, Any]]
    computed: int
    stored: int
    rejected: int = 0


def execute(
    specs: Sequence[RunSpec],
    options: RunOptions | None = None,
    label: str = "runs",
    here: Mapping[int, Runner] | None = None,
    known: Mapping[int, dict[str, Any]] | None = None,
) -> Execution:
    """Run what the store does not hold yet; store each run as it finishes.

    ``here``: runs (by index) to carry out in this process with their own runner
    (task.run_keeping, say), while the workers run the others; ``known``: outcomes of
    runs this process carried out already (task.finished): stored and counted as
    computed, not run again. Neither changes a run's outcome: only where it is made."""
    options = options if options is not None else RunOptions()
    store = RunStore(options.store) if options.store is not None else None
    known = known or {}
    outcomes: dict[int, dict[str, Any]] = {}
    todo: list[RunSpec] = []
    why_rejected: dict[str, int] = {}
    for spec in specs:
        stored, problem = store.check(spec.key) if store else (None, None)
        if stored is not None:
            outcomes[spec.index] = {"kpis": stored["kpis"], "error": None, "traceback": ""}
        else:
            todo.append(spec)
            if problem is not None:
                why_rejected[problem] = why_rejected.get(problem, 0) + 1
    rejected = sum(why_rejected.values())
    client, own = options.scheduler, False
    if isinstance(client, str):  # connect only when there is something to run
        from hvsim.runs.dask import connect

        client, own = (connect(client), True) if todo else (None, False)
    bar = RunsProgress(len(specs), len(outcomes), options.stream, options.progress, label)
    if rejected and store is not None:
        reasons = ", ".join(f"{why}: {n}" for why, n in sorted(why_rejected.items()))
        bar.message(f"{rejected_line(rejected)} ({store.folder}/: {reasons})")
    n_workers = 1
    if client is None:
        n_workers, capped = worker_count(options.workers, len(todo), options.cores)
        if capped:
            bar.message(capped)
    bar.start(len(todo))
    computed = 0

    def done(spec: RunSpec, outcome: dict[str, Any]) -> None:
        nonlocal computed
        outcomes[spec.index] = outcome
        failed = outcome["error"] is not None
        if not failed:
            computed += 1
            if store:
                store.put(spec, outcome)
        else:
            bar.message(f"run failed ({describe(spec.values, spec.seed)}): {outcome['error']}")
        bar.update(failed)

    planned = len(todo)
    for spec in todo:
        if spec.index in known:
            done(spec, dict(known[spec.index]))
    todo = [spec for spec in todo if spec.index not in known]
    try:
        if client is not None:
            from hvsim.runs.dask import run_dask

            for spec in todo:
                if here and spec.index in here:
                    done(spec, here[spec.index](spec))
            rest = [spec for spec in todo if not (here and spec.index in here)]
            run_dask(rest, client, options.runner, done)
        else:
            run_local(todo, n_workers, options.start_method, options.runner, done, here)
    finally:
        bar.close()
        if own:
            client.close()
    return Execution(outcomes, computed, len(specs) - planned, rejected)
