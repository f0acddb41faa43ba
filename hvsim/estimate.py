"""What a run will cost, from the scenario alone, before it starts: the jobs it will
simulate, its wall time and its peak memory. ``hvsim run``, ``sweep`` and ``compare``
refuse a run past LIMIT_S or LIMIT_BYTES unless told to go ahead (``--yes``, or
``--max-jobs N`` to allow up to N jobs): a scenario of 100,000 VMs over ten years
validates, and would otherwise run for hours, silently, growing to hundreds of GB.

The count of jobs is the model's own arithmetic (protected VMs x express fulls per
day x days, on-demand arrivals, migrations, scans), with an allowance for re-runs; the
seconds and bytes per job, per VM and per scanned VM are measured (CALIBRATION).
An estimate, not a promise: a scenario where most jobs fail and re-run, or whose
migrations cascade into consistency checks, costs more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hvsim.model.schedule import daily_count
from hvsim.scenario.guest import data_source_names, guest_job_count
from hvsim.scenario.patterns import VmNames, group_membership, scenario_vm_names
from hvsim.scenario.schema import (
    GUEST_RESTORE_SOURCES,
    PoissonRestores,
    RestoreDrill,
    Scenario,
    VmSpec,
)

DAY_S = 86400.0

# Refused above either (without --yes or --max-jobs): ten minutes is past what anyone
# waits for without having asked for it, and 4 GB is a laptop's spare memory.
LIMIT_S = 600.0
LIMIT_BYTES = 4e9

# CALIBRATION: a whole `hvsim run` (import, build, simulate, tables, KPIs, report.html,
# CSVs) measured by benchmarks/bench_estimate.py on bench_scale's estate (clusters of
# 8 WS2012 nodes, 4 CSVs, 400 VMs; one express full a day), x86_64, Python 3.12, one
# process on a shared 2-core machine. CPU seconds (what a core of its own would take)
# and peak resident memory (ru_maxrss):
#
#   VMs x days (discovery scan)  jobs      CPU s   peak MB
#   20 x 1                            21     4.0     202
#   400 x 7                        2,940     4.2     228
#   400 x 60 (scan)               25,200     7.8     297
#   2,000 x 7                     14,700     7.8     278
#   2,000 x 30 (scan)             63,000    17.4     392
#   8,000 x 7                     58,800    19.3     406
#   1,000 x 180                  189,000    40.0     775
#
# and fitted by least squares (rounded):
#   seconds = BASE_S + S_PER_VM x VMs + S_PER_JOB x jobs + S_PER_SCAN_VM x scanned VMs
#   bytes   = BASE_BYTES + BYTES_PER_VM x VMs + BYTES_PER_JOB x jobs
# A job costs about 190 us and 2.9 kB over the whole command: its records, its rows
# of the utilisation and slot logs, their tables and the CSV text (bench_scale's
# simulation alone: 1,000 VMs x 365 days in about 30 s and 450 MB).
BASE_S = 3.5
S_PER_VM = 6.0e-4
S_PER_JOB = 1.9e-4
S_PER_SCAN_VM = 7.0e-6
BASE_BYTES = 215e6
BYTES_PER_VM = 2.4e3
BYTES_PER_JOB = 2.9e3

# Re-runs: DPM re-runs a failed job (auto_rerun_attempts); with the default writers a
# few attempts in a thousand fail (source: vss-timeouts), so 5 % covers a scenario that is mostly
# healthy (assumption). A migration is about as much work as a job per pre-copy round
# (a transfer each, assumption).
RERUN_ALLOWANCE = 0.05


@dataclass(frozen=True)
class RunEstimate:
    """The expected cost of one run of a scenario."""

    vms: int
    protected_vms: int
    express_fulls: int
    reruns: int
    on_demand: int
    migrations: int
    scans: int
    scanned_vms: int  # VMs enumerated, summed over every scan of every cluster
    seconds: float
    peak_bytes: float
    restores: int = 0  # requested: drills, Poisson streams (expected) and events
    guest_jobs: int = 0  # guest-level jobs (hvsim.scenario.guest.guest_job_count)
    host_vms: int = 0  # protected at host level (protected_vms counts both levels)
    guest_vms: int = 0  # with data sources protected at guest level
    data_sources: int = 0  # guest-level data sources protected
    online_jobs: int = 0  # online (Azure) jobs: data sources x online times a day x days
    tape_jobs: int = 0  # long-term tape jobs: data sources x long-term fulls in the horizon

    @property
    def jobs(self) -> int:
        """Backup jobs (with the re-run allowance), guest-level jobs, on-demand jobs,
        migrations, restores, online and tape jobs."""
        return (
            self.express_fulls
            + self.reruns
            + self.guest_jobs
            + self.on_demand
            + self.migrations
            + self.restores
            + self.online_jobs
            + self.tape_jobs
        )


def estimate_run(scenario: Scenario) -> RunEstimate:
    """The jobs, wall seconds and peak bytes of one run of ``scenario`` (linear in
    its VMs; nothing is simulated)."""
    horizon_s = scenario.horizon_days * DAY_S
    days = scenario.horizon_days
    names = scenario_vm_names(scenario)
    group_of = group_membership(scenario, names)
    members = {g.name: 0 for g in scenario.protection_groups}
    for group in group_of.values():
        members[group] += 1
    express = sum(
        members[g.name] * daily_count(g.express_full_times, horizon_s)
        for g in scenario.protection_groups
    )
    reruns = math.ceil(express * RERUN_ALLOWANCE)
    on_demand = math.ceil(sum(o.per_hour * 24.0 * days for o in scenario.on_demand))
    mig = scenario.migrations
    rounds = 1 + scenario.live_migration.max_precopy_rounds
    moves = sum(
        p.per_vm_per_day * days * sum(len(names.matching(m)) for m in p.members)
        for p in mig.poisson
    )
    # A drain moves the node's VMs away and back: at most every VM of its cluster.
    cluster_vms: dict[str, int] = {}
    for spec in scenario.vms:
        if spec.cluster is not None:
            cluster_vms[spec.cluster] = cluster_vms.get(spec.cluster, 0) + spec.count
    node_cluster = {n.name: c.name for c in scenario.clusters for n in c.node_list()}
    moves += sum(2 * cluster_vms.get(node_cluster.get(d.node, ""), 0) for d in mig.drains)
    moves += len(mig.events)
    migrations = math.ceil(moves * rounds)
    # The wizard's scan of each cluster at 0, then one discovery scan a day after it
    # (ProtectionScanner.schedule): each enumerates the cluster's VMs.
    at = scenario.scan.discovery_time
    per_cluster = 1 + (
        daily_count([at], horizon_s) - (1 if at == 0 else 0) if at is not None else 0
    )
    scanned = [n for n in cluster_vms.values() if n]
    scans = per_cluster * len(scanned)
    scanned_vms = per_cluster * sum(scanned)
    vms = len(names.names)
    restores = _restores(scenario, names, horizon_s)
    guest = guest_job_count(scenario)
    guest_of = group_membership(scenario, names, level="guest")
    spec_of = {n: spec for spec in scenario.vms for n in spec.names()} if guest_of else {}
    data_sources = sum(len(data_source_names(spec_of[n], n)) for n in guest_of)
    online, tape = _tier_jobs(scenario, group_of, guest_of, spec_of, days)
    jobs = express + reruns + guest + on_demand + migrations + restores + online + tape
    return RunEstimate(
        vms=vms,
        protected_vms=len(group_of.keys() | guest_of.keys()),
        express_fulls=express,
        reruns=reruns,
        on_demand=on_demand,
        migrations=migrations,
        scans=scans,
        scanned_vms=scanned_vms,
        seconds=BASE_S + S_PER_VM * vms + S_PER_JOB * jobs + S_PER_SCAN_VM * scanned_vms,
        peak_bytes=BASE_BYTES + BYTES_PER_VM * vms + BYTES_PER_JOB * jobs,
        restores=restores,
        guest_jobs=guest,
        host_vms=len(group_of),
        guest_vms=len(guest_of),
        data_sources=data_sources,
        online_jobs=online,
        tape_jobs=tape,
    )


# Long-term fulls a day at each tape frequency (hvsim.model.tape: weekly, monthly on
# the calendar, yearly).
TAPE_FULLS_PER_DAY = {"weekly": 1 / 7, "monthly": 12 / 365, "yearly": 1 / 365}


def _tier_jobs(
    scenario: Scenario,
    group_of: dict[str, str],
    guest_of: dict[str, str],
    spec_of: dict[str, VmSpec],
    days: float,
) -> tuple[int, int]:
    """Online and tape jobs a run is expected to make: per group with an online
    block, its data sources (VMs at host level, data sources at guest level) x its
    online times a day x the days; per group with long_term, its data sources x the
    long-term fulls in the horizon (rounded up). Every VM counted from day 0: an upper
    bound with onboarding."""
    sources = {g.name: 0 for g in scenario.protection_groups}
    for group in group_of.values():
        sources[group] += 1
    for vm, group in guest_of.items():
        sources[group] += len(data_source_names(spec_of[vm], vm))
    online = tape = 0
    for g in scenario.protection_groups:
        if g.online is not None:
            online += math.ceil(sources[g.name] * len(g.online.times) * days)
        if g.long_term is not None:
            fulls = math.ceil(TAPE_FULLS_PER_DAY[g.long_term.frequency] * days)
            tape += sources[g.name] * fulls
    return online, tape


def _restores(scenario: Scenario, names: VmNames, horizon_s: float) -> int:
    """Restores a run is expected to request: each drill's occurrences times the VMs
    it restores, each Poisson stream's mean, and the events (each is about one job)."""
    r = scenario.restores

    def vms(members: Sequence[str] | None) -> int:
        return len({n for m in members or ["*"] for n in names.matching(m)})

    def targets(item: RestoreDrill | PoissonRestores) -> int:
        """What one occurrence restores: its VMs, or for a guest kind the data
        sources of the kind's workload in them that its patterns match."""
        workload = GUEST_RESTORE_SOURCES.get(item.kind)
        if workload is None:
            return vms(item.members)
        per_vm = {n: spec for spec in scenario.vms for n in spec.names()}
        chosen = dict.fromkeys(n for m in item.members or ["*"] for n in names.matching(m))
        held = VmNames(
            ds for n in chosen for ds, w in data_source_names(per_vm[n], n) if w == workload
        )
        return len({ds for p in item.data_sources or ["*"] for ds in held.matching(p)})

    count = float(len(r.events))
    for d in r.drills:
        start_s = d.first_day * DAY_S
        days = max(0.0, math.ceil((horizon_s - start_s) / (d.every_days * DAY_S)))
        count += days * len(d.times) * targets(d)
    for p in r.poisson:
        count += p.per_vm_per_day * (horizon_s / DAY_S) * targets(p)
    return math.ceil(count)


