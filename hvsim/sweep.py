"""Replications, parameter sweeps and comparisons: many runs, one tidy table.

A run is a scenario document (the YAML mapping), the values varied in it and a
seed. Runs go to a local process pool, to an existing Dask cluster, or run in
this process (one worker); each finished run is stored at once as one small JSON
file keyed by a hash of the canonical scenario, the varied values, the seed and
the model's source, so a sweep killed and started again recomputes nothing it
already finished. Tables come out in the order the runs were planned, whatever
order they finished in: the same sweep gives the same table with any number of
workers.

Statistics across replications: each KPI's mean with a Student t confidence
interval (95 % by default) and its 50th and 95th percentiles. Replication ``r``
(0-based) uses seed ``base_seed + r``; a comparison runs the same seeds on both
sides (common random numbers) and takes the confidence interval of the paired
differences.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import multiprocessing
import numbers
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

import hvsim
from hvsim import check_seed, simulate
from hvsim.files import atomic_write
from hvsim.overrun import RunawayError
from hvsim.scenario.loader import ScenarioError, parse_yaml, scenario_from_dict
from hvsim.scenario.schema import Scenario

CONFIDENCE = 0.95
# 2: records carry a checksum of their content (format 1 records are computed again).
CACHE_FORMAT = 2
# Sections whose keys depend on the run (top resources, CSVs with redirected I/O):
# a key missing from a run means zero there, not "unknown".
SPARSE_PREFIXES = ("bottleneck.", "redirected_io.per_csv_s.")
# KPIs shown first (console, summary.md, report); scan durations are added per cluster.
HEADLINE_KPIS = (
    "backups.window_compliance",
    "backups.makespan_p50_s",
    "backups.makespan_max_s",
    "backups.mean_wait_s",
    "backups.failed",
    "backups.offline",
    "downtime.total_s",
    "downtime.per_backup_p95_s",
    "redirected_io.total_s",
    "redirected_io.degraded_vm_minutes",
    "consistency_checks.total_s",
    "migrations.protection_breaks",
    "migrations.unprotected_s",
    "rpo.violations",
    "rpo.worst_gap_s",
    "on_demand.mean_wait_s",
    "storage.pool_peak_bytes",
    "coverage.unprotected_vms",
)


# --- the varied values --------------------------------------------------------------


@dataclass(frozen=True)
class Vary:
    """One ``--vary path.to.field=v1,v2,...``: the path, its steps (keys and list
    indices), the values as written (``labels``) and as set in the document."""

    path: str
    steps: tuple[str | int, ...]
    labels: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def column(self) -> str:
        return self.path

    def table_values(self) -> tuple[Any, ...]:
        """Numbers stay numbers in the table (and on plot axes); anything else is
        shown as written, e.g. '10 Gbps'."""
        numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in self.values)
        return self.values if numeric else self.labels


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_INDEX = re.compile(r"\[(\d+)\]")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def parse_path(path: str, source: str = "--vary") -> tuple[str | int, ...]:
    """``dpm_servers[0].pool.write`` -> ('dpm_servers', 0, 'pool', 'write')."""
    steps: list[str | int] = []
    pos = 0
    while True:
        m = _NAME.match(path, pos)
        if not m:
            raise ScenarioError(
                [f"{source}: {path or '(empty)'}: expected a field path like links[2].bandwidth"]
            )
        steps.append(m.group(0))
        pos = m.end()
        while (m := _INDEX.match(path, pos)) is not None:
            steps.append(int(m.group(1)))
            pos = m.end()
        if pos == len(path):
            return tuple(steps)
        if path[pos] != ".":
            raise ScenarioError(
                [f"{source}: {path}: expected a field path like links[2].bandwidth ({path})"]
            )
        pos += 1


def render_path(steps: Sequence[str | int]) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else ("." if out else "") + s
    return out or "(top level)"


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets and quotes: ``[a, b],[c]`` is two values."""
    parts, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    parts.append(cur.strip())
    return parts


