"""The advisor's search: Optuna proposes designs (one value per knob), each is run
with R replications through the run executor (this process, local workers or a Dask
cluster, with the store of finished runs), and the best design that meets every
target is the proposal.

- One objective: Optuna's TPE sampler; several: NSGA-II, and the trade-off front of
  the designs that meet the targets. Targets are the samplers' constraints.
- The input's own design is the first trial whenever the knobs list its values, so
  every proposal is measured against what the planner has.
- Trials go in batches (``batch``, fixed: the same trials whatever the number of
  workers): the first ``prune_after`` replications of every design in the batch,
  then the rest for the designs not already clearly missing a target (pruned).
- A run's key is the canonical scenario and its seed, as ``hvsim compare`` keys it,
  so designs repeated by the sampler, an advisor started again (resume) and the
  comparison of input and proposal reuse the stored runs.
- With the same input, knobs, targets and seed, the trials and the proposal are the
  same in any process; ``timeout_s`` stops asking for new trials when it has passed
  (the trials made by then depend on the machine's speed).
"""

from __future__ import annotations

import difflib
import itertools
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hvsim.advise.knobs import Choice, Knob, apply, canonical, input_choice
from hvsim.runs.execute import execute
from hvsim.runs.local import workers_kept
from hvsim.runs.options import RunOptions
from hvsim.runs.plan import RunSpec, run_key
from hvsim.scenario.loader import ScenarioError
from hvsim.seeds import check_seed
from hvsim.targets import COST, Objective, Target


@dataclass(frozen=True)
class Settings:
    """What the advisor searches and how long."""

    targets: Sequence[Target]
    objectives: Sequence[Objective]
    knobs: Sequence[Knob]
    replications: int = 3
    trials: int = 30
    timeout_s: float | None = None
    prune_after: int = 1
    batch: int = 4
    base_seed: int = 1


DEFAULT_TARGETS = ("window", "rpo", "rto", "pool")


def settings_from(
    knobs: Sequence[str],
    targets: Sequence[str] = DEFAULT_TARGETS,
    minimize: Sequence[str] = (),
    costs: Sequence[str] = (),
    source: str = "advise",
    **search: Any,
) -> Settings:
    """Settings from the command line's words: ``knobs`` ('PATH=V1,V2,...'),
    ``targets`` ('window', 'downtime<=60 s', ...), ``minimize`` (default ``cost``
    when a cost is given, else ``night``), ``costs`` ('PATH=C1,C2,...') and the
    search's fields (replications, trials, timeout_s, prune_after, batch, base_seed).
    Mistakes raise ScenarioError lines."""
    from hvsim.advise.knobs import parse_costs, parse_knob
    from hvsim.targets import parse_objective, parse_target

    parsed = parse_costs(costs, [parse_knob(k, source) for k in knobs], source)
    default = COST if any(k.costs for k in parsed) else "night"
    return Settings(
        targets=[parse_target(t, source) for t in targets],
        objectives=[parse_objective(o, source) for o in (minimize or [default])],
        knobs=parsed,
        **search,
    )


@dataclass
class Design:
    """One design and what its replications gave: the KPIs of each run (seed order),
    or the error that stopped it, and whether it was pruned after a few runs."""

    choice: Choice
    doc: dict[str, Any] | None
    key: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    pruned: bool = False
    trial: int = -1

    def values(self, kpi: str, knobs: Sequence[Knob]) -> list[float]:
        if kpi == COST:
            cost = sum(k.cost(i) for k, i in zip(knobs, self.choice, strict=True))
            return [cost] * max(1, len(self.runs))
        out = []
        for run in self.runs:
            v = run.get(kpi)
            out.append(float(v) if isinstance(v, int | float) else math.nan)
        return out