@dataclass(frozen=True)
class Estimate:
    """The expected cost of a command: its runs, their jobs, wall time and peak memory
    (runs in ``workers`` processes at once)."""

    runs: int
    jobs: int
    seconds: float
    peak_bytes: float
    largest: RunEstimate

    def over_limit(self, max_jobs: int | None = None) -> bool:
        """Past the default limits, or past ``max_jobs`` jobs when that is given."""
        if max_jobs is not None:
            return self.jobs > max_jobs
        return self.seconds > LIMIT_S or self.peak_bytes > LIMIT_BYTES

    def describe(self) -> str:
        """One line of figures: jobs, what they are, time and memory."""
        e = self.largest
        runs = f" in {self.runs:,} runs" if self.runs > 1 else ""
        parts = [f"{e.protected_vms:,} protected VMs"]
        if e.guest_vms:
            parts[0] += f" ({e.guest_vms:,} at guest level, {e.data_sources:,} data sources)"
        if e.express_fulls:
            per_vm = e.express_fulls / max(e.host_vms, 1)
            parts.append(f"{per_vm:,.0f} express fulls each")
        for count, what in (
            (e.reruns, "re-runs allowed"),
            (e.guest_jobs, "guest-level jobs"),
            (e.on_demand, "on-demand jobs"),
            (e.migrations, "migration transfers"),
            (e.restores, "restores"),
            (e.online_jobs, "online jobs"),
            (e.tape_jobs, "tape jobs"),
        ):
            if count:
                parts.append(f"{count:,} {what}")
        of = ", ".join(parts) + (" in the largest run" if self.runs > 1 else "")
        return (
            f"about {self.jobs:,} jobs{runs} ({of}): estimated {format_duration(self.seconds)} "
            f"and {format_bytes(self.peak_bytes)} of memory"
        )


