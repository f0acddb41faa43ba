"""What the advisor must meet and what it minimises: targets (constraints on KPIs
across replications) and objectives, parsed from the command line's words.

A target is ``KPI OP VALUE[@STAT]`` with OP one of ``>=``, ``<=``, ``==``; VALUE a
number, a percentage (``99%``) or, for a KPI in seconds or bytes, a quantity with
its unit (``6 h``, ``30 TB``). STAT says across how many replications it must hold:

- ``@all`` (the default): in every replication;
- ``@pNN``: in at least NN % of them (``@p95``: 19 of 20, 3 of 3);
- ``@mean``: the mean over the replications.

Its value is the k-th best replication (k = the replications it must hold in), or
the mean, so "holds" and "the value shown meets the bound" are the same statement.

Short names stand for the targets a planner states most (issue #16):
``window`` (every job inside its backup window, at p95 of replications),
``rpo`` (no recovery point gap over the group's RPO), ``rto`` (no restore over its
RTO target), ``pool`` (no job failed on a full DPM pool), and ``downtime<=VALUE``
(saved-state downtime per backup, at p95: a VM's downtime per night when its group
has one express full a day).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hvsim.scenario.loader import ScenarioError
from hvsim.scenario.units import parse_quantity

OPS = (">=", "<=", "==")

# name: (KPI, op, bound or None when the planner must give one, stat)
SHORT_TARGETS: dict[str, tuple[str, str, float | None, str]] = {
    "window": ("backups.window_compliance", ">=", 1.0, "p95"),
    "rpo": ("rpo.violations", "<=", 0.0, "all"),
    "rto": ("restores.over_rto_target", "<=", 0.0, "all"),
    "pool": ("storage.pool_full_failures", "<=", 0.0, "all"),
    "downtime": ("downtime.per_backup_max_s", "<=", None, "p95"),
}

# Objectives by short name; ``cost`` is the sum of the chosen knob values' costs.
SHORT_OBJECTIVES = {
    "night": "backups.night_span_max_s",
    "makespan": "backups.makespan_max_s",
    "downtime": "downtime.total_s",
    "servers": "admission.dpm_servers",
    "wait": "backups.mean_wait_s",
}
COST = "cost"

_TARGET = re.compile(r"^\s*([A-Za-z_][\w.:\-]*)\s*(?:(>=|<=|==)\s*([^@]+?))?\s*(?:@\s*(\S+))?\s*$")
_STAT = re.compile(r"^(all|mean|p(\d{1,2}(?:\.\d+)?|100))$")


@dataclass(frozen=True)
class Target:
    """One constraint: ``kpi op bound``, holding in the replications ``stat`` says."""

    kpi: str
    op: str
    bound: float
    stat: str = "all"
    text: str = ""

    @property
    def label(self) -> str:
        return self.text or f"{self.kpi}{self.op}{self.bound:g}@{self.stat}"

    def needed(self, replications: int) -> int:
        """How many replications it must hold in (``@mean``: all are averaged)."""
        if self.stat in ("all", "mean"):
            return replications
        return max(1, math.ceil(float(self.stat[1:]) / 100.0 * replications - 1e-9))

    def meets(self, value: float) -> bool:
        if value != value:  # not measured: never counts as met
            return False
        if self.op == ">=":
            return value >= self.bound
        if self.op == "<=":
            return value <= self.bound
        return value == self.bound

    def value(self, values: Sequence[float]) -> float:
        """The replications' value that decides: the k-th best, or the mean."""
        x = np.asarray(values, dtype=float)
        if len(x) == 0 or np.isnan(x).any():
            return math.nan
        if self.stat == "mean":
            return float(x.mean())
        k = self.needed(len(x))
        if self.op == ">=":
            return float(np.sort(x)[::-1][k - 1])  # k-th largest
        if self.op == "<=":
            return float(np.sort(x)[k - 1])  # k-th smallest
        # ==: the k-th closest to the bound
        return float(x[np.argsort(np.abs(x - self.bound), kind="stable")][k - 1])

    def violation(self, values: Sequence[float]) -> float:
        """How far the replications miss it, relative to the bound (0 when met):
        the constraint Optuna's samplers take (<= 0 feasible)."""
        v = self.value(values)
        if self.meets(v):
            return 0.0
        if v != v:
            return 1e6
        return abs(v - self.bound) / max(abs(self.bound), 1.0) + 1e-9

    def clearly_missed(self, values: Sequence[float], replications: int) -> bool:
        """After the first few of ``replications``: whether the target can no longer
        hold (``@all``, ``@pNN``: more misses than it may have), or every replication
        so far misses it (``@mean``, a heuristic: pruned)."""
        misses = sum(not self.meets(v) for v in values)
        if self.stat == "mean":
            return len(values) > 0 and misses == len(values)
        return misses > replications - self.needed(replications)