@dataclass
class Advice:
    """The search's outcome: every trial, the input's design, the proposal (None when
    no design met the targets: ``best`` is then the one that came closest), the
    trade-off front (several objectives) and, for each knob the proposal changes,
    the proposal with that knob as in the input (what the change bought)."""

    settings: Settings
    doc: dict[str, Any]
    source: str
    input: Design
    trials: list[Design]
    proposal: Design | None
    best: Design
    front: list[Design]
    without: dict[int, Design]
    elapsed_s: float
    stopped_by_time: bool = False

    @property
    def met(self) -> bool:
        return self.proposal is not None

    def target_value(self, design: Design, target: Target) -> float:
        return target.value(design.values(target.kpi, self.settings.knobs))

    def objective_value(self, design: Design, objective: Objective) -> float:
        return objective.value(design.values(objective.kpi, self.settings.knobs))

    def changed(self) -> list[int]:
        """The knobs whose value the proposal (or the best reached) changes."""
        chosen = (self.proposal or self.best).choice
        return [j for j, (a, b) in enumerate(zip(self.input.choice, chosen, strict=True)) if a != b]

    def table(self) -> pd.DataFrame:
        """One row per trial (the input's design first when it is not one)."""
        rows = []
        designs = self.trials if self.input in self.trials else [self.input, *self.trials]
        if self.proposal is not None and all(self.proposal is not d for d in designs):
            designs = [*designs, self.proposal]  # simplified after the search
        s = self.settings
        for d in designs:
            state = "failed" if d.error else "pruned" if d.pruned else "complete"
            row: dict[str, Any] = {
                "trial": d.trial,
                "design": "input" if d is self.input else "proposal" if d is self.proposal else "",
                "state": state,
                "replications": len(d.runs),
            }
            for knob, index in zip(s.knobs, d.choice, strict=True):
                row[knob.path] = knob.labels[index] if index is not None else "(input)"
            for o in s.objectives:
                row[o.label] = self.objective_value(d, o) if not d.error else math.nan
            for t in s.targets:
                row[t.label] = self.target_value(d, t) if not d.error else math.nan
            row["meets_targets"] = feasible(d, s)
            row["violation"] = violation(d, s) if not d.error else math.nan
            row["proposal"] = d is self.proposal
            row["error"] = d.error or ""
            rows.append(row)
        return pd.DataFrame(rows)


def violation(design: Design, s: Settings) -> float:
    """How far the design misses its targets (0: meets them all)."""
    if design.error:
        return math.inf
    return sum(t.violation(design.values(t.kpi, s.knobs)) for t in s.targets)


def feasible(design: Design, s: Settings) -> bool:
    return not design.error and not design.pruned and violation(design, s) == 0.0


class _Evaluator:
    """Runs designs' replications through the executor, remembering every run."""

    def __init__(self, source: str, s: Settings, options: RunOptions):
        self.source = source
        self.s = s
        self.options = options.but(progress=False)
        self.seeds = [s.base_seed + r for r in range(s.replications)]
        self.done: dict[tuple[str, int], dict[str, Any]] = {}
        self.here: Choice = (None,) * len(s.knobs)  # the input's values (set by advise)

    def design(self, doc: dict[str, Any], choice: Choice) -> Design:
        # A knob at the input's value is left as the input writes it (or leaves it to
        # its default): the proposal's diff shows only what changes.
        written = tuple(None if c == h else c for c, h in zip(choice, self.here, strict=True))
        try:
            design_doc = apply(doc, self.s.knobs, written, self.source)
            key = canonical(design_doc, self.source)
        except ScenarioError as exc:
            return Design(choice, None, error="; ".join(exc.problems))
        return Design(choice, design_doc, key)

    def run(self, designs: Sequence[Design], seeds: Sequence[int]) -> None:
        """Each design's runs of ``seeds`` (those not run yet), appended in order."""
        specs: list[RunSpec] = []
        wanted: dict[tuple[str, int], RunSpec] = {}
        for d in designs:
            if d.error or d.doc is None:
                continue
            for seed in seeds:
                k = (d.key, seed)
                if k in self.done or k in wanted:
                    continue
                wanted[k] = RunSpec(
                    len(specs), run_key(d.key, {}, seed), d.doc, seed, {}, self.source
                )
                specs.append(wanted[k])
        if specs:
            ex = execute(specs, self.options, label="advise")
            for k, spec in wanted.items():
                self.done[k] = ex.outcomes[spec.index]
        for d in designs:
            if d.error or d.doc is None:
                continue
            for seed in seeds:
                outcome = self.done[(d.key, seed)]
                if outcome["error"] is not None:
                    d.error = f"seed {seed}: {outcome['error']}"
                    break
                d.runs.append(outcome["kpis"])

    def evaluate(self, designs: Sequence[Design]) -> None:
        """All replications of each design, after the first ``prune_after`` of every
        design in the batch, for those not clearly missing a target."""
        s = self.s
        first = min(max(1, s.prune_after), s.replications)
        self.run(designs, self.seeds[:first])
        if first == s.replications:
            return
        going = []
        for d in designs:
            if d.error:
                continue
            if any(t.clearly_missed(d.values(t.kpi, s.knobs), s.replications) for t in s.targets):
                d.pruned = True
            else:
                going.append(d)
        self.run(going, self.seeds[first:])