def parse_value(text: str, source: str = "--vary") -> Any:
    """A value as a scenario file would hold it. Plain words stay text ('10 Gbps',
    '22:00', 'hardware'); integers, decimals, true/false and null are converted;
    a value in brackets, braces or quotes is read as YAML (e.g. ["22:00", "02:00"])."""
    if text[:1] in "[{\"'":
        return parse_yaml(text, source)
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none", "~"):
        return None
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def parse_vary(text: str, source: str = "--vary") -> Vary:
    """``path.to.field=v1,v2,...`` -> Vary; mistakes raise ScenarioError lines."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ScenarioError([f"{source}: --vary: expected path.to.field=v1,v2,... ({text})"])
    steps = parse_path(path, source)
    labels = _split_values(rest)
    if not rest.strip() or any(label == "" for label in labels):
        raise ScenarioError([f"{source}: {path}: expected values like v1,v2,... ({rest})"])
    if len(set(labels)) != len(labels):
        raise ScenarioError([f"{source}: {path}: the same value is given twice ({rest})"])
    values = tuple(parse_value(label, source) for label in labels)
    return Vary(render_path(steps), steps, tuple(labels), values)


def set_path(doc: Any, steps: Sequence[str | int], value: Any, source: str = "--vary") -> None:
    """Set ``value`` at ``steps`` in the document. Missing mappings on the way are
    created (the schema then rejects unknown fields); list items must exist."""
    path = render_path(steps)
    node = doc
    for depth, step in enumerate(steps):
        here = render_path(steps[:depth])
        last = depth == len(steps) - 1
        if isinstance(step, int):
            if not isinstance(node, list):
                raise ScenarioError(
                    [f"{source}: {here}: is not a list, cannot take item [{step}] ({path})"]
                )
            if step >= len(node):
                raise ScenarioError(
                    [
                        f"{source}: {render_path(steps[: depth + 1])}: no such item, "
                        f"{here} has {len(node)} ({path})"
                    ]
                )
        elif not isinstance(node, dict):
            raise ScenarioError(
                [f"{source}: {here}: is not a mapping, cannot take field {step!r} ({path})"]
            )
        if last:
            node[step] = value
            return
        if isinstance(node, dict) and node.get(step) is None:
            if isinstance(steps[depth + 1], int):
                raise ScenarioError(
                    [
                        f"{source}: {render_path(steps[: depth + 1])}: not in the scenario, "
                        f"cannot take item [{steps[depth + 1]}] ({path})"
                    ]
                )
            node[step] = {}
        node = node[step]


def load_document(path: str | Path) -> dict[str, Any]:
    """The raw scenario document of a file (validated once, so mistakes show here)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: (file): cannot read ({exc.__class__.__name__})"]) from None
    doc = parse_yaml(text, str(path))
    scenario_from_dict(copy.deepcopy(doc), str(path))
    return doc


# --- runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One run to do: picklable, so it goes to a process pool (any start method) or a
    Dask worker as it is."""

    index: int
    key: str
    doc: dict[str, Any]
    seed: int
    values: dict[str, Any]
    source: str


def flatten_kpis(kpis: dict[str, Any], prefix: str = "") -> dict[str, float | int]:
    """Nested kpis.json -> {'backups.window_compliance': 0.97, ...}; text is skipped
    and so is the top-level seed (the table has its own seed column)."""
    out: dict[str, float | int] = {}
    for key, value in kpis.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_kpis(value, name + "."))
        elif name == "seed":
            continue
        elif isinstance(value, bool):
            out[name] = int(value)
        elif isinstance(value, numbers.Integral):
            out[name] = int(value)
        elif isinstance(value, numbers.Real):
            out[name] = float(value)
    return out


def run_spec(spec: RunSpec) -> dict[str, Any]:
    """Simulate one run; an exception is returned as text, never raised, so one bad
    run does not stop a sweep. Top-level so that every pool can pickle it."""
    started = time.perf_counter()
    try:
        scenario = scenario_from_dict(copy.deepcopy(spec.doc), spec.source)
        kpis = flatten_kpis(simulate(scenario, seed=spec.seed).kpis())
        # A KPI that is not a finite number is null (n/a in the tables), as the store
        # keeps it; through JSON, as from the store: computed and stored runs are equal.
        kpis = {k: v if math.isfinite(v) else None for k, v in kpis.items()}
        kpis = json.loads(json.dumps(kpis))
        error, trace = None, ""
    except ScenarioError as exc:
        kpis, error, trace = {}, "; ".join(exc.problems), ""
    except RunawayError as exc:
        kpis, error, trace = {}, exc.problem(spec.source), ""
    except Exception as exc:  # noqa: BLE001 - reported with the run's parameters
        kpis, error = {}, f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        trace = traceback.format_exc()
    return {
        "key": spec.key,
        "kpis": kpis,
        "error": error,
        "traceback": trace,
        "wall_s": time.perf_counter() - started,
    }


_FINGERPRINT: str | None = None


def model_fingerprint() -> str:
    """Hash of the simulator's source (everything but the command line, the reports
    and this module): a stored run is reused only by the same model."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        root = Path(hvsim.__file__).parent
        h = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel in ("cli.py", "sweep.py", "files.py") or rel.startswith("report/"):
                continue
            h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
        _FINGERPRINT = h.hexdigest()[:16]
    return _FINGERPRINT


