"""The verdict: does the design meet its targets? One check per target, each with
what the run shows, what fails first and where, what would fix it, and the report
section that has the detail.

The targets come from the scenario: each protection group's backup window (every
scheduled recovery point by its due time) and RPO, the restores' RTO targets, the
saved-state downtime budget (``saved_state.downtime_budget``; without one the
downtime is reported, not judged), the DPM pool for the retention range (no job
refused by a full pool, and the allocation the retention range needs within the
pool's capacity) and coverage (every VM in a protection group). A target the run
has nothing to measure for (no restores simulated, no host-level backup) is
reported as not judged, never as met.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from hvsim.report.text import (
    format_bytes,
    format_seconds,
    meets_targets,
    pool_full_lines,
    resource_tier,
)
from hvsim.results import Results
from hvsim.targets import Target, parse_target


@dataclass(frozen=True)
class Check:
    """One target: ``ok`` True (met), False (missed) or None (nothing to judge);
    ``finding`` what the run shows, ``fix`` what would fix a miss, ``anchor`` the
    report section with the detail, ``first_s`` when it first failed (ordering)."""

    target: str
    ok: bool | None
    finding: str
    fix: str = ""
    anchor: str = ""
    first_s: float = float("inf")

    @property
    def status(self) -> str:
        return {True: "meets", False: "MISSES", None: "not judged"}[self.ok]


def _names(names: Sequence[str], most: int = 8) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def backup_bottleneck(k: dict[str, Any]) -> tuple[str, float] | None:
    """The backup path's busiest bottleneck (name, share of flow time): tape drives and
    Azure uplinks are tiers of their own (text.resource_tier), not what limits the
    nightly backups. The share is of all flow time, as kpis.json's bottleneck."""
    shares = {
        name: v
        for name, v in (k.get("bottleneck") or {}).items()
        if isinstance(v, int | float) and resource_tier(name) == "backup"
    }
    if not shares:
        return None
    name = max(shares, key=lambda n: (shares[n], n))
    return name, float(shares[name])


def _late(jobs: pd.DataFrame) -> pd.DataFrame:
    """Host-level scheduled occurrences (VM, scheduled time) whose recovery point was
    not made by its due time: the row of the occurrence's last attempt."""
    host = jobs[jobs["kind"].isin(["express_full", "initial_replica"])]
    if host.empty:
        return host
    made = (host["outcome"] == "succeeded") & (host["end_s"] <= host["window_end_s"])
    by = host.assign(made=made).groupby(["vm", "scheduled_s"], sort=False)
    occ = by.agg(
        made=("made", "any"),
        end_s=("end_s", "max"),
        window_end_s=("window_end_s", "first"),
        group=("protection_group", "first"),
        outcome=("outcome", "last"),
        reason=("failure_reason", "last"),
    )
    return occ[~occ["made"]].reset_index()