def _check_names(design: Design, s: Settings, source: str) -> None:
    """Every target's and objective's KPI exists (checked on the input's runs)."""
    if design.error:
        raise ScenarioError([f"{source}: the input scenario's runs failed: {design.error}"])
    known = set(design.runs[0]) if design.runs else set()
    problems = []
    for name in [t.kpi for t in s.targets] + [o.kpi for o in s.objectives]:
        if name != COST and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{source}: {name}: no such KPI in kpis.json{hint}")
    if problems:
        raise ScenarioError(problems)


def _order_key(d: Design, s: Settings, input_choice: Choice) -> tuple[Any, ...]:
    objectives = tuple(o.value(d.values(o.kpi, s.knobs)) for o in s.objectives)
    changes = sum(a != b for a, b in zip(d.choice, input_choice, strict=True))
    return (*objectives, changes, d.trial)


def _front(designs: Sequence[Design], s: Settings) -> list[Design]:
    """The designs no other design beats on every objective (ties: the first)."""
    points = [(d, [o.value(d.values(o.kpi, s.knobs)) for o in s.objectives]) for d in designs]
    front: list[Design] = []
    for d, p in points:
        dominated = any(
            all(a <= b for a, b in zip(q, p, strict=True)) and q != p for _, q in points
        )
        # the same design, or the same objectives as a design listed before it (the
        # designs come fewest changes first)
        repeat = any(
            f.key == d.key or [o.value(f.values(o.kpi, s.knobs)) for o in s.objectives] == p
            for f in front
        )
        if not dominated and not repeat:
            front.append(d)
    return front


def trial_budget(s: Settings) -> int:
    """The trials the search makes: ``s.trials``, or every design when fewer."""
    return min(s.trials, math.prod(len(k.labels) for k in s.knobs))


def _without_each(
    ev: _Evaluator, doc: dict[str, Any], here: Choice, d: Design
) -> dict[int, Design]:
    """For each knob ``d`` changes, ``d`` with that knob as in the input, run in full."""
    without: dict[int, Design] = {}
    for j, (a, b) in enumerate(zip(here, d.choice, strict=True)):
        if a != b:
            alt = list(d.choice)
            alt[j] = a
            without[j] = ev.design(doc, tuple(alt))
    ev.run(list(without.values()), ev.seeds)
    return without


def _simplest(
    ev: _Evaluator, doc: dict[str, Any], here: Choice, d: Design, without: dict[int, Design]
) -> Design:
    """``d`` with every change it does not need taken back, one knob at a time."""
    s = ev.s

    def no_worse(a: Design, b: Design) -> bool:
        return all(
            o.value(a.values(o.kpi, s.knobs)) <= o.value(b.values(o.kpi, s.knobs))
            for o in s.objectives
        )

    for j in sorted(without):
        alt = without[j] if d.choice[j] != here[j] else None
        if alt is not None and alt.choice != d.choice:
            if feasible(alt, s) and no_worse(alt, d):
                alt.trial = d.trial
                d = alt
                without = _without_each(ev, doc, here, d)
    return d


