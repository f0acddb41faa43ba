"""Runs in local worker processes: a pool at most one run per worker at a time, and
recovery from a worker that dies (killed by the OS for memory, say)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from hvsim.runs.plan import RunSpec

Runner = Callable[[RunSpec], dict[str, Any]]
Done = Callable[[RunSpec, dict[str, Any]], None]


# At most this many cores, the default is one worker (the runs in the hvsim process).
# Measured on a 2-core machine shared with other work (load 3 to 5), `hvsim sweep`,
# median of 3 wall times: small-lab, 20 runs of about 0.4 s: 1 worker 13.0 s, 2 workers
# 16.0 s (a quieter round: 9.6 s and 10.6 s); csv-8node-400vm, 6 runs of about 3 s:
# 1 worker 21.0 s, 2 workers 25.2 s. Two spawned workers pay their start (importing
# hvsim, pandas, SimPy) and share the two cores with the sweep and the rest of the
# machine: they gained nothing on short runs or long.
ONE_WORKER_UP_TO_CORES = 2


def available_cores() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_workers(cores: int | None = None) -> int:
    """Local worker processes when none are asked for: one per core, but one (the
    runs in this process) on a machine of ONE_WORKER_UP_TO_CORES cores or fewer."""
    cores = cores if cores is not None else available_cores()
    return 1 if cores <= ONE_WORKER_UP_TO_CORES else cores


def worker_count(
    requested: int | None, todo: int, cores: int | None = None
) -> tuple[int, str | None]:
    """Local worker processes for ``todo`` runs: the request (default: default_workers,
    one per core but one on 2 cores or fewer) capped at the ``cores`` this process may
    use (default: asked of the OS) and at the runs to compute (more would only cost
    memory). With the line saying so when a request is capped."""
    cores = cores if cores is not None else available_cores()
    wanted = requested if requested is not None else default_workers(cores)
    n = max(1, min(wanted, cores, todo))
    if requested is None or n >= requested or todo == 0:
        return n, None
    why = (
        f"{_count(cores, 'core')} available"
        if cores <= todo
        else f"{_count(todo, 'run')} to compute"
    )
    return n, f"--workers {requested}: using {_count(n, 'worker process', 'es')} ({why})"


def failure(spec: RunSpec, exc: BaseException) -> dict[str, Any]:
    """task.failure, imported when needed: this module is imported before the
    simulator (and pandas) are, to start the workers while the command loads them."""
    from hvsim.runs.task import failure as outcome

    return outcome(spec, exc)


def _count(n: int, noun: str, plural: str = "s") -> str:
    return f"{n} {noun}{'' if n == 1 else plural}"


def _worker_init(parent_pid: int) -> None:
    """A pool worker leaves Ctrl-C to the sweep (which stops it) and ends with the
    sweep even when that is killed outright (Linux: parent-death signal)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the sweep died before the signal was set
        os._exit(1)


class WorkerProcessDied(Exception):
    """A run's worker process died (failures.csv says so instead of a traceback)."""


_DIED_AT_START = (
    "worker processes die before finishing any run: in a script, the sweep must be "
    "under `if __name__ == '__main__':`; otherwise the runs may need more memory than "
    "the machine has (try fewer workers)"
)
_DIED_MID_RUN = "its worker process died during the run (out of memory?)"


def run_local(
    todo: list[RunSpec],
    workers: int,
    start_method: str,
    runner: Runner,
    done: Done,
    here: Mapping[int, Runner] | None = None,
) -> None:
    """Run ``todo`` with ``runner`` in a pool of worker processes, at most one run per
    worker at a time (one worker: in this process). A worker that dies breaks the
    pool and the runs under way in it: each of those is run again alone, so the run
    that kills its worker fails by itself, and the rest go on in a new pool.

    ``here``: runs (by index) carried out in this process with their own runner (one
    that keeps what a report draws, say), in a thread of this process while the
    workers run the rest; ``done`` is called from one thread at a time."""
    here = here or {}
    if workers <= 1 or len(todo) <= 1:
        for spec in todo:
            done(spec, here.get(spec.index, runner)(spec))
        return
    mine = [spec for spec in todo if spec.index in here]
    pending = [spec for spec in todo if spec.index not in here]
    width = min(workers, max(1, len(pending)))
    if not mine:
        _run_pooled(pending, width, start_method, runner, done)
        return
    # This process's runs go on in a thread of their own, so the pool is fed the
    # whole time (the thread holds the GIL; this one mostly waits for the workers).
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def locked(spec: RunSpec, outcome: dict[str, Any]) -> None:
        with lock:
            done(spec, outcome)

    def own() -> None:
        try:
            for spec in mine:
                if stop.is_set():
                    return
                locked(spec, here[spec.index](spec))
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=own, name="hvsim-runs-here", daemon=True)
    thread.start()
    try:
        _run_pooled(pending, width, start_method, runner, locked)
    except BaseException:
        stop.set()  # the run under way here finishes (a thread cannot be stopped)
        raise
    thread.join()
    if errors:
        raise errors[0]