def _window(res: Results, k: dict[str, Any]) -> Check:
    b = k["backups"]
    compliance = b.get("window_compliance")
    if compliance is None:
        return Check("backup window", None, "no host-level backup was scheduled", anchor="kpis")
    late = _late(res.jobs)
    if late.empty:
        return Check(
            "backup window",
            True,
            f"every scheduled recovery point was made inside its window (longest night "
            f"{format_seconds(b.get('night_span_max_s'))})",
            anchor="jobs-of-the-worst-night",
        )
    first = late.sort_values(["scheduled_s", "vm"]).iloc[0]
    day = int(first["scheduled_s"] // 86400) + 1
    groups = sorted(set(late["group"]))
    available = late["window_end_s"] - late["scheduled_s"]
    taken = late["end_s"] - late["scheduled_s"]
    factor = float((taken / available.where(available > 0)).max())
    finding = (
        f"{compliance:.1%} of scheduled recovery points made by their due time; "
        f"{len(late):,} late or missing, first on day {day} ({first['vm']}, group "
        f"{first['group']}); groups affected: {_names(groups)}"
    )
    fix = ""
    failed = late[late["outcome"] == "failed"]
    if len(failed):
        reasons = failed["reason"].fillna("unknown").value_counts()
        top, n = str(reasons.index[0]), int(reasons.iloc[0])
        some = "" if n == len(failed) else f", {n:,} with"
        fix = f"{len(failed):,} of them failed{some}: {top}"
    neck = backup_bottleneck(k)
    if neck is not None and len(failed) < len(late):
        fix += "; " if fix else ""
        name, share = neck
        fix += f"{name} limits the backups ({share:.0%} of flow time)"
        if factor == factor and factor > 1:
            fix += (
                f": the latest recovery point took {factor:.2f}x the time its window left, so "
                f"it needs about {factor:.2f}x its rate"
            )
        fix += ", or spread the jobs (group offsets, job order: hvsim advise)"
    return Check(
        "backup window", False, finding, fix, "jobs-of-the-worst-night", float(first["scheduled_s"])
    )


def _failure_reasons(jobs: pd.DataFrame, most: int = 3) -> str:
    failed = jobs[jobs["outcome"] == "failed"]
    if failed.empty:
        return ""
    counts = failed["failure_reason"].fillna("").value_counts()
    return "; ".join(f"{n:,} x {reason or 'unknown'}" for reason, n in counts.head(most).items())


def _rpo(res: Results, k: dict[str, Any]) -> Check:
    r = k["rpo"]
    if not r.get("recovery_points") and not r.get("recovery_points_missed"):
        return Check("RPO", None, "no host-level recovery point was scheduled", anchor="kpis")
    gap = format_seconds(r.get("worst_gap_s"))
    target = format_seconds(r.get("target_s"))
    if not r.get("violations"):
        return Check("RPO", True, f"worst gap {gap} against a target of {target}", anchor="kpis")
    reasons = _failure_reasons(res.jobs)
    fix = f"failed jobs: {reasons}" if reasons else "more frequent or faster recovery points"
    return Check(
        "RPO",
        False,
        f"{r['violations']:,} gaps over the target of {target} (worst {gap}); "
        f"{r.get('recovery_points_missed', 0):,} scheduled recovery points missed",
        fix,
        "kpis",
    )


def _rto(k: dict[str, Any]) -> Check:
    r = k["restores"]
    if not r.get("count"):
        return Check("RTO", None, "no restore simulated (restores: in the scenario)", "", "kpis")
    over = r.get("over_rto_target", 0)
    if not over:
        return Check(
            "RTO", True, f"all {r['count']:,} restores within their RTO", anchor="restores"
        )
    return Check(
        "RTO",
        False,
        f"{over:,} of {r['count']:,} restores took longer than their RTO target",
        "see the restores' bottleneck and recovery point age in the restores table",
        "restores",
    )


def _downtime(res: Results, k: dict[str, Any], budget_s: float | None) -> Check:
    d = k["downtime"]
    offline = res.vms[res.vms["method"] == "offline"] if "method" in res.vms else res.vms[:0]
    worst = d.get("per_backup_max_s") or 0.0
    if offline.empty:
        return Check(
            "saved-state downtime",
            True,
            "no VM backs up in saved state: no downtime",
            anchor="saved-state-downtime",
        )
    reasons = offline["offline_reason"].fillna("").value_counts()
    why = "; ".join(f"{n} x {reason}" for reason, n in reasons.head(3).items())
    finding = (
        f"{len(offline)} VM(s) back up in saved state ({_names(list(offline['vm']))}): "
        f"longest {format_seconds(worst)} per backup, {format_seconds(d.get('total_s'))} in all"
    )
    why = f"why offline: {why}"
    if budget_s is None:
        finding += f" (no saved_state.downtime_budget to judge it); {why}"
        return Check("saved-state downtime", None, finding, anchor="saved-state-downtime")
    ok = worst <= budget_s
    finding += f", budget {format_seconds(budget_s)} per backup"
    return Check("saved-state downtime", ok, finding, "" if ok else why, "saved-state-downtime")


def _pool(k: dict[str, Any]) -> Check:
    s = k["storage"]
    needed, capacity = s.get("needed_bytes") or 0.0, s.get("capacity_bytes") or 0.0
    full = pool_full_lines(k)
    if full or (capacity and needed > capacity):
        day = s.get("days_until_full")
        finding = "; ".join(full) or (
            f"the retention range needs {format_bytes(needed)} allocated, the pool has "
            f"{format_bytes(capacity)}"
        )
        fix = f"add {format_bytes(needed - capacity)} to the pool, shorten retention or co-locate"
        first = (day - 1) * 86400.0 if day else float("inf")
        return Check("DPM pool", False, finding, fix, "dpm-storage-pool-by-day", first)
    return Check(
        "DPM pool",
        True,
        f"the retention range needs {format_bytes(needed)} allocated of {format_bytes(capacity)}",
        anchor="dpm-storage-pool-by-day",
    )


def _coverage(k: dict[str, Any]) -> Check:
    c = k["coverage"]
    if not c.get("unprotected_vms"):
        return Check(
            "coverage", True, f"all {c.get('vms', 0):,} VMs protected", anchor="unprotected-vms"
        )
    names = list(c.get("unprotected_vm_names") or [])
    return Check(
        "coverage",
        False,
        f"{c['unprotected_vms']:,} of {c['vms']:,} VMs in no protection group: {_names(names)}",
        "add them to a protection group (members patterns)",
        "unprotected-vms",
        0.0,
    )


def run_checks(res: Results, kpis: dict[str, Any], scenario: Any = None) -> list[Check]:
    """The run's checks, one per target, in a fixed order."""
    budget = getattr(getattr(scenario, "saved_state", None), "downtime_budget", None)
    return [
        _window(res, kpis),
        _rpo(res, kpis),
        _rto(kpis),
        _downtime(res, kpis, budget),
        _pool(kpis),
        _coverage(kpis),
    ]


def summary_line(checks: Sequence[Check]) -> str:
    """One sentence: met, or which targets are missed, the first to fail first."""
    missed = sorted((c for c in checks if c.ok is False), key=lambda c: c.first_s)
    judged = [c for c in checks if c.ok is not None]
    if not missed:
        return f"The design meets its {len(judged)} judged target(s)."
    names = ", ".join(c.target for c in missed)
    return f"The design misses {len(missed)} of {len(judged)} judged targets: {names}."


def verdict_lines(checks: Sequence[Check]) -> list[str]:
    """The summary and one line per check (with its fix), for the console and Markdown."""
    lines = [summary_line(checks)]
    for c in checks:
        line = f"{c.status}: {c.target}: {c.finding}"
        if c.fix and c.ok is not True:
            line += f". Fix: {c.fix}"
        lines.append(line)
    return lines


def verdict_markdown(checks: Sequence[Check]) -> list[str]:
    head, *rest = verdict_lines(checks)
    return ["## Verdict", "", f"**{head}**", "", *[f"- {x}" for x in rest], ""]


def failed(checks: Sequence[Check]) -> bool:
    return any(c.ok is False for c in checks)


# --- many runs: the same targets on the runs table --------------------------------


def scenario_targets(scenario: Any = None) -> list[tuple[str, Target]]:
    """The verdict's targets as KPI targets across replications (hvsim.targets): the
    window at p95 of the replications, the others in every replication; the
    downtime budget when the scenario sets one."""
    targets = [
        ("backup window", parse_target("window")),
        ("RPO", parse_target("rpo")),
        ("RTO", parse_target("rto")),
        ("DPM pool", parse_target("pool")),
        ("coverage", parse_target("coverage.unprotected_vms<=0")),
    ]
    budget = getattr(getattr(scenario, "saved_state", None), "downtime_budget", None)
    if budget is not None:
        targets.insert(3, ("saved-state downtime", parse_target(f"downtime<={budget}")))
    return targets


@dataclass(frozen=True)
class GroupVerdict:
    """One combination (or side) of many runs: its label, whether it meets every
    judged target, and each missed target with the value that decides."""

    label: str
    meets: bool
    missed: tuple[str, ...]


def table_verdicts(
    table: pd.DataFrame, by: Sequence[str], targets: Sequence[tuple[str, Target]]
) -> list[GroupVerdict]:
    """Per group of runs (``by`` columns; all runs when empty), in the table's order,
    as the sweep report's "against the targets" table judges them (text.meets_targets:
    a run with the KPI n/a is left out of that target)."""
    meets = meets_targets(table, by, targets)
    out = []
    for r in meets.to_dict("records"):
        label = ", ".join(f"{c}={r[c]}" for c in by) or "all runs"
        missed = tuple(r["misses"].split("; ")) if r["misses"] else ()
        out.append(GroupVerdict(label, bool(r["meets"]), missed))
    return out


def many_verdict_lines(verdicts: Sequence[GroupVerdict], noun: str = "combination") -> list[str]:
    """The summary ('2 of 4 combinations meet every target') and a line per group."""
    n_ok = sum(v.meets for v in verdicts)
    head = f"{n_ok} of {len(verdicts)} {noun}(s) meet every target."
    if len(verdicts) == 1:
        head = "It meets every target." if n_ok else "It misses a target."
    lines = [head]
    for v in verdicts:
        status = "meets" if v.meets else "MISSES"
        lines.append(f"{status}: {v.label}" + (f": {'; '.join(v.missed)}" if v.missed else ""))
    return lines


def many_verdict_markdown(verdicts: Sequence[GroupVerdict], noun: str = "combination") -> str:
    head, *rest = many_verdict_lines(verdicts, noun)
    note = (
        "Targets: the backup window in 95 % of the replications (all of them when there "
        "are fewer than 20), RPO, RTO, the pool, coverage (and the downtime budget, at p95) "
        "in every replication."
    )
    return "\n".join(["## Verdict", "", f"**{head}**", "", *[f"- {x}" for x in rest], "", note])


def checks_frame(checks: Sequence[Check]) -> pd.DataFrame:
    """The run's verdict as a table (the workbook's first sheet)."""
    rows = [
        {
            "status": c.status,
            "target": c.target,
            "finding": c.finding,
            "fix": c.fix if c.ok is False else "",
        }
        for c in checks
    ]
    return pd.DataFrame(rows, columns=["status", "target", "finding", "fix"])


def verdicts_frame(verdicts: Sequence[GroupVerdict]) -> pd.DataFrame:
    """The verdict of many runs as a table: a row per combination or side."""
    rows = [
        {"status": "meets" if v.meets else "MISSES", "runs": v.label, "missed": "; ".join(v.missed)}
        for v in verdicts
    ]
    return pd.DataFrame(rows, columns=["status", "runs", "missed"])