def advise(
    doc: dict[str, Any],
    source: str,
    settings: Settings,
    options: RunOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Advice:
    """Search the knobs for the design that meets ``settings.targets`` at the least
    objective. ``progress(done, total)`` is called after each batch of trials."""
    s = settings
    check_seed(s.base_seed)
    if s.replications < 1 or s.trials < 1 or s.batch < 1:
        raise ValueError("replications, trials and batch must be at least 1")
    if not s.knobs:
        raise ScenarioError([f"{source}: give at least one --knob PATH=V1,V2,..."])
    if len({k.path for k in s.knobs}) != len(s.knobs):
        dup = next(k.path for k in s.knobs if [x.path for x in s.knobs].count(k.path) > 1)
        raise ScenarioError([f"{source}: --knob {dup}: given twice"])
    # A Dask address is connected to by each batch with runs to compute (as sweeps do):
    # an advisor resumed from its stored runs needs no cluster.
    options = options if options is not None else RunOptions()
    with workers_kept():
        return _advise(doc, source, s, options, progress)


def _sampler(s: Settings) -> Any:
    """TPE for one objective, NSGA-II for several, seeded. Their random start (TPE)
    and population (NSGA-II) are a third of the budget, at least 4, at most Optuna's
    defaults' order (10 and 20): a small budget still leaves trials to the model."""
    import optuna

    if len(s.objectives) > 1:
        return optuna.samplers.NSGAIISampler(
            population_size=max(4, min(20, s.trials // 3)), seed=s.base_seed
        )
    return optuna.samplers.TPESampler(
        seed=s.base_seed, n_startup_trials=max(4, min(10, s.trials // 3))
    )


def _search(
    ev: _Evaluator,
    doc: dict[str, Any],
    study: Any,
    started: float,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[Design], bool]:
    """Ask, run and tell trials in batches until the budget or the time is spent:
    (the trials, whether time stopped them)."""
    from optuna.trial import TrialState

    s = ev.s
    budget = trial_budget(s)
    trials: list[Design] = []
    while len(trials) < budget:
        if s.timeout_s is not None and time.monotonic() - started > s.timeout_s:
            return trials, True
        asked = [study.ask() for _ in range(min(s.batch, budget - len(trials)))]
        designs = []
        for t in asked:
            choice = tuple(
                int(t.suggest_categorical(k.path, list(range(len(k.labels))))) for k in s.knobs
            )
            designs.append(ev.design(doc, choice))
            designs[-1].trial = t.number
        ev.evaluate(designs)
        for t, d in zip(asked, designs, strict=True):
            values = [o.value(d.values(o.kpi, s.knobs)) for o in s.objectives]
            if not d.error and any(v != v for v in values):
                d.error = "an objective is not measured (n/a)"
            if d.error:
                study.tell(t, state=TrialState.FAIL)
                continue
            # The samplers' constraints (<= 0: met): a pruned design's from its first runs.
            for x in s.targets:
                t.set_constraint(x.label, x.violation(d.values(x.kpi, s.knobs)))
            study.tell(t, values)
        trials.extend(designs)
        if progress is not None:
            progress(len(trials), budget)
    return trials, False


def _advise(
    doc: dict[str, Any],
    source: str,
    s: Settings,
    options: RunOptions,
    progress: Callable[[int, int], None] | None,
) -> Advice:
    import optuna

    started = time.monotonic()
    ev = _Evaluator(source, s, options)
    here = ev.here = input_choice(doc, s.knobs, source)
    # The input's design, in full: what every trial is measured against.
    base = Design(here, doc, canonical(doc, source))
    ev.run([base], ev.seeds)
    _check_names(base, s, source)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    study = optuna.create_study(directions=["minimize"] * len(s.objectives), sampler=_sampler(s))
    if math.prod(len(k.labels) for k in s.knobs) <= s.trials:
        # The whole space fits in the budget: every design once, the input's first
        # (the optimum exactly, and no trial spent on a design already tried).
        every = itertools.product(*(range(len(k.labels)) for k in s.knobs))
        for c in sorted(every, key=lambda c: c != here):
            study.enqueue_trial({k.path: i for k, i in zip(s.knobs, c, strict=True)})
    elif all(i is not None for i in here):
        study.enqueue_trial({k.path: i for k, i in zip(s.knobs, here, strict=True)})
    trials, stopped_by_time = _search(ev, doc, study, started, progress)

    good = sorted(
        [d for d in [base, *trials] if feasible(d, s)], key=lambda d: _order_key(d, s, here)
    )
    front = _front(good, s) if len(s.objectives) > 1 else good[:1]
    proposal = front[0] if front else None
    if proposal is None:
        tried = [d for d in [base, *trials] if not d.error]
        best = min(tried, key=lambda d: (violation(d, s), d.pruned, d.trial)) if tried else base
        ev.run([best], ev.seeds[len(best.runs) :])  # a pruned one in full
    else:
        # No change the proposal does not need: a knob whose input value still meets
        # the targets at no worse objective goes back (fewest changes, same result).
        best = _simplest(ev, doc, here, proposal, _without_each(ev, doc, here, proposal))
        if best is not proposal:
            front = [best, *front[1:]]
        proposal = best
    without = _without_each(ev, doc, here, best)
    return Advice(
        settings=s,
        doc=doc,
        source=source,
        input=base,
        trials=trials,
        proposal=proposal,
        best=best,
        front=front,
        without=without,
        elapsed_s=time.monotonic() - started,
        stopped_by_time=stopped_by_time,
    )