def estimate(
    here: Sequence[Scenario],
    pooled: Sequence[Scenario] = (),
    workers: int = 1,
    held: bool = False,
) -> Estimate:
    """The cost of a command that runs ``pooled`` (one scenario per run) in ``workers``
    processes at once, and ``here`` one after another in this process (a single run,
    or the detail plots of replications, a sweep or a comparison). ``held``: the
    results of the runs here are kept while the pool runs (``run --replications``
    simulates its seed's run first)."""
    memo: dict[int, RunEstimate] = {}

    def of(s: Scenario) -> RunEstimate:
        if id(s) not in memo:
            memo[id(s)] = estimate_run(s)
        return memo[id(s)]

    here_e, pooled_e = [of(s) for s in here], [of(s) for s in pooled]
    runs = here_e + pooled_e
    largest = max(runs, key=lambda e: (e.seconds, e.peak_bytes))
    parallel = max(1, min(workers, len(pooled_e)))
    seconds = sum(e.seconds for e in pooled_e) / parallel + sum(e.seconds for e in here_e)
    # Each worker holds one run at a time; the runs here come one after another, and
    # their tables (all but the process's base) stay while the pool runs if held.
    here_peak = max((e.peak_bytes for e in here_e), default=0.0)
    pooled_peak = parallel * max((e.peak_bytes for e in pooled_e), default=0.0)
    if held and pooled_e:
        pooled_peak += max(0.0, here_peak - BASE_BYTES)
    peak = max(pooled_peak, here_peak)
    return Estimate(len(runs), sum(e.jobs for e in runs), seconds, peak, largest)


def format_duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:,.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def format_bytes(n: float) -> str:
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= f:
            return f"{n / f:,.1f} {unit}"
    return f"{n:,.0f} B"