def run_key(scenario_json: str, varied: dict[str, str], seed: int) -> str:
    material = json.dumps(
        {
            "scenario": hashlib.sha256(scenario_json.encode()).hexdigest(),
            "varied": varied,
            "seed": int(seed),
            "model": model_fingerprint(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def plan_runs(
    doc: dict[str, Any],
    source: str,
    varies: Sequence[Vary] = (),
    replications: int = 1,
    base_seed: int = 1,
    fixed_values: dict[str, Any] | None = None,
    start_index: int = 0,
) -> list[RunSpec]:
    """Every combination of the varied values (the first --vary changes slowest), each
    with seeds base_seed .. base_seed + replications - 1. Every combination is
    validated here, so a bad value stops the sweep before any run starts."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    base_seed = check_seed(base_seed)
    paths = [v.path for v in varies]
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise ScenarioError([f"{source}: {dup}: varied twice ({dup})"])
    base_json = scenario_from_dict(copy.deepcopy(doc), source).model_dump_json()
    specs: list[RunSpec] = []
    problems: list[str] = []
    combos = itertools.product(*(range(len(v.values)) for v in varies))
    for combo in combos:
        varied_doc = copy.deepcopy(doc)
        values: dict[str, Any] = dict(fixed_values or {})
        labels: dict[str, str] = {}
        try:
            for v, i in zip(varies, combo, strict=True):
                set_path(varied_doc, v.steps, copy.deepcopy(v.values[i]), source)
                values[v.column] = v.table_values()[i]
                labels[v.path] = v.labels[i]
            scenario_from_dict(copy.deepcopy(varied_doc), source)
        except ScenarioError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
            continue
        for r in range(replications):
            seed = base_seed + r
            specs.append(
                RunSpec(
                    index=start_index + len(specs),
                    key=run_key(base_json, labels, seed),
                    doc=varied_doc,
                    seed=seed,
                    values=values,
                    source=source,
                )
            )
    if problems:
        raise ScenarioError(problems)
    return specs


# --- the store of finished runs -----------------------------------------------------


def record_checksum(content: dict[str, Any]) -> str:
    """sha256 of a record's canonical JSON (sorted keys, no spaces), without its
    ``checksum`` field."""
    body = {k: v for k, v in content.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_kpi_value(value: Any) -> bool:
    """A stored KPI is a finite number, or null (a KPI that was not a number)."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


class RunStore:
    """One JSON file per finished run, written whole (a uniquely named temporary file,
    then an atomic rename). Each record carries its key and the checksum of its
    content; a record is used only when both match, its format is current and every
    KPI is a number, so an edited, truncated or misplaced record is computed again
    rather than reported as a result."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def check(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        """(record, None) for a record that can be used; (None, None) when there is
        none; (None, why) when there is one that cannot be used."""
        try:
            text = self.path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError):
            return None, "unreadable"
        try:
            data = json.loads(text)
        except ValueError:
            return None, "not JSON"
        if not isinstance(data, dict):
            return None, "not a record"
        if data.get("format") != CACHE_FORMAT:
            return None, "another record format"
        if data.get("key") != key:
            return None, "another run's record"
        if data.get("checksum") != record_checksum(data):
            return None, "checksum does not match"
        kpis = data.get("kpis")
        if not isinstance(kpis, dict) or not kpis:
            return None, "no KPIs"
        if not all(_is_kpi_value(v) for v in kpis.values()):
            return None, "a KPI is not a number"
        return data, None

    def get(self, key: str) -> dict[str, Any] | None:
        """The record of ``key`` if it can be used, else None."""
        return self.check(key)[0]

    def put(self, spec: RunSpec, outcome: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        content = {
            "format": CACHE_FORMAT,
            "key": spec.key,
            "seed": spec.seed,
            "values": spec.values,
            "hvsim": hvsim.__version__,
            "wall_s": round(outcome["wall_s"], 3),
            "kpis": outcome["kpis"],
        }
        # Through JSON first, so the checksum is of what a reader will load.
        record = json.loads(json.dumps(content, default=str))
        record["checksum"] = record_checksum(record)
        atomic_write(self.path(spec.key), json.dumps(record, indent=1) + "\n")


# --- progress -----------------------------------------------------------------------


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ProgressBar:
    """done/total with an ETA from the runs computed so far. On a terminal one line
    redrawn in place; elsewhere (logs, notebooks) a line at most every 10 s."""

    def __init__(
        self,
        total: int,
        stored: int = 0,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        label: str = "runs",
    ):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = self.tty if enabled is None else enabled
        self.total, self.stored, self.label = total, stored, label
        self.computed = self.failed = 0
        self.started = self.last = time.monotonic()
        self.shown = False

    @property
    def done(self) -> int:
        return self.stored + self.computed + self.failed

    def text(self) -> str:
        done, todo = self.done, self.total - self.stored
        width = 24
        filled = int(width * done / self.total) if self.total else width
        elapsed = time.monotonic() - self.started
        ran = self.computed + self.failed
        eta = _clock(elapsed / ran * (todo - ran)) if ran else "--"
        extra = f", {self.stored} stored" if self.stored else ""
        extra += f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}"
            f"{extra}, elapsed {_clock(elapsed)}, ETA {eta}"
        )

    def update(self, failed: bool = False) -> None:
        if failed:
            self.failed += 1
        else:
            self.computed += 1
        self.draw()

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            print("\r" + self.text(), end="", file=self.stream, flush=True)
            self.shown = True
        elif force or self.done == self.total or now - self.last >= 10.0:
            print(self.text(), file=self.stream, flush=True)
            self.last = now

    def message(self, text: str) -> None:
        """A line that must not be overwritten by the bar (a failed run)."""
        if self.tty and self.shown:
            print("\r\033[K", end="", file=self.stream)
        print(text, file=self.stream, flush=True)
        if self.enabled and self.tty:
            self.draw()

    def close(self) -> None:
        if self.enabled and self.tty and self.shown:
            print(file=self.stream, flush=True)


# --- executing ----------------------------------------------------------------------


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def describe(values: dict[str, Any], seed: int) -> str:
    parts = [f"{k}={v}" for k, v in values.items()]
    return ", ".join(parts + [f"seed {seed}"])


class SchedulerError(Exception):
    """The Dask scheduler cannot be reached (a message for people, no traceback)."""


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


def _run_local(
    todo: list[RunSpec],
    workers: int,
    start_method: str,
    done: Callable[[RunSpec, dict[str, Any]], None],
) -> None:
    """Run ``todo`` in a pool of worker processes, at most one run per worker at a
    time. A worker that dies (killed by the OS for memory, say) breaks the pool and
    the runs under way in it: each of those is run again alone, so the run that
    kills its worker fails by itself, and the rest go on in a new pool."""
    if workers <= 1 or len(todo) <= 1:
        for spec in todo:
            done(spec, run_spec(spec))
        return
    width = min(workers, len(todo))
    pending, worked = list(todo), False
    dead: list[RunSpec] = []  # died alone before any run finished: reason not yet known
    while pending:
        suspects, pending, finished = _pool_pass(pending, width, start_method, done)
        worked = worked or finished
        for i, spec in enumerate(suspects):
            alone, _, finished = _pool_pass([spec], 1, start_method, done)
            worked = worked or finished
            if alone:
                dead.append(spec)
            if worked:
                for s in dead:
                    done(s, _failure(s, WorkerProcessDied(_DIED_MID_RUN)))
                dead = []
            elif len(dead) == 2:
                # Workers die before finishing anything: they cannot start at all, or
                # every run needs more memory than there is. Retrying fails alike.
                for s in dead + suspects[i + 1 :] + pending:
                    done(s, _failure(s, WorkerProcessDied(_DIED_AT_START)))
                return
    for s in dead:
        done(s, _failure(s, WorkerProcessDied(_DIED_MID_RUN if worked else _DIED_AT_START)))


_DIED_AT_START = (
    "worker processes die before finishing any run: in a script, the sweep must be "
    "under `if __name__ == '__main__':`; otherwise the runs may need more memory than "
    "the machine has (try fewer workers)"
)
_DIED_MID_RUN = "its worker process died during the run (out of memory?)"


class WorkerProcessDied(Exception):
    """A run's worker process died (failures.csv says so instead of a traceback)."""


def _pool_pass(
    specs: list[RunSpec],
    width: int,
    start_method: str,
    done: Callable[[RunSpec, dict[str, Any]], None],
) -> tuple[list[RunSpec], list[RunSpec], bool]:
    """Run ``specs`` in one pool, ``width`` at a time, reporting each to ``done``,
    until they are all done or a worker dies. Returns (the runs the dead worker
    took down, the runs not started, whether any run finished)."""
    pool = ProcessPoolExecutor(
        max_workers=width,
        mp_context=multiprocessing.get_context(start_method),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )
    running: dict[Any, RunSpec] = {}
    broken: list[RunSpec] = []
    finished = False
    nxt = 0
    try:
        while nxt < len(specs) or running:
            while nxt < len(specs) and len(running) < width and not broken:
                running[pool.submit(run_spec, specs[nxt])] = specs[nxt]
                nxt += 1
            if not running:
                break
            ready, _ = wait(running, return_when=FIRST_COMPLETED)
            if any(_died(fut) for fut in ready):
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
                    outcome = _failure(spec, exc)
                finished = True
                done(spec, outcome)
    except BaseException:
        # Interrupted: runs under way are lost (finished ones are stored already).
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return broken, specs[nxt:], finished


def _died(fut: Any) -> bool:
    return isinstance(fut.exception(), BrokenProcessPool)


def _failure(spec: RunSpec, exc: BaseException) -> dict[str, Any]:
    return {
        "key": spec.key,
        "kpis": {},
        "error": f"{type(exc).__name__}: {' '.join(str(exc).split())}",
        "traceback": "",
        "wall_s": 0.0,
    }


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


def _run_dask(
    todo: list[RunSpec], client: Any, done: Callable[[RunSpec, dict[str, Any]], None]
) -> None:
    """Submit every run to the cluster, take results as they come. The workers need
    hvsim installed (the same version: runs are keyed by the client's model)."""
    from distributed import as_completed as dask_as_completed

    futures = {client.submit(run_spec, spec, pure=False): spec for spec in todo}
    try:
        for fut in dask_as_completed(futures):
            spec = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker lost mid-run
                outcome = _failure(spec, exc)
            done(spec, outcome)
    except BaseException:
        client.cancel(list(futures))
        raise


@dataclass
class Execution:
    outcomes: dict[int, dict[str, Any]]
    computed: int
    stored: int
    rejected: int = 0


def rejected_line(rejected: int) -> str:
    """The words for stored runs whose records did not check (console, summary.md)."""
    runs = (
        "stored run did not match its record and was"
        if rejected == 1
        else ("stored runs did not match their records and were")
    )
    return f"{rejected} {runs} computed again"


def worker_count(requested: int | None, todo: int) -> tuple[int, str | None]:
    """Local worker processes for ``todo`` runs: the request (default one per core)
    capped at the cores this process may use and at the runs to compute (more
    would only cost memory). With the line saying so when a request is capped."""
    cores = default_workers()
    wanted = requested if requested is not None else cores
    n = max(1, min(wanted, cores, todo))
    if requested is None or n >= requested or todo == 0:
        return n, None
    why = (
        f"{_count(cores, 'core')} available"
        if cores <= todo
        else f"{_count(todo, 'run')} to compute"
    )
    return n, f"--workers {requested}: using {_count(n, 'worker process', 'es')} ({why})"


def _count(n: int, noun: str, plural: str = "s") -> str:
    return f"{n} {noun}{'' if n == 1 else plural}"


def execute(
    specs: Sequence[RunSpec],
    store: RunStore | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool | None = None,
    start_method: str = "spawn",
    stream: TextIO | None = None,
    label: str = "runs",
) -> Execution:
    """Run what the store does not hold yet; store each run as it finishes."""
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
    client, own = scheduler, False
    if isinstance(scheduler, str):  # connect only when there is something to run
        client, own = (connect(scheduler), True) if todo else (None, False)
    bar = ProgressBar(len(specs), len(outcomes), stream, progress, label)
    if rejected and store is not None:
        reasons = ", ".join(f"{why}: {n}" for why, n in sorted(why_rejected.items()))
        bar.message(f"{rejected_line(rejected)} ({store.folder}/: {reasons})")
    n_workers = 1
    if client is None:
        n_workers, capped = worker_count(workers, len(todo))
        if capped:
            bar.message(capped)
    bar.draw(force=bool(todo))
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

    try:
        if client is not None:
            _run_dask(todo, client, done)
        else:
            _run_local(todo, n_workers, start_method, done)
    finally:
        bar.close()
        if own:
            client.close()
    return Execution(outcomes, computed, len(specs) - len(todo), rejected)


def build_table(
    specs: Sequence[RunSpec], outcomes: dict[int, dict[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(runs, failures, KPI columns), rows in planned order."""
    rows, failures = [], []
    kpi_columns: dict[str, None] = {}
    value_columns = list(specs[0].values) if specs else []
    taken = {*value_columns, "seed"}
    for spec in specs:
        outcome = outcomes.get(spec.index)
        if outcome is None:
            continue
        if outcome["error"] is not None:
            failures.append(
                {
                    **spec.values,
                    "seed": spec.seed,
                    "error": outcome["error"],
                    "traceback": outcome.get("traceback", ""),
                }
            )
            continue
        # A KPI named like a varied field (horizon_days) repeats the input: keep the
        # input's column, as written, and one column per name.
        kpis = {k: v for k, v in outcome["kpis"].items() if k not in taken}
        kpi_columns.update(dict.fromkeys(kpis))
        rows.append({**spec.values, "seed": spec.seed, **kpis})
    columns = value_columns + ["seed"] + list(kpi_columns)
    table = pd.DataFrame(rows, columns=columns)
    for col in kpi_columns:
        if col.startswith(SPARSE_PREFIXES):
            table[col] = table[col].fillna(0.0)
    fail = pd.DataFrame(failures, columns=value_columns + ["seed", "error", "traceback"])
    return table, fail, list(kpi_columns)


# --- statistics ---------------------------------------------------------------------


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float
    low: float
    high: float
    half_width: float


def mean_ci(values: Iterable[float], confidence: float = CONFIDENCE) -> MeanCI:
    """Mean and its two-sided Student t interval: mean +- t(1 - a/2, n - 1) s / sqrt(n).
    With one value the interval is unknown (NaN)."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    n = int(x.size)
    if n == 0:
        return MeanCI(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n == 1:
        return MeanCI(1, mean, math.nan, math.nan, math.nan)
    # Imported here: scipy.stats costs ~0.4 s to import, and a single run needs no CI.
    from scipy import stats

    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return MeanCI(n, mean, mean - half, mean + half, half)


def summarize(
    table: pd.DataFrame,
    by: Sequence[str] = (),
    kpis: Sequence[str] | None = None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per group and KPI: n, mean, std, the confidence interval, p50, p95."""
    kpis = list(kpis) if kpis is not None else kpi_columns_of(table, by)
    groups = table.groupby(list(by), sort=False, dropna=False) if by else [((), table)]
    rows = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        for kpi in kpis:
            x = part[kpi].to_numpy(dtype=float)
            x = x[~np.isnan(x)]
            ci = mean_ci(x, confidence)
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "kpi": kpi,
                    "n": ci.n,
                    "mean": ci.mean,
                    "std": float(x.std(ddof=1)) if x.size > 1 else math.nan,
                    "ci_low": ci.low,
                    "ci_high": ci.high,
                    "ci_half_width": ci.half_width,
                    "p50": float(np.percentile(x, 50)) if x.size else math.nan,
                    "p95": float(np.percentile(x, 95)) if x.size else math.nan,
                }
            )
    return pd.DataFrame(
        rows,
        columns=list(by)
        + ["kpi", "n", "mean", "std", "ci_low", "ci_high", "ci_half_width", "p50", "p95"],
    )


def kpi_columns_of(table: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    skip = set(exclude) | {"seed", "scenario"}
    return [c for c in table.columns if c not in skip and pd.api.types.is_numeric_dtype(table[c])]


def headline(kpi_columns: Sequence[str], table: pd.DataFrame | None = None) -> list[str]:
    """The headline KPIs present (scan durations per cluster included), in a fixed
    order; with a table, only those that are non-zero in some run."""
    scans = [c for c in kpi_columns if c.startswith("scan.") and c.endswith(".duration_s")]
    names = [k for k in HEADLINE_KPIS if k in kpi_columns] + scans
    if table is not None:
        names = [k for k in names if (table[k].fillna(0) != 0).any()]
    return names


def varying(table: pd.DataFrame, kpis: Sequence[str]) -> list[str]:
    """KPIs that take more than one value across the runs."""
    return [k for k in kpis if table[k].nunique(dropna=True) > 1]


# --- sweeps -------------------------------------------------------------------------


@dataclass
class SweepResult:
    """A sweep (or replications when nothing is varied): the runs table, failed runs,
    the varied columns and KPI columns, and how many runs were computed or stored."""

    table: pd.DataFrame
    failures: pd.DataFrame
    params: list[str]
    kpis: list[str]
    computed: int
    stored: int
    source: str
    doc: dict[str, Any]
    varies: list[Vary]
    replications: int
    base_seed: int
    specs: list[RunSpec] = field(repr=False, default_factory=list)
    # stored runs whose records did not check and were computed again
    rejected: int = 0

    def summary(self, kpis: Sequence[str] | None = None, confidence: float = CONFIDENCE):
        return summarize(self.table, self.params, kpis or self.kpis, confidence)

    @property
    def seeds(self) -> list[int]:
        return list(range(self.base_seed, self.base_seed + self.replications))

    def combinations(self) -> list[dict[str, Any]]:
        """The varied values of each combination, in planned order."""
        seen: dict[str, dict[str, Any]] = {}
        for spec in self.specs:
            seen.setdefault(json.dumps(spec.values, default=str), spec.values)
        return list(seen.values())

    def scenario(self, combination: int = 0) -> Scenario:
        """The scenario of one combination (to simulate it in detail)."""
        values = self.combinations()[combination]
        spec = next(s for s in self.specs if s.values == values)
        return scenario_from_dict(copy.deepcopy(spec.doc), self.source)


def _document(scenario: str | Path | dict[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(scenario, dict):
        return copy.deepcopy(scenario), "<scenario>"
    if isinstance(scenario, str | Path):
        return load_document(scenario), str(scenario)
    raise TypeError(
        "pass a scenario file or document (dict); for a Scenario object use "
        "hvsim.simulate, or build the dict and pass it here"
    )


def run_sweep(
    scenario: str | Path | dict[str, Any],
    vary: Sequence[str | Vary] = (),
    replications: int = 1,
    base_seed: int = 1,
    store: str | Path | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool | None = None,
    start_method: str = "spawn",
    stream: TextIO | None = None,
) -> SweepResult:
    """Run every combination of the varied values ``replications`` times.

    ``scenario`` is a file or a document (dict); ``vary`` holds strings like
    ``"links[2].bandwidth=1 Gbps,10 Gbps"``; ``store`` is a folder for finished runs
    (resume); ``workers`` processes locally (default: one per core; 1 runs here), or
    ``scheduler`` a Dask address ``tcp://host:port`` or a ``distributed.Client``."""
    doc, source = _document(scenario)
    varies = [v if isinstance(v, Vary) else parse_vary(v, source) for v in vary]
    specs = plan_runs(doc, source, varies, replications, base_seed)
    return SweepResult(
        **_run_and_tabulate(specs, store, workers, scheduler, progress, start_method, stream),
        params=[v.column for v in varies],
        source=source,
        doc=doc,
        varies=varies,
        replications=replications,
        base_seed=base_seed,
        specs=specs,
    )


def _run_and_tabulate(
    specs: Sequence[RunSpec],
    store: str | Path | None,
    workers: int | None,
    scheduler: Any,
    progress: bool | None,
    start_method: str,
    stream: TextIO | None,
) -> dict[str, Any]:
    """Run ``specs`` (those the store does not hold) and tabulate them: the fields a
    SweepResult and a Comparison share (table, failures, kpis, computed, stored)."""
    store_ = RunStore(store) if store is not None else None
    ex = execute(specs, store_, workers, scheduler, progress, start_method, stream)
    table, failures, kpis = build_table(specs, ex.outcomes)
    return {
        "table": table,
        "failures": failures,
        "kpis": kpis,
        "computed": ex.computed,
        "stored": ex.stored,
        "rejected": ex.rejected,
    }


def replicate(
    scenario: str | Path | dict[str, Any], replications: int, base_seed: int = 1, **kw: Any
) -> SweepResult:
    """``replications`` runs of one scenario (seeds base_seed, base_seed + 1, ...)."""
    return run_sweep(scenario, (), replications, base_seed, **kw)


# --- comparisons --------------------------------------------------------------------


@dataclass
class Comparison:
    """Two scenarios run with the same seeds: the runs table (column ``scenario``
    names the side), per-side statistics and the paired differences B - A."""

    table: pd.DataFrame
    failures: pd.DataFrame
    labels: tuple[str, str]
    kpis: list[str]
    computed: int
    stored: int
    replications: int
    base_seed: int
    sources: tuple[str, str]
    docs: tuple[dict[str, Any], dict[str, Any]]
    # stored runs whose records did not check and were computed again
    rejected: int = 0

    def differences(
        self, kpis: Sequence[str] | None = None, confidence: float = CONFIDENCE
    ) -> pd.DataFrame:
        return paired_differences(self.table, self.labels, kpis or self.kpis, confidence)

    @property
    def seeds(self) -> list[int]:
        return list(range(self.base_seed, self.base_seed + self.replications))

    def scenario(self, side: int) -> Scenario:
        return scenario_from_dict(copy.deepcopy(self.docs[side]), self.sources[side])


def paired_differences(
    table: pd.DataFrame,
    labels: tuple[str, str],
    kpis: Sequence[str],
    confidence: float = CONFIDENCE,
    side_column: str = "scenario",
) -> pd.DataFrame:
    """Per KPI: each side's mean and interval, and the mean of the per-seed
    differences B - A with its interval (seeds where both sides finished)."""
    a = table[table[side_column] == labels[0]].set_index("seed")
    b = table[table[side_column] == labels[1]].set_index("seed")
    seeds = a.index.intersection(b.index)
    rows = []
    for kpi in kpis:
        ca, cb = mean_ci(a[kpi], confidence), mean_ci(b[kpi], confidence)
        d = mean_ci((b.loc[seeds, kpi] - a.loc[seeds, kpi]).to_numpy(dtype=float), confidence)
        rows.append(
            {
                "kpi": kpi,
                "a_mean": ca.mean,
                "a_ci_low": ca.low,
                "a_ci_high": ca.high,
                "b_mean": cb.mean,
                "b_ci_low": cb.low,
                "b_ci_high": cb.high,
                "pairs": d.n,
                "diff_mean": d.mean,
                "diff_ci_low": d.low,
                "diff_ci_high": d.high,
                # The interval excludes zero: the difference is not the seeds' noise.
                "significant": bool(d.low > 0 or d.high < 0) if d.n > 1 else False,
            }
        )
    # Named columns even with no row (every run failed): compare.csv keeps its header.
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


DIFFERENCE_COLUMNS = [
    "kpi",
    "a_mean",
    "a_ci_low",
    "a_ci_high",
    "b_mean",
    "b_ci_low",
    "b_ci_high",
    "pairs",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "significant",
]


def side_labels(docs: Sequence[dict[str, Any]], sources: Sequence[str]) -> tuple[str, str]:
    """The scenarios' names if they differ, else their files' names, else A and B."""
    names = [str(d.get("name", "")) for d in docs]
    if names[0] and names[0] != names[1]:
        return names[0], names[1]
    stems = [Path(s).stem for s in sources]
    if not any(s.startswith("<") for s in sources) and stems[0] != stems[1]:
        return stems[0], stems[1]
    return "A", "B"


def compare(
    a: str | Path | dict[str, Any],
    b: str | Path | dict[str, Any],
    replications: int = 5,
    base_seed: int = 1,
    store: str | Path | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool | None = None,
    start_method: str = "spawn",
    stream: TextIO | None = None,
) -> Comparison:
    """Run A and B with the same seeds (common random numbers)."""
    (doc_a, src_a), (doc_b, src_b) = _document(a), _document(b)
    if src_a == src_b == "<scenario>":
        src_a, src_b = "<scenario A>", "<scenario B>"
    labels = side_labels([doc_a, doc_b], [src_a, src_b])
    specs = plan_runs(doc_a, src_a, (), replications, base_seed, {"scenario": labels[0]})
    specs += plan_runs(
        doc_b, src_b, (), replications, base_seed, {"scenario": labels[1]}, len(specs)
    )
    return Comparison(
        **_run_and_tabulate(specs, store, workers, scheduler, progress, start_method, stream),
        labels=labels,
        replications=replications,
        base_seed=base_seed,
        sources=(src_a, src_b),
        docs=(doc_a, doc_b),
    )


# --- text ---------------------------------------------------------------------------


def format_kpi(name: str, value: float) -> str:
    """A KPI value in the unit its name says (seconds, bytes, shares, counts)."""
    if value is None or value != value:
        return "n/a"
    a = abs(value)
    if name.endswith("_s"):
        if a >= 3600:
            return f"{value / 3600:.2f} h"
        if a >= 60:
            return f"{value / 60:.1f} min"
        return f"{value:.1f} s"
    if name.endswith("_minutes"):
        return f"{value:.1f} min"
    if "bytes" in name.rsplit(".", 1)[-1]:
        for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
            if a >= f:
                return f"{value / f:.2f} {unit}"
        return f"{value:.0f} B"
    if name.endswith(("window_compliance", "throughput_ratio")) or name.startswith("bottleneck."):
        return f"{value:.1%}"
    if a >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_ci(name: str, low: float, high: float) -> str:
    if low != low:
        return "n/a"
    return f"[{format_kpi(name, low)}, {format_kpi(name, high)}]"


def combination_label(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "all runs"


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def stats_table_markdown(summary: pd.DataFrame, by: Sequence[str]) -> list[str]:
    head = [*by, "KPI", "n", "mean", f"{CONFIDENCE:.0%} CI", "p50", "p95"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary.to_dict("records"):
        k = r["kpi"]
        cells = [_md_escape(r[c]) for c in by]
        cells += [
            f"`{k}`",
            str(r["n"]),
            format_kpi(k, r["mean"]),
            format_ci(k, r["ci_low"], r["ci_high"]),
            format_kpi(k, r["p50"]),
            format_kpi(k, r["p95"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def console_stats(summary: pd.DataFrame, by: Sequence[str], kpis: Sequence[str]) -> str:
    """Mean, interval, p50 and p95 of each KPI: one line per KPI, or with varied
    columns ``by`` a block per KPI with one line per combination."""
    order = {k: i for i, k in enumerate(kpis)}
    rows = [r for r in summary.to_dict("records") if r["kpi"] in order]
    rows.sort(key=lambda r: order[r["kpi"]])  # stable: combinations keep their order

    def cells(r: dict[str, Any]) -> str:
        k = r["kpi"]
        return (
            f"{format_kpi(k, r['mean']):>11}  "
            f"{CONFIDENCE:.0%} CI {format_ci(k, r['ci_low'], r['ci_high']):<27}  "
            f"p50 {format_kpi(k, r['p50']):>10}  p95 {format_kpi(k, r['p95']):>10}"
        )

    if not by:
        width = max((len(k) for k in kpis), default=0)
        return "\n".join(f"{r['kpi']:<{width}}  {cells(r)}" for r in rows)
    labels = [combination_label({c: r[c] for c in by}) for r in rows]
    width = max((len(label) for label in labels), default=0)
    lines, current = [], None
    for r, label in zip(rows, labels, strict=True):
        if r["kpi"] != current:
            current = r["kpi"]
            lines.append(current)
        lines.append(f"  {label:<{width}}  {cells(r)}")
    return "\n".join(lines)


def console_comparison(diff: pd.DataFrame, labels: tuple[str, str]) -> str:
    head = ["KPI", f"A: {labels[0]}", f"B: {labels[1]}", f"B - A [{CONFIDENCE:.0%} CI]"]
    rows = [head]
    for r in diff.itertuples(index=False):
        k = r.kpi
        mark = " *" if r.significant else ""
        rows.append(
            [
                k,
                format_kpi(k, r.a_mean),
                format_kpi(k, r.b_mean),
                f"{format_kpi(k, r.diff_mean)} {format_ci(k, r.diff_ci_low, r.diff_ci_high)}"
                + mark,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out) + "\n(* the interval excludes zero)"


def sweep_markdown(result: SweepResult, title: str, description: str = "") -> str:
    seeds = result.seeds
    lines = [f"# {title}", ""]
    if description:
        lines += [description.strip(), ""]
    lines += [
        f"{result.replications} replication(s){' per combination' if result.params else ''}, "
        f"seeds {seeds[0]} to "
        f"{seeds[-1]}; means with {CONFIDENCE:.0%} Student t confidence intervals, "
        "p50 and p95 across replications.",
        "",
    ]
    if result.params:
        lines += ["Varied:", ""]
        lines += [f"- `{v.path}`: {', '.join(v.labels)}" for v in result.varies]
        lines.append("")
    lines += [
        f"Runs: {len(result.table)} finished ({result.computed} computed, "
        f"{result.stored} from the store), {len(result.failures)} failed."
        + (f" {rejected_line(result.rejected)}." if result.rejected else ""),
        "",
    ]
    if len(result.failures):
        lines += ["## Failed runs", ""]
        for r in result.failures.to_dict("records"):
            values = {p: r[p] for p in result.params}
            lines.append(f"- {_md_escape(describe(values, r['seed']))}: {_md_escape(r['error'])}")
        lines.append("")
    if result.table.empty:
        return "\n".join(lines) + "\n"
    heads = headline(result.kpis, result.table)
    lines += ["## Headline KPIs", ""]
    lines += stats_table_markdown(result.summary(heads), result.params)
    lines += ["", "## All KPIs", ""]
    lines += stats_table_markdown(result.summary(), result.params)
    return "\n".join(lines) + "\n"


def compare_markdown(cmp: Comparison) -> str:
    seeds = list(range(cmp.base_seed, cmp.base_seed + cmp.replications))
    a, b = cmp.labels
    lines = [
        f"# hvsim comparison: {a} vs {b}",
        "",
        f"A = `{cmp.sources[0]}`, B = `{cmp.sources[1]}`; {cmp.replications} "
        f"replication(s) each with the same seeds ({seeds[0]} to {seeds[-1]}, common random "
        f"numbers). B - A is the mean of the per-seed differences with its "
        f"{CONFIDENCE:.0%} Student t interval; * marks an interval that excludes zero.",
        "",
        f"Runs: {len(cmp.table)} finished ({cmp.computed} computed, {cmp.stored} from "
        f"the store), {len(cmp.failures)} failed."
        + (f" {rejected_line(cmp.rejected)}." if cmp.rejected else ""),
        "",
    ]
    if cmp.table.empty:
        return "\n".join(lines) + "\n"
    diff = cmp.differences()
    heads = headline(cmp.kpis, cmp.table)
    for title, part in (
        ("Headline KPIs", diff[diff["kpi"].isin(heads)]),
        ("All KPIs", diff),
    ):
        lines += [
            f"## {title}",
            "",
            f"| KPI | A: {_md_escape(a)} | B: {_md_escape(b)} | B - A | {CONFIDENCE:.0%} CI |",
            "|---|---|---|---|---|",
        ]
        for r in part.itertuples(index=False):
            k = r.kpi
            lines.append(
                f"| `{k}` | {format_kpi(k, r.a_mean)} {format_ci(k, r.a_ci_low, r.a_ci_high)} "
                f"| {format_kpi(k, r.b_mean)} {format_ci(k, r.b_ci_low, r.b_ci_high)} "
                f"| {format_kpi(k, r.diff_mean)}{' *' if r.significant else ''} "
                f"| {format_ci(k, r.diff_ci_low, r.diff_ci_high)} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_table(table: pd.DataFrame, folder: Path, stem: str) -> None:
    """``stem``.parquet and ``stem``.csv, each written whole (unique temporary name,
    atomic rename)."""
    from hvsim.report.summary import table_csv

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / f"{stem}.parquet", table.to_parquet(index=False))
    write_text(folder / f"{stem}.csv", table_csv(table))


def write_text(path: Path, text: str) -> None:
    """``path`` written whole: a uniquely named temporary file, then an atomic rename."""
    atomic_write(Path(path), text)