@dataclass(frozen=True)
class Objective:
    """A KPI (or ``cost``) to minimise, as the mean over replications (``@mean``,
    the default) or their worst (``@max``)."""

    kpi: str
    stat: str = "mean"
    text: str = ""

    @property
    def label(self) -> str:
        return self.text or self.kpi

    def value(self, values: Sequence[float]) -> float:
        x = np.asarray(values, dtype=float)
        if len(x) == 0 or np.isnan(x).any():
            return math.nan
        return float(x.max() if self.stat == "max" else x.mean())


def _bound(kpi: str, text: str, source: str, whole: str) -> float:
    text = text.strip()
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        return float(text)
    except ValueError:
        pass
    kind = "duration" if kpi.endswith("_s") else "size" if kpi.endswith("_bytes") else None
    if kind is not None:
        try:
            return parse_quantity(text, kind)
        except ValueError:
            pass
    unit = f" or a {kind} like '6 h'" if kind == "duration" else ""
    unit = " or a size like '30 TB'" if kind == "size" else unit
    raise ScenarioError([f"{source}: --target {whole}: expected a number, a percentage{unit}"])


def parse_target(text: str, source: str = "advise") -> Target:
    """``window``, ``downtime<=60 s``, ``backups.window_compliance>=99%@p95``, ..."""
    m = _TARGET.match(text)
    if not m:
        raise ScenarioError(
            [
                f"{source}: --target {text}: expected KPI>=VALUE, KPI<=VALUE or KPI==VALUE, "
                "optionally @all, @mean or @pNN (e.g. 'backups.window_compliance>=99%@p95')"
            ]
        )
    name, op, value, stat = m.groups()
    if name in SHORT_TARGETS:
        kpi, op0, bound0, stat0 = SHORT_TARGETS[name]
        if op is None and bound0 is None:
            raise ScenarioError([f"{source}: --target {text}: give its limit, e.g. '{name}<=60 s'"])
        op = op or op0
        bound = _bound(kpi, value, source, text) if value is not None else float(bound0 or 0.0)
        stat = stat or stat0
    else:
        if op is None:
            known = ", ".join(SHORT_TARGETS)
            raise ScenarioError(
                [f"{source}: --target {text}: expected KPI>=VALUE (or one of {known})"]
            )
        kpi, bound, stat = name, _bound(name, value, source, text), stat or "all"
    if not _STAT.match(stat):
        raise ScenarioError(
            [f"{source}: --target {text}: @{stat}: expected @all, @mean or @pNN (e.g. @p95)"]
        )
    return Target(kpi, op, bound, stat, text.strip())


def parse_objective(text: str, source: str = "advise") -> Objective:
    """``makespan``, ``cost``, ``downtime.total_s``, ``backups.makespan_max_s@max``."""
    name, _, stat = text.strip().partition("@")
    name, stat = name.strip(), stat.strip() or "mean"
    if stat not in ("mean", "max"):
        raise ScenarioError([f"{source}: --minimize {text}: @{stat}: expected @mean or @max"])
    if not re.match(r"^[A-Za-z_][\w.:\-]*$", name):
        raise ScenarioError([f"{source}: --minimize {text}: expected a KPI name or cost"])
    return Objective(SHORT_OBJECTIVES.get(name, name), stat, text.strip())