def _run_pooled(
    pending: list[RunSpec], width: int, start_method: str, runner: Runner, done: Done
) -> None:
    """run_local's pool, and its recovery from workers that die."""
    worked = False
    dead: list[RunSpec] = []  # died alone before any run finished: reason not yet known
    while pending:
        suspects, pending, finished = _pool_pass(pending, width, start_method, runner, done)
        worked = worked or finished
        for i, spec in enumerate(suspects):
            alone, _, finished = _pool_pass([spec], 1, start_method, runner, done)
            worked = worked or finished
            if alone:
                dead.append(spec)
            if worked:
                for s in dead:
                    done(s, failure(s, WorkerProcessDied(_DIED_MID_RUN)))
                dead = []
            elif len(dead) == 2:
                # Workers die before finishing anything: they cannot start at all, or
                # every run needs more memory than there is. Retrying fails alike.
                for s in dead + suspects[i + 1 :] + pending:
                    done(s, failure(s, WorkerProcessDied(_DIED_AT_START)))
                return
    for s in dead:
        done(s, failure(s, WorkerProcessDied(_DIED_MID_RUN if worked else _DIED_AT_START)))


# Pools kept between calls while ``workers_kept()`` is active: (width, start method)
# -> pool. None: every call starts its pool and shuts it down.
_KEPT: dict[tuple[int, str], ProcessPoolExecutor] | None = None


@contextlib.contextmanager
def workers_kept() -> Iterator[None]:
    """Within this block, local worker processes started for one batch of runs serve
    the next batches too (a search runs many small batches: starting a pool of
    spawned workers for each costs more than the runs). Shut down on leaving it."""
    global _KEPT
    if _KEPT is not None:  # nested: the outer block owns the pools
        yield
        return
    _KEPT = {}
    try:
        yield
    finally:
        pools, _KEPT = _KEPT, None
        for pool in pools.values():
            pool.shutdown(wait=True)


def _ready() -> None:
    """A started worker's first task: import what a run needs before the runs come."""
    import hvsim.runs.task  # noqa: F401


def start_workers(workers: int, start_method: str = "spawn") -> None:
    """Start a pool of ``workers`` processes now, within workers_kept(): the runs of a
    batch of that width (run_local's) go to them when it comes, and their start
    (spawned, hvsim and pandas imported) went on while this process did its own
    work. Outside workers_kept(), or for one worker, nothing."""
    if _KEPT is None or workers <= 1:
        return
    pool = _pool(workers, start_method)
    for _ in range(workers):  # each submission starts a process (spawn, forkserver)
        pool.submit(_ready)


def _pool(width: int, start_method: str) -> ProcessPoolExecutor:
    key = (width, start_method)
    if _KEPT is not None and key in _KEPT:
        return _KEPT[key]
    pool = ProcessPoolExecutor(
        max_workers=width,
        mp_context=multiprocessing.get_context(start_method),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )
    if _KEPT is not None:
        _KEPT[key] = pool
    return pool


def kept_pool(start_method: str = "spawn") -> ProcessPoolExecutor | None:
    """The widest pool workers_kept() holds for ``start_method``, or None: a split run
    within a command that started its workers ahead runs its parts on them."""
    if not _KEPT:
        return None
    kept = [(width, pool) for (width, method), pool in _KEPT.items() if method == start_method]
    return max(kept, key=lambda kv: kv[0])[1] if kept else None


def _drop(pool: ProcessPoolExecutor) -> None:
    """A pool that is broken or interrupted is not kept."""
    if _KEPT is not None:
        for key, kept in list(_KEPT.items()):
            if kept is pool:
                del _KEPT[key]


def _pool_pass(
    specs: list[RunSpec], width: int, start_method: str, runner: Runner, done: Done
) -> tuple[list[RunSpec], list[RunSpec], bool]:
    """Run ``specs`` in one pool, ``width`` at a time, reporting each to ``done``,
    until they are all done or a worker dies. Returns (the runs the dead worker
    took down, the runs not started, whether any run finished)."""
    pool = _pool(width, start_method)
    running: dict[Any, RunSpec] = {}
    broken: list[RunSpec] = []
    finished = False
    nxt = 0
    try:
        while nxt < len(specs) or running:
            while nxt < len(specs) and len(running) < width and not broken:
                running[pool.submit(runner, specs[nxt])] = specs[nxt]
                nxt += 1
            if not running:
                break
            ready, _ = wait(running, return_when=FIRST_COMPLETED)
            if any(_died(fut) for fut in ready):
                _drop(pool)
                pool.shutdown(wait=True)  # every run under way has its outcome now
                ready = set(running)
            for fut in sorted(ready, key=lambda f: running[f].index):
                spec = running.pop(fut)
                if _died(fut):
                    broken.append(spec)
                    continue
                try:
                    outcome = fut.result()
                except Exception as exc:  # noqa: BLE001 - a run's own failure is reported
                    outcome = failure(spec, exc)
                finished = True
                done(spec, outcome)
    except BaseException:
        # Interrupted: runs under way are lost (finished ones are stored already).
        _drop(pool)
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    if _KEPT is None or broken:
        pool.shutdown(wait=True)
    return broken, specs[nxt:], finished


def _died(fut: Any) -> bool:
    return isinstance(fut.exception(), BrokenProcessPool)
