"""One run as a worker does it: simulate a RunSpec and return its outcome (its flat
KPIs, or its error as text). Top-level functions, so every pool can pickle them."""

from __future__ import annotations

import copy
import json
import math
import time
import traceback
from collections.abc import Callable
from typing import Any

from hvsim.overrun import RunawayError
from hvsim.results import flatten_kpis
from hvsim.runs.plan import RunSpec
from hvsim.scenario.loader import ScenarioError, scenario_from_dict
from hvsim.simulation import simulate as _simulate


def run_spec(spec: RunSpec, simulate: Callable[..., Any] = _simulate) -> dict[str, Any]:
    """Simulate one run (with ``simulate``: hvsim.simulate, or a stand-in in a test);
    an exception is returned as text, never raised, so one bad run does not stop a
    sweep."""
    started = time.perf_counter()
    try:
        scenario = scenario_from_dict(copy.deepcopy(spec.doc), spec.source)
        kpis = stored_kpis(simulate(scenario, seed=spec.seed).kpis())
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


def stored_kpis(kpis: dict[str, Any]) -> dict[str, Any]:
    """A run's KPIs (Results.kpis()) as a runs table row and the store hold them: flat;
    a KPI that is not a finite number is null (n/a in the tables), as the store keeps
    it; through JSON, as from the store, so computed and stored runs are equal."""
    flat = flatten_kpis(kpis)
    finite = {k: v if math.isfinite(v) else None for k, v in flat.items()}
    return dict(json.loads(json.dumps(finite)))


def run_keeping(
    spec: RunSpec, simulate: Callable[..., Any] = _simulate
) -> tuple[dict[str, Any], Any]:
    """run_spec in this process, and the (Results, Scenario) it simulated (None if the
    run failed): a planned run whose details a report draws is not simulated again."""
    kept: list[Any] = []

    def keeping(scenario: Any, **kwargs: Any) -> Any:
        kept.append((simulate(scenario, **kwargs), scenario))
        return kept[-1][0]

    outcome = run_spec(spec, keeping)
    return outcome, kept[-1] if kept and outcome["error"] is None else None


def finished(spec: RunSpec, results: Any, wall_s: float) -> dict[str, Any]:
    """The outcome of ``spec`` simulated already (``results``, in ``wall_s``), as
    run_spec would return it: a run the command simulated itself is not simulated
    again for the runs table."""
    return {
        "key": spec.key,
        "kpis": stored_kpis(results.kpis()),
        "error": None,
        "traceback": "",
        "wall_s": wall_s,
    }


def failure(spec: RunSpec, exc: BaseException) -> dict[str, Any]:
    """The outcome of a run that did not return one (its worker died, say)."""
    return {
        "key": spec.key,
        "kpis": {},
        "error": f"{type(exc).__name__}: {' '.join(str(exc).split())}",
        "traceback": "",
        "wall_s": 0.0,
    }
