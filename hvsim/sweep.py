"""Replications, parameter sweeps and comparisons: many runs, one tidy table.

A run is a scenario document (the YAML mapping), the values varied in it and a
seed. Runs go to a local process pool, to an existing Dask cluster, or run in
this process (one worker); each finished run is stored at once, keyed by the
canonical scenario, the varied values, the seed and the model's source, so a
sweep killed and started again recomputes nothing it already finished. Tables
come out in the order the runs were planned, whatever order they finished in:
the same sweep gives the same table with any number of workers (hvsim.runs).

Statistics across replications (hvsim.stats): each KPI's mean with a Student t
confidence interval (95 % by default) and its 50th and 95th percentiles.
Replication ``r`` (0-based) uses seed ``base_seed + r``; a comparison runs the
same seeds on both sides (common random numbers) and takes the confidence
interval of the paired differences.

How the runs are carried out (store, workers, Dask scheduler, progress) is a
:class:`RunOptions`, or its fields as keywords: ``run_sweep(doc, vary, 5,
store="runs", workers=4)``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hvsim.runs.execute import execute
from hvsim.runs.options import RunOptions
from hvsim.runs.plan import RunSpec, load_document, plan_runs
from hvsim.runs.table import build_table
from hvsim.runs.task import finished, run_keeping, run_spec
from hvsim.runs.vary import Vary, parse_vary
from hvsim.scenario.loader import scenario_from_dict
from hvsim.scenario.schema import Scenario
from hvsim.stats import CONFIDENCE, paired_differences, summarize

__all__ = [
    "Comparison",
    "RunOptions",
    "SweepResult",
    "compare",
    "load_document",
    "replicate",
    "run_sweep",
]

ScenarioInput = str | Path | dict[str, Any]
# What a caller keeps of one run it draws in detail: a function of the run's Results
# and Scenario (its report's figures, say), called in this process.
Detail = Callable[[Any, Scenario], Any]


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
    # combination -> what ``details`` made of its run with base_seed (run_sweep)
    details: dict[int, Any] = field(repr=False, default_factory=dict)

    def summary(
        self, kpis: Sequence[str] | None = None, confidence: float = CONFIDENCE
    ) -> pd.DataFrame:
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
    # side (0: A, 1: B) -> what ``details`` made of its run with base_seed (compare)
    details: dict[int, Any] = field(repr=False, default_factory=dict)

    def differences(
        self, kpis: Sequence[str] | None = None, confidence: float = CONFIDENCE
    ) -> pd.DataFrame:
        return paired_differences(self.table, self.labels, kpis or self.kpis, confidence)

    @property
    def seeds(self) -> list[int]:
        return list(range(self.base_seed, self.base_seed + self.replications))

    def scenario(self, side: int) -> Scenario:
        return scenario_from_dict(copy.deepcopy(self.docs[side]), self.sources[side])


def run_sweep(
    scenario: ScenarioInput,
    vary: Sequence[str | Vary] = (),
    replications: int = 1,
    base_seed: int = 1,
    options: RunOptions | None = None,
    *,
    details: Mapping[int, Detail] | None = None,
    **settings: Any,
) -> SweepResult:
    """Run every combination of the varied values ``replications`` times.

    ``scenario`` is a file or a document (dict); ``vary`` holds strings like
    ``"links[2].bandwidth=1 Gbps,10 Gbps"``; ``options`` (or its fields as
    keywords: ``store``, ``workers``, ``scheduler``, ``progress``, ...) say how the
    runs are carried out (:class:`RunOptions`). ``details``: combination index
    (-1: the last) -> a function of the Results and Scenario of its run with
    ``base_seed``, whose value goes to ``SweepResult.details``: that planned run is
    carried out in this process (while the workers run the others) and kept for the
    function, not run again."""
    doc, source = _document(scenario)
    varies = [v if isinstance(v, Vary) else parse_vary(v, source) for v in vary]
    specs = plan_runs(doc, source, varies, replications, base_seed)
    firsts = [s.index for s in specs if s.seed == base_seed]  # one per combination
    n = len(firsts)
    wanted = {firsts[i]: fn for i, fn in (details or {}).items() if -n <= i < n}
    tabulated = _run_and_tabulate(specs, _options(options, settings), wanted)
    kept = tabulated.pop("details")
    return SweepResult(
        **tabulated,
        details={i: kept[index] for i, index in enumerate(firsts) if index in kept},
        params=[v.column for v in varies],
        source=source,
        doc=doc,
        varies=varies,
        replications=replications,
        base_seed=base_seed,
        specs=specs,
    )


def replicate(
    scenario: ScenarioInput,
    replications: int,
    base_seed: int = 1,
    options: RunOptions | None = None,
    *,
    first: tuple[Any, float] | None = None,
    **settings: Any,
) -> SweepResult:
    """``replications`` runs of one scenario (seeds base_seed, base_seed + 1, ...).
    ``first``: (Results, wall seconds) of the run of ``base_seed``, simulated already
    by the caller: not run again (unless the store holds it)."""
    if first is None:
        return run_sweep(scenario, (), replications, base_seed, options, **settings)
    doc, source = _document(scenario)
    specs = plan_runs(doc, source, (), replications, base_seed)
    known = {specs[0].index: finished(specs[0], *first)}
    return SweepResult(
        **_run_and_tabulate(specs, _options(options, settings), known=known),
        params=[],
        source=source,
        doc=doc,
        varies=[],
        replications=replications,
        base_seed=base_seed,
        specs=specs,
    )


def compare(
    a: ScenarioInput,
    b: ScenarioInput,
    replications: int = 5,
    base_seed: int = 1,
    options: RunOptions | None = None,
    labels: tuple[str, str] | None = None,
    *,
    details: Mapping[int, Detail] | None = None,
    **settings: Any,
) -> Comparison:
    """Run A and B with the same seeds (common random numbers). ``labels`` name the
    sides (default: the scenarios' names, else their files', else A and B);
    ``details``: side (0: A, 1: B) -> a function of the Results and Scenario of its
    run with ``base_seed`` (as run_sweep's)."""
    (doc_a, src_a), (doc_b, src_b) = _document(a), _document(b)
    if src_a == src_b == "<scenario>":
        src_a, src_b = "<scenario A>", "<scenario B>"
    labels = labels or side_labels([doc_a, doc_b], [src_a, src_b])
    specs = plan_runs(doc_a, src_a, (), replications, base_seed, {"scenario": labels[0]})
    specs += plan_runs(
        doc_b, src_b, (), replications, base_seed, {"scenario": labels[1]}, len(specs)
    )
    firsts = [0, replications]
    wanted = {firsts[i]: fn for i, fn in (details or {}).items() if i in (0, 1)}
    tabulated = _run_and_tabulate(specs, _options(options, settings), wanted)
    kept = tabulated.pop("details")
    return Comparison(
        **tabulated,
        details={i: kept[index] for i, index in enumerate(firsts) if index in kept},
        labels=labels,
        replications=replications,
        base_seed=base_seed,
        sources=(src_a, src_b),
        docs=(doc_a, doc_b),
    )


def side_labels(docs: Sequence[dict[str, Any]], sources: Sequence[str]) -> tuple[str, str]:
    """The scenarios' names if they differ, else their files' names, else A and B."""
    names = [str(d.get("name", "")) for d in docs]
    if names[0] and names[0] != names[1]:
        return names[0], names[1]
    stems = [Path(s).stem for s in sources]
    if not any(s.startswith("<") for s in sources) and stems[0] != stems[1]:
        return stems[0], stems[1]
    return "A", "B"


def _options(options: RunOptions | None, settings: dict[str, Any]) -> RunOptions:
    return (options if options is not None else RunOptions()).but(**settings)


def _document(scenario: ScenarioInput) -> tuple[dict[str, Any], str]:
    if isinstance(scenario, dict):
        return copy.deepcopy(scenario), "<scenario>"
    if isinstance(scenario, str | Path):
        return load_document(scenario), str(scenario)
    raise TypeError(
        "pass a scenario file or document (dict); for a Scenario object use "
        "hvsim.simulate, or build the dict and pass it here"
    )


def _run_and_tabulate(
    specs: Sequence[RunSpec],
    options: RunOptions,
    details: Mapping[int, Detail] | None = None,
    known: Mapping[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run ``specs`` (those the store does not hold) and tabulate them: the fields a
    SweepResult and a Comparison share (table, failures, kpis, computed, stored), and
    ``details``: run index -> the value of its function of the run's Results and
    Scenario. Those runs are carried out in this process, kept for their function
    (and dropped after it); one the store holds is simulated here again, one that
    failed has none. ``known``: outcomes of runs carried out already (execute)."""
    details = details or {}
    kept: dict[int, Any] = {}
    here = {}
    if details and options.runner is run_spec:

        def keeping(spec: RunSpec) -> dict[str, Any]:
            outcome, run = run_keeping(spec)
            if run is not None:
                kept[spec.index] = details[spec.index](*run)
            return outcome

        here = {index: keeping for index in details}
    ex = execute(specs, options, here=here, known=known)
    for spec in specs:
        outcome = ex.outcomes.get(spec.index)
        if spec.index in details and spec.index not in kept and outcome is not None:
            if outcome["error"] is None:
                run = _simulate_again(spec)
                if run is not None:
                    kept[spec.index] = details[spec.index](*run)
    table, failures, kpis = build_table(specs, ex.outcomes)
    return {
        "table": table,
        "failures": failures,
        "kpis": kpis,
        "computed": ex.computed,
        "stored": ex.stored,
        "rejected": ex.rejected,
        "details": kept,
    }


def _simulate_again(spec: RunSpec) -> tuple[Any, Scenario] | None:
    """(Results, Scenario) of a run carried out elsewhere (the store, a worker), in
    this process; None if it runs away."""
    from hvsim.overrun import RunawayError
    from hvsim.simulation import simulate

    scenario = scenario_from_dict(copy.deepcopy(spec.doc), spec.source)
    try:
        return simulate(scenario, seed=spec.seed), scenario
    except RunawayError:
        return None
