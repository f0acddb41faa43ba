"""Trace -> pandas tables -> KPIs. Notebooks and the CLI share this one path."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from hvsim.model.dpm import GuestReplica
from hvsim.model.infrastructure import CsvVolume
from hvsim.model.pool import POOL_FULL, StoragePool
from hvsim.model.tape import tapes_per_full, window_overlap_s
from hvsim.model.trace import (
    ConsistencyCheckRecord,
    DowntimeRecord,
    JobRecord,
    MigrationRecord,
    OnDemandRecord,
    OnlineDayRecord,
    OnlineJobRecord,
    ProtectionBreakRecord,
    RedirectedIoRecord,
    RestoreRecord,
    ScanRecord,
    SlotLog,
    TapeJobRecord,
)
from hvsim.scenario.guest import admission, servers_needed
from hvsim.scenario.patterns import vm_protection
from hvsim.scenario.schema import RESTORE_KINDS
from hvsim.world import World

JOB_COLUMNS = list(JobRecord._fields)
TAPE_PLAN_COLUMNS = [
    "data_source",
    "vm",
    "workload",
    "protection_group",
    "dpm_server",
    "frequency",
    "retention",
    "protected_bytes",
    "tapes_per_full",
    "fulls_per_year",
    "fulls_kept",
    "tapes_per_year",
    "tapes_in_rotation",
]
DAY_S = 86400.0


@dataclass
class Results:
    """Tables of one run. Times are seconds from the start (``*_s``) and calendar
    datetimes (``queued``, ``start``, ``end``). Plots of them are in
    ``hvsim.report.plots`` (``plots.gantt(res)``, ...)."""

    scenario: str
    seed: int
    horizon_days: float
    start_date: dt.date
    jobs: pd.DataFrame
    downtime: pd.DataFrame
    redirected_io: pd.DataFrame
    vms: pd.DataFrame
    resources: pd.DataFrame
    scans: pd.DataFrame
    degraded_io: pd.DataFrame
    utilisation: pd.DataFrame
    slot_queues: pd.DataFrame
    consistency_checks: pd.DataFrame
    migrations: pd.DataFrame
    protection_breaks: pd.DataFrame
    recovery_points: pd.DataFrame
    on_demand: pd.DataFrame
    # One row per restore requested (hvsim.model.restore), in order of request.
    restores: pd.DataFrame
    # Guest level: one row per protected guest data source, and its recovery points.
    data_sources: pd.DataFrame = field(default_factory=lambda: _data_sources_frame([]))
    guest_recovery_points: pd.DataFrame = field(default_factory=lambda: _guest_points_frame([]))
    # Host, guest or both per VM, from the scenario's restore_needs (hvsim.recommend):
    # set by simulate; empty without restore_needs.
    recommendations: pd.DataFrame = field(default_factory=pd.DataFrame)
    # What the design asks of its DPM servers against their limits (admission KPIs).
    admission: dict[str, Any] = field(default_factory=dict)
    rpo_s: dict[str, float] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)
    storage: dict[str, Any] = field(default_factory=dict)
    # The DPM storage pools by day: one row per (day, DPM server, protection group,
    # volume kind) with used and allocated bytes at the end of the day (hvsim.model.pool).
    storage_days: pd.DataFrame = field(default_factory=lambda: _storage_days([]))
    # Each protection group's backup window (start, end), seconds after midnight.
    windows_s: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Long-term protection to tape: one row per tape job (hvsim.model.tape), and one
    # per data source a group writes to tape with its tape plan (tapes per full, a
    # year, in rotation); the drives of the libraries those groups use.
    tape_jobs: pd.DataFrame = field(default_factory=lambda: _tape_jobs_frame([], None))
    tape_plan: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TAPE_PLAN_COLUMNS))
    tape_drives: int = 0
    # Online protection to Azure (hvsim.model.online): one row per online job, per DPM
    # server and simulated day (backlog, vault), and per data source protected online.
    online_jobs: pd.DataFrame = field(default_factory=lambda: _online_jobs_frame([], None))
    online_days: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(OnlineDayRecord._fields))
    )
    online_sources: pd.DataFrame = field(default_factory=lambda: _online_sources_frame(None, 0.0))
    online_vault_peak_bytes: float = 0.0

    def kpis(self) -> dict[str, Any]:
        return compute_kpis(self)


def _with_datetimes(df: pd.DataFrame, start: dt.date, cols: dict[str, str]) -> pd.DataFrame:
    origin = pd.Timestamp(start)
    for src, dst in cols.items():
        df[dst] = origin + pd.to_timedelta(df[src], unit="s")
    return df


def collect(world: World, scenario_name: str, seed: int, start_date: dt.date) -> Results:
    trace = world.trace
    jobs = pd.DataFrame.from_records(trace.jobs, columns=JOB_COLUMNS)
    jobs = jobs.sort_values("job_id", kind="stable").reset_index(drop=True)
    # A host-level job's data source is its VM.
    jobs["data_source"] = jobs["data_source"].where(jobs["data_source"] != "", jobs["vm"])
    jobs["wait_s"] = jobs["start_s"] - jobs["queued_s"]
    jobs["duration_s"] = jobs["end_s"] - jobs["start_s"]
    jobs = _with_datetimes(
        jobs, start_date, {"queued_s": "queued", "start_s": "start", "end_s": "end"}
    )
    downtime = pd.DataFrame.from_records(trace.downtime, columns=list(DowntimeRecord._fields))
    downtime = _with_datetimes(downtime, start_date, {"start_s": "start", "end_s": "end"})
    redirected = pd.DataFrame.from_records(
        trace.redirected_io, columns=list(RedirectedIoRecord._fields)
    )
    redirected["seconds"] = redirected["end_s"] - redirected["start_s"]
    redirected["throughput_ratio"] = (
        redirected["achieved_bps"] / redirected["demand_bps"].where(redirected["demand_bps"] > 0)
    ).fillna(1.0)
    redirected = _with_datetimes(redirected, start_date, {"start_s": "start", "end_s": "end"})
    scans = pd.DataFrame.from_records(trace.scans, columns=list(ScanRecord._fields))
    scans["duration_s"] = scans["end_s"] - scans["start_s"]
    scans = _with_datetimes(scans, start_date, {"start_s": "start", "end_s": "end"})
    # A VM in no protection group has no replica: never backed up, no recovery points;
    # every output lists it as unprotected (its method and consistency read "none").
    replica = [world.replicas.get(v) for v in world.vms]
    vms = pd.DataFrame(
        {
            "vm": [v.name for v in world.vms],
            "protection_group": [r.plan.name if r else "" for r in replica],
            "host": [v.host.name for v in world.vms],
            "storage": [v.volume.name for v in world.vms],
            "guest_os": [v.guest_os for v in world.vms],
            "memory_bytes": [v.memory_bytes for v in world.vms],
            "used_bytes": [v.used_bytes for v in world.vms],
            "daily_change": [v.daily_change for v in world.vms],
            "method": [r.method if r else "none" for r in replica],
            "offline_reason": [r.offline_reason if r else "" for r in replica],
            # Every failed online requirement, also of a VM kept running by DPM 2012 R2
            # UR3+ (whose offline_reason is empty): why its points are file or crash
            # consistent.
            "failed_requirements": ["; ".join(v.failed_requirements()) for v in world.vms],
            # application / file / crash; "none" for a VM in no protection group.
            "recovery_point_consistency": [r.consistency if r else "none" for r in replica],
        }
    )
    if world.guest_replicas:
        guest_group = {g.source.vm.name: g.plan.name for g in world.guest_replicas}
        level = vm_protection(world.scenario)
        vms["protection"] = [level[v.name] for v in world.vms]
        vms["guest_protection_group"] = [guest_group.get(v.name, "") for v in world.vms]
    # Growth and onboarding: present in every run (without them, the start is day 0
    # and the end size the start size), so tables and kpis.json keep one shape.
    _growth_columns(world, vms, start_date)
    resources = pd.DataFrame(
        {
            "resource": [r.name for r in world.flows.resources.values()],
            "kind": [r.kind for r in world.flows.resources.values()],
            "capacity_bps": [r.capacity_bps for r in world.flows.resources.values()],
            "bytes": [r.bytes_total for r in world.flows.resources.values()],
            "busy_s": [r.busy_s for r in world.flows.resources.values()],
            "bottleneck_flow_s": [r.bottleneck_s for r in world.flows.resources.values()],
        }
    )
    pools = [d.storage for d in world.dpm_servers.values()]
    for pool in pools:
        pool.finish()
    storage_days = _storage_days(pools)
    storage = _storage_kpis(world, trace.jobs, storage_days)
    storage.update(_protected_bytes(world))
    counters = {
        "flows_started": world.flows.started_flows,
        "flows_finished": world.flows.finished_flows,
        "bytes_sent": world.flows.bytes_started,
        "bytes_received": world.flows.bytes_delivered,
        "snapshots_alive": world.vss.alive,
        "end_s": world.env.now,
    }
    data_sources = _data_sources_frame(world.guest_replicas)
    data_sources["size_bytes_end"] = [
        r.source.size_bytes_at(world.horizon_s) for r in world.guest_replicas
    ]
    return Results(
        scenario=scenario_name,
        seed=seed,
        horizon_days=world.scenario.horizon_days,
        start_date=start_date,
        jobs=jobs,
        downtime=downtime,
        redirected_io=redirected,
        vms=vms,
        resources=resources,
        scans=scans,
        degraded_io=_degraded_io(world, redirected),
        utilisation=_utilisation(world, start_date),
        consistency_checks=_table(trace.checks, ConsistencyCheckRecord, start_date),
        migrations=_table(trace.migrations, MigrationRecord, start_date),
        protection_breaks=_table(trace.breaks, ProtectionBreakRecord, start_date),
        recovery_points=pd.DataFrame(
            {
                "vm": [r.vm.name for r in world.replicas.values() for _ in r.recovery_points_s],
                "protection_group": [
                    r.plan.name for r in world.replicas.values() for _ in r.recovery_points_s
                ],
                "time_s": [t for r in world.replicas.values() for t in r.recovery_points_s],
            }
        ),
        on_demand=_on_demand(trace.on_demand, start_date),
        restores=_restores(trace.restores, start_date),
        data_sources=data_sources,
        guest_recovery_points=_guest_points_frame(world.guest_replicas),
        admission=_admission(world),
        rpo_s={name: plan.rpo_s for name, plan in world.plans.items()},
        slot_queues=_with_datetimes(_slot_log(trace.slot_log), start_date, {"time_s": "time"}),
        counters=counters,
        storage=storage,
        storage_days=storage_days,
        windows_s={
            name: (plan.window_start_s, plan.window_end_s) for name, plan in world.plans.items()
        },
        tape_jobs=_tape_jobs_frame(trace.tape_jobs, start_date),
        tape_plan=_tape_plan(world),
        tape_drives=sum(len(lib.drives) for lib in {p.library for p in world.tape.plans.values()}),
        online_jobs=_online_jobs_frame(trace.online_jobs, start_date),
        online_days=pd.DataFrame.from_records(
            trace.online_days, columns=list(OnlineDayRecord._fields)
        ),
        online_sources=_online_sources_frame(world.online, world.horizon_s),
        online_vault_peak_bytes=sum(u.vault.peak_bytes for u in world.online.uplinks.values())
        if world.online is not None
        else 0.0,
    )


def _growth_columns(world: World, vms: pd.DataFrame, start_date: dt.date) -> None:
    """Growth and onboarding (vms[] growth_per_year, protect_from, onboarding): each
    VM's protection start (NaN for a VM in no protection group; at or after the
    horizon: never protected in the run) and its disks' used bytes at the horizon."""
    protected = vms["protection_group"] != ""
    if "guest_protection_group" in vms:
        protected |= vms["guest_protection_group"] != ""
    starts = pd.Series([v.protected_from_s for v in world.vms], index=vms.index, dtype=float)
    vms["protection_start_s"] = starts.where(protected)
    _with_datetimes(vms, start_date, {"protection_start_s": "protection_start"})
    vms["used_bytes_end"] = [v.used_bytes_at(world.horizon_s) for v in world.vms]


def _protected_bytes(world: World) -> dict[str, float]:
    """Protected data, as DPM counts data sources (each host-level VM's disks in use,
    each guest data source): at the start, of what is protected from the start; at
    the horizon, of what is protected by then, grown."""
    horizon = world.horizon_s
    start = end = 0.0
    for vm in world.replicas:
        if vm.protected_from_s == 0.0:
            start += vm.used_bytes
        if vm.protected_from_s < horizon:
            end += vm.used_bytes_at(horizon)
    for guest in world.guest_replicas:
        src = guest.source
        if src.vm.protected_from_s == 0.0:
            start += src.size_bytes
        if src.vm.protected_from_s < horizon:
            end += src.size_bytes_at(horizon)
    return {"protected_bytes_start": start, "protected_bytes_end": end}


def _online_jobs_frame(records: list[OnlineJobRecord], start_date: dt.date | None) -> pd.DataFrame:
    """One row per online job (hvsim.model.online), in the order they were recorded,
    with wait and duration and, given the start date, calendar times."""
    df = pd.DataFrame.from_records(records, columns=list(OnlineJobRecord._fields))
    df["wait_s"] = df["start_s"] - df["queued_s"]
    df["duration_s"] = df["end_s"] - df["start_s"]
    if start_date is not None:
        df = _with_datetimes(
            df, start_date, {"queued_s": "queued", "start_s": "start", "end_s": "end"}
        )
    return df


ONLINE_SOURCE_COLUMNS = [
    "data_source",
    "vm",
    "protection_group",
    "dpm_server",
    "size_bytes",
    "seeded_s",
    "online_points",
    "rpo_target_s",
    "worst_gap_s",
    "rpo_violations",
]


def _online_sources_frame(online: Any, horizon_s: float) -> pd.DataFrame:
    """One row per data source protected online: when its seed was in the vault (NaN:
    not in the run), its online points, and the gaps between them against the group's
    online RPO: between consecutive points and from the last to the horizon (a data
    source with none: the whole horizon), as the host-level rpo KPIs count them."""
    rows = []
    for src in online.sources if online is not None else []:
        times = np.asarray(src.points_s, dtype=float)
        gaps = np.diff(times)
        last = float(times[-1]) if times.size else 0.0
        gaps = np.append(gaps, max(horizon_s - last, 0.0))
        target = src.group.rpo_s
        rows.append(
            (
                src.name,
                src.vm.name,
                src.group.name,
                src.group.uplink.dpm.name,
                src.size_bytes(),
                math.nan if src.seeded_s is None else src.seeded_s,
                int(times.size),
                target,
                float(gaps.max()),
                int((gaps > target).sum()),
            )
        )
    return pd.DataFrame.from_records(rows, columns=ONLINE_SOURCE_COLUMNS)


def _online_kpis(res: Results) -> dict[str, Any]:
    """Online protection to Azure: data sources, jobs, bytes uploaded, days to seed,
    the online RPO, the upload backlog at day ends and the vault. Zeros and nulls
    when no group is protected online."""
    jobs, days, src = res.online_jobs, res.online_days, res.online_sources
    horizon_s = res.horizon_days * DAY_S
    ran = jobs[jobs["outcome"] != "skipped"]
    ok = ran[ran["outcome"] == "succeeded"]
    seeded = src["seeded_s"].to_numpy(dtype=float)
    # Every data source's seed in the vault by the horizon, or not (null).
    in_time = seeded.size > 0 and bool(np.all(seeded <= horizon_s))
    # Per day, the DPM servers' backlogs added up.
    backlog = days.groupby("day")["upload_backlog_bytes"].sum().to_numpy(dtype=float)
    end = days[days["day"] == days["day"].max()] if len(days) else days
    return {
        "data_sources": int(len(src)),
        "jobs": int(len(ran)),
        "succeeded": int(len(ok)),
        "failed": int((ran["outcome"] == "failed").sum()),
        "skipped": int((jobs["outcome"] == "skipped").sum()),
        "bytes_uploaded": _r(ok.loc[ok["kind"] != "offline_seed", "bytes"].sum(), 0),
        "bytes_shipped": _r(ok.loc[ok["kind"] == "offline_seed", "bytes"].sum(), 0),
        "data_sources_seeded": int((seeded <= horizon_s).sum()),
        "days_to_seed": _r(float(seeded.max()) / DAY_S, 4) if in_time else None,
        "rpo_target_s": _r(float(src["rpo_target_s"].min())) if len(src) else None,
        "rpo_violations": int(src["rpo_violations"].sum()),
        "worst_gap_s": _r(float(src["worst_gap_s"].max())) if len(src) else None,
        "upload_backlog_max_bytes": _r(backlog.max(), 0) if backlog.size else 0.0,
        "upload_backlog_end_bytes": _r(end["upload_backlog_bytes"].sum(), 0),
        "vault_bytes_end": _r(end["vault_bytes"].sum(), 0),
        "vault_bytes_peak": _r(res.online_vault_peak_bytes, 0),
        "vault_points_end": int(end["vault_points"].sum()),
    }


def _r(x: float, nd: int = 3) -> float:
    """Round for kpis.json: stable text across platforms, no -0.0 or NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return 0.0
    v = round(float(x), nd)
    return 0.0 if v == 0 else v


def compute_kpis(res: Results) -> dict[str, Any]:
    guest_jobs = res.jobs[res.jobs["workload"] != "hyperv"]
    all_jobs = res.jobs
    if len(guest_jobs):
        # backups, rpo, consistency checks: host-level jobs; guest jobs have their own.
        res = dataclasses.replace(res, jobs=res.jobs[res.jobs["workload"] == "hyperv"])
    kpis = _host_kpis(res)
    kpis["guest"] = _guest_kpis(res, guest_jobs)
    kpis["admission"] = res.admission
    kpis["tape"] = _tape_kpis(res)
    kpis["decision"] = _decision_kpis(res, all_jobs, kpis)
    kpis["online"] = _online_kpis(res)
    return kpis


def _host_kpis(res: Results) -> dict[str, Any]:
    jobs = res.jobs
    ran = jobs[jobs["outcome"] != "skipped"]
    succeeded = ran[ran["outcome"] == "succeeded"]
    # Window compliance: share of scheduled occurrences whose recovery point was
    # created (by any attempt) by its deadline, the end of the backup window it was
    # scheduled in or, scheduled outside the window, the group's next express full
    # (ProtectionGroupPlan.deadline_for, the jobs' window_end_s). No occurrence: not
    # applicable (null), not 0 %.
    ok = (jobs["outcome"] == "succeeded") & (jobs["end_s"] <= jobs["window_end_s"])
    on_time = ok.groupby([jobs["vm"], jobs["scheduled_s"]]).any()
    compliance = _r(float(on_time.mean()), 4) if len(on_time) else None
    down = res.downtime["seconds"].to_numpy(dtype=float)
    downtime = {
        "vms_offline": int((res.vms["method"] == "offline").sum()),
        "total_s": _r(down.sum()),
        "per_backup_p50_s": _r(np.percentile(down, 50)) if down.size else 0.0,
        "per_backup_p95_s": _r(np.percentile(down, 95)) if down.size else 0.0,
        "per_backup_max_s": _r(down.max()) if down.size else 0.0,
    }
    busiest = res.resources.sort_values(["bottleneck_flow_s", "resource"], ascending=[False, True])
    total_bott = float(res.resources["bottleneck_flow_s"].sum())
    bottleneck = {
        row.resource: _r(row.bottleneck_flow_s / total_bott, 4)
        for row in busiest.head(5).itertuples()
        if row.bottleneck_flow_s > 0
    }
    return {
        "scenario": res.scenario,
        "seed": res.seed,
        # As given: rounded to 3 places a horizon under 43 s read 0 days.
        "horizon_days": res.horizon_days,
        "scan": _scan_kpis(res.scans),
        "backups": {
            "jobs": int(len(ran)),
            "succeeded": int(len(succeeded)),
            "failed": int((ran["outcome"] == "failed").sum()),
            "skipped": int((jobs["outcome"] == "skipped").sum()),
            "online": int((ran["method"] == "online").sum()),
            "offline": int((ran["method"] == "offline").sum()),
            "window_compliance": compliance,
            "outside_window": _outside_window(res),
            "bytes": _r(succeeded["bytes"].sum(), 0),
            # No host-level job ran (a guest-only estate, a horizon before the first
            # express full): no wait or makespan to speak of, null ("n/a"), not 0.
            "mean_wait_s": _r(ran["wait_s"].mean()) if len(ran) else None,
            "makespan_p50_s": _r(_nightly_makespans(ran).median()) if len(ran) else None,
            "makespan_max_s": _r(_nightly_makespans(ran).max()) if len(ran) else None,
            "night_span_max_s": _r(_night_spans(ran).max()) if len(ran) else None,
        },
        "downtime": downtime,
        "coverage": _coverage_kpis(res.vms, res.horizon_days * DAY_S),
        "redirected_io": _redirected_kpis(res),
        "consistency_checks": _check_kpis(res),
        "migrations": _migration_kpis(res),
        "rpo": _rpo_kpis(res),
        "storage": _rounded(res.storage),
        "bottleneck": bottleneck,
        "restores": _restore_kpis(res.restores),
        "on_demand": {
            "jobs": int(len(res.on_demand)),
            "mean_wait_s": _r(res.on_demand["wait_s"].mean()) if len(res.on_demand) else 0.0,
            "p95_wait_s": _r(np.percentile(res.on_demand["wait_s"], 95))
            if len(res.on_demand)
            else 0.0,
        },
    }


STORAGE_DAY_COLUMNS = [
    "day",
    "dpm_server",
    "protection_group",
    "volume_kind",
    "used_bytes",
    "allocated_bytes",
    "capacity_bytes",
]


def _storage_days(pools: Sequence[StoragePool]) -> pd.DataFrame:
    """The pools' rows by day (StoragePool.rows), days in order, then servers in the
    scenario's order, then groups and kinds in the order their volumes were made."""
    rows = [
        (day, pool.name, group, kind, used, allocated, pool.capacity_bytes)
        for pool in pools
        for day, group, kind, used, allocated in pool.rows
    ]
    df = pd.DataFrame.from_records(rows, columns=STORAGE_DAY_COLUMNS)
    return df.sort_values("day", kind="stable").reset_index(drop=True)


def _storage_kpis(
    world: World, jobs: Sequence[JobRecord], storage_days: pd.DataFrame
) -> dict[str, Any]:
    """The storage section of kpis.json: the pools' peaks and end state, when each
    first refused a store (day index; None: not within the horizon), the jobs failed
    for a full pool, alerts, volumes and disk snapshots (peaks), and the steady-state
    projection beside DPM's default allocation for the same estate; per DPM server
    too (``servers``)."""
    failed: dict[str, int] = {}
    for job in jobs:
        if job.outcome == "failed" and job.failure_reason == POOL_FULL:
            failed[job.dpm_server] = failed.get(job.dpm_server, 0) + 1
    servers: dict[str, dict[str, Any]] = {}
    for dpm in world.dpm_servers.values():
        pool = dpm.storage
        steady_used, steady_alloc = pool.steady_state()
        end_alloc = pool.horizon_allocated_bytes
        servers[dpm.name] = {
            "allocation": "thin" if pool.thin else "dpm_default",
            "pool_peak_bytes": pool.peak_used_bytes,
            "replica_bytes": dpm.replica_bytes,
            "recovery_point_bytes": dpm.recovery_point_bytes,
            "allocated_peak_bytes": pool.peak_allocated_bytes,
            "capacity_bytes": pool.capacity_bytes,
            "days_until_full": None if pool.full_at_s is None else int(pool.full_at_s // DAY_S),
            "pool_full_failures": failed.get(dpm.name, 0),
            "alerts": pool.alerts,
            "volumes": pool.peak_volumes,
            "disk_snapshots": pool.peak_disk_snapshots,
            "steady_state_bytes": steady_used,
            "steady_state_allocated_bytes": steady_alloc,
            "end_bytes": pool.horizon_used_bytes,
            "needed_bytes": max(steady_used if pool.thin else steady_alloc, end_alloc),
        }
    return storage_totals(servers)


def storage_totals(servers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The storage section's totals over the DPM servers (and ``servers`` itself)."""
    out: dict[str, Any] = {}
    for key in (
        "pool_peak_bytes",
        "replica_bytes",
        "recovery_point_bytes",
        "allocated_peak_bytes",
        "capacity_bytes",
    ):
        out[key] = sum(s[key] for s in servers.values())
    fulls = [s["days_until_full"] for s in servers.values() if s["days_until_full"] is not None]
    out["days_until_full"] = min(fulls) if fulls else None
    for key in (
        "pool_full_failures",
        "alerts",
        "volumes",
        "disk_snapshots",
        "steady_state_bytes",
        "steady_state_allocated_bytes",
        "end_bytes",
        "needed_bytes",
    ):
        out[key] = sum(s[key] for s in servers.values())
    out["servers"] = servers
    return out


def _rounded(section: dict[str, Any]) -> dict[str, Any]:
    """A KPI section for kpis.json: floats rounded to whole units, integers, None and
    text as they are, nested sections likewise."""
    out: dict[str, Any] = {}
    for key, value in section.items():
        if isinstance(value, dict):
            out[key] = _rounded(value)
        elif value is None or isinstance(value, (str, bool, int)):
            out[key] = value
        else:
            out[key] = _r(value, 0)
    return out


DATA_SOURCE_COLUMNS = [
    "data_source",
    "kind",
    "vm",
    "protection_group",
    "dpm_server",
    "size_bytes",
    "databases",
    "recovery_model",
    "sync_interval_s",
    "recovery_points",
    "rpo_s",
    "worst_gap_s",
    "agent_cpu_s",
]


def _data_sources_frame(replicas: list[GuestReplica]) -> pd.DataFrame:
    """One row per protected guest data source: what it is, where, and the recovery
    points made: how many, ``rpo_s`` the median gap between consecutive points (the
    interval achieved: the best RPO the protection gives), ``worst_gap_s`` the longest
    gap, from the first point to the last (0 with fewer than two points)."""
    rows = []
    for r in replicas:
        src, plan = r.source, r.plan
        times = np.asarray(r.point_time_s, dtype=float)
        gaps = np.diff(times)
        rows.append(
            (
                src.name,
                src.kind,
                src.vm.name,
                plan.name,
                plan.dpm.name,
                src.size_bytes,
                src.databases,
                src.recovery_model,
                plan.sync_s if src.synchronized else 0.0,
                len(times),
                float(np.median(gaps)) if gaps.size else 0.0,
                float(gaps.max()) if gaps.size else 0.0,
                r.agent_cpu_s,
            )
        )
    return pd.DataFrame.from_records(rows, columns=DATA_SOURCE_COLUMNS)


def _guest_points_frame(replicas: list[GuestReplica]) -> pd.DataFrame:
    """Every guest recovery point: data source, kind (initial_replica, express_full,
    log_sync, file_point), time_s, bytes."""
    return pd.DataFrame(
        {
            "data_source": [r.source.name for r in replicas for _ in r.point_time_s],
            "kind": [k for r in replicas for k in r.point_kind],
            "time_s": np.array([t for r in replicas for t in r.point_time_s], dtype=float),
            "bytes": np.array([b for r in replicas for b in r.point_bytes], dtype=float),
        }
    )


def _tape_jobs_frame(records: list[TapeJobRecord], start_date: dt.date | None) -> pd.DataFrame:
    """Tape jobs in order of their schedule, group and data source, with wait_s
    (scheduled to a drive held), duration_s and calendar times."""
    df = pd.DataFrame.from_records(records, columns=list(TapeJobRecord._fields))
    df = df.sort_values(["scheduled_s", "protection_group", "data_source"], kind="stable")
    df = df.reset_index(drop=True)
    df["wait_s"] = df["start_s"] - df["scheduled_s"]
    df["duration_s"] = df["end_s"] - df["start_s"]
    if start_date is None:
        return df
    return _with_datetimes(
        df, start_date, {"scheduled_s": "scheduled", "start_s": "start", "end_s": "end"}
    )


def _tape_plan(world: World) -> pd.DataFrame:
    """Per data source a group writes to tape: its tapes per full (its protected bytes
    at the horizon, grown, over the tape's capacity), fulls a year, fulls kept in the
    retention range, and so tapes a year and tapes in rotation (DPM: frequency x
    retention range, a tape for each full, source: dpm-tape-planning). A projection
    from the schedule and sizes, not a count of the run's jobs."""
    rows = []
    for group, plan in world.tape.plans.items():
        retention = f"{plan.retention_value} {plan.retention_unit}"
        for src in world.tape.sources[group]:
            protected = src.protected_bytes_at(world.horizon_s)
            per_full = tapes_per_full(protected, plan.library.tape_bytes)
            rows.append(
                (
                    src.name,
                    src.vm,
                    src.workload,
                    group,
                    plan.dpm.name,
                    plan.frequency,
                    retention,
                    protected,
                    per_full,
                    plan.fulls_per_year,
                    plan.fulls_kept,
                    plan.fulls_per_year * per_full,
                    plan.fulls_kept * per_full,
                )
            )
    return pd.DataFrame.from_records(rows, columns=TAPE_PLAN_COLUMNS)


def _tape_kpis(res: Results) -> dict[str, Any]:
    """Long-term protection to tape (zeros when no group has it). A session is one
    scheduled occurrence of a group: its makespan runs from its first tape job's
    start to its last one's end; its overlap with the group's daily backup window is
    the time of that span inside the window. Drive utilisation is busy drive-seconds
    (the tape jobs' durations) over the library drives x the time from the first tape
    job's start to the last one's end (``drive_utilisation``), and over the drives x
    the horizon (``drive_utilisation_horizon``). Tapes per year and in rotation are
    the tape plan's projection (res.tape_plan)."""
    jobs, plan = res.tape_jobs, res.tape_plan
    ok = jobs[jobs["outcome"] == "succeeded"]
    sessions = ok.groupby(["protection_group", "scheduled_s"], sort=True).agg(
        first=("start_s", "min"), last=("end_s", "max")
    )
    makespan = (sessions["last"] - sessions["first"]).to_numpy(dtype=float)
    overlap = np.array(
        [
            window_overlap_s(row.first, row.last, *res.windows_s[group])
            for (group, _), row in zip(sessions.index, sessions.itertuples(), strict=True)
        ],
        dtype=float,
    )
    busy = float(ok["duration_s"].sum())
    drives = res.tape_drives
    span = float(ok["end_s"].max() - ok["start_s"].min()) if len(ok) else 0.0
    horizon_s = res.horizon_days * DAY_S
    return {
        "groups": int(plan["protection_group"].nunique()),
        "data_sources": int(len(plan)),
        "drives": int(drives),
        "jobs": int(len(ok)),
        "skipped": int((jobs["outcome"] == "skipped").sum()),
        "bytes": _r(ok["bytes"].sum(), 0),
        "sessions": int(len(sessions)),
        "session_makespan_p50_s": _r(np.median(makespan)) if makespan.size else 0.0,
        "session_makespan_max_s": _r(makespan.max()) if makespan.size else 0.0,
        "sessions_overlapping_window": int((overlap > 0).sum()),
        "window_overlap_h": _r(overlap.sum() / 3600.0),
        "window_overlap_max_h": _r(overlap.max() / 3600.0) if overlap.size else 0.0,
        "drive_busy_s": _r(busy),
        "drive_utilisation": _r(busy / (drives * span), 4) if drives and span > 0 else 0.0,
        "drive_utilisation_horizon": _r(busy / (drives * horizon_s), 4)
        if drives and horizon_s > 0
        else 0.0,
        "tapes_written": int(ok["tapes"].sum()),
        "tapes_per_year": int(plan["tapes_per_year"].sum()),
        "tapes_in_rotation": int(plan["tapes_in_rotation"].sum()),
    }


def _admission(world: World) -> dict[str, Any]:
    """The design against DPM's per-server limits (hvsim.scenario.guest.admission): how
    many DPM servers it needs, the limit that decides it, and the totals."""
    need = servers_needed(admission(world.scenario))
    return {
        "dpm_servers": need.dpm_servers,
        "dpm_servers_needed": need.dpm_servers_needed,
        "decided_by": need.decided_by,
        # Counts as integers (protected servers, databases, volumes, disk snapshots);
        # sizes in bytes.
        **{k: _r(v, 0) if k.endswith("_bytes") else int(v) for k, v in need.totals.items()},
    }


GUEST_JOB_KINDS = (
    "initial_replica",
    "log_sync",
    "express_full",
    "sync",
    "file_point",
    "catalog",
    "eseutil",
)


def _guest_kpis(res: Results, jobs: pd.DataFrame) -> dict[str, Any]:
    """Guest-level protection: data sources by kind, jobs by kind, bytes, recovery
    points, the RPO achieved per data source (median gap between its points) and the
    agent's CPU in the guests."""
    ds = res.data_sources
    days = res.horizon_days
    ran = jobs[jobs["outcome"] != "skipped"]
    ok = ran[ran["outcome"] == "succeeded"]
    kinds = ds["kind"]
    rpo = ds.loc[ds["recovery_points"] > 1, "rpo_s"].to_numpy(dtype=float)
    worst = ds["worst_gap_s"].to_numpy(dtype=float)
    return {
        "data_sources": int(len(ds)),
        "vms": int(ds["vm"].nunique()),
        "sql_databases": int((kinds == "sql").sum()),
        "exchange_databases": int((kinds == "exchange").sum()),
        "sharepoint_farms": int((kinds == "sharepoint").sum()),
        "file_volumes": int((kinds == "files").sum()),
        "jobs": int(len(ran)),
        "succeeded": int(len(ok)),
        "failed": int((ran["outcome"] == "failed").sum()),
        "skipped": int((jobs["outcome"] == "skipped").sum()),
        **{f"{k}_jobs": int((ran["kind"] == k).sum()) for k in GUEST_JOB_KINDS},
        "bytes": _r(ok.loc[ok["kind"] != "eseutil", "bytes"].sum(), 0),
        "eseutil_bytes_read": _r(ok.loc[ok["kind"] == "eseutil", "bytes"].sum(), 0),
        "recovery_points": int(len(res.guest_recovery_points)),
        # No guest data source with two points: not applicable (null), not 0 s.
        "rpo_p50_s": _r(np.median(rpo)) if rpo.size else None,
        "rpo_max_s": _r(rpo.max()) if rpo.size else None,
        "worst_gap_s": _r(worst.max()) if worst.size else None,
        # What the in-guest agent costs its VMs: CPU-seconds (a whole VM's CPU for a
        # second = 1) over the run, and per VM and day.
        "agent_cpu_s": _r(ds["agent_cpu_s"].sum()),
        "agent_cpu_s_per_vm_day": _r(ds["agent_cpu_s"].sum() / (ds["vm"].nunique() * days))
        if len(ds) and days > 0
        else None,
    }


def vm_best_rpo_s(res: Results) -> pd.Series:
    """Per protected VM, the finest recovery point interval its protection achieved:
    the shorter of its host-level interval (median gap between its VM's recovery
    points) and its guest-level one (the longest of its data sources' median gaps:
    every database of the VM has a point at least that often). VMs with fewer than
    two points at either level are left out."""
    rp = res.recovery_points.sort_values(["vm", "time_s"], kind="stable")
    gaps = rp.groupby("vm", sort=True)["time_s"].diff().dropna()
    host = gaps.groupby(rp.loc[gaps.index, "vm"]).median()
    ds = res.data_sources
    guest = ds[ds["recovery_points"] > 1].groupby("vm", sort=True)["rpo_s"].max()
    both = pd.concat([host, guest], axis=1).min(axis=1)
    return both.sort_index()


# The decision KPIs: the host-or-guest decision in the same terms for any run, host
# level, guest level or both (issue 14 §3); each one reads across both levels.
def _decision_kpis(res: Results, jobs: pd.DataFrame, kpis: dict[str, Any]) -> dict[str, Any]:
    """``best_rpo_s``: median over protected VMs of vm_best_rpo_s (null without any);
    ``jobs_per_day`` and ``bytes_per_day``: every backup job run (host-level express
    fulls, guest log syncs, express fulls, ...) and the bytes of those that succeeded
    (not eseutil's reads on the DPM server), per simulated day; ``nightly_jobs``:
    express fulls (host and guest) a day; ``nightly_makespan_p50_s``: per express
    full time, from its schedule to its last first attempt's end, the median;
    ``nightly_window_compliance``: share of express fulls that ended by their backup
    window's end (null without any); ``dpm_servers_needed`` (admission);
    ``pool_peak_bytes`` (storage); ``<kind>_rto_p95_s``: per restore kind, the RTO
    p95 (null when none of that kind succeeded)."""
    days = res.horizon_days if res.horizon_days > 0 else 1.0
    ran = jobs[jobs["outcome"] != "skipped"]
    ok = ran[(ran["outcome"] == "succeeded") & (ran["kind"] != "eseutil")]
    best = vm_best_rpo_s(res)
    fulls = ran[ran["kind"] == "express_full"]
    on_time = (fulls["outcome"] == "succeeded") & (fulls["end_s"] <= fulls["window_end_s"])
    per_kind = kpis["restores"]["per_kind"]
    return {
        "best_rpo_s": _r(float(best.median())) if len(best) else None,
        "jobs_per_day": _r(len(ran) / days),
        "bytes_per_day": _r(float(ok["bytes"].sum()) / days, 0),
        "nightly_jobs_per_day": _r(len(fulls) / days),
        "nightly_makespan_p50_s": _r(_nightly_makespans(fulls).median()) if len(fulls) else None,
        "nightly_window_compliance": _r(float(on_time.mean()), 4) if len(fulls) else None,
        "dpm_servers_needed": int(kpis["admission"]["dpm_servers_needed"]),
        "pool_peak_bytes": kpis["storage"]["pool_peak_bytes"],
        **{f"{kind}_rto_p95_s": v["rto_p95_s"] for kind, v in per_kind.items()},
    }


def _outside_window(res: Results) -> int:
    """Scheduled occurrences (VM, time) outside their group's backup window: their
    deadline is the group's next express full (ProtectionGroupPlan.deadline_for)."""
    occ = res.jobs.drop_duplicates(["vm", "scheduled_s"])
    if occ.empty:
        return 0
    group = occ["protection_group"]
    start = group.map({g: w[0] for g, w in res.windows_s.items()}).astype(float)
    length = group.map({g: (w[1] - w[0]) % DAY_S for g, w in res.windows_s.items()})
    return int((((occ["scheduled_s"] - start) % DAY_S) >= length.astype(float)).sum())


def _table(
    records: Sequence[NamedTuple], record_type: type[NamedTuple], start_date: dt.date
) -> pd.DataFrame:
    """Records to a table with a duration and calendar times for every *_s column."""
    df = pd.DataFrame.from_records(records, columns=list(record_type._fields))
    if "start_s" in df and "end_s" in df:
        df["duration_s"] = df["end_s"] - df["start_s"]
    times = {
        c: c[:-2]
        for c in df.columns
        if c.endswith("_s") and c != "duration_s" and c not in ("blackout_s",)
    }
    return _with_datetimes(df, start_date, times)


def _on_demand(records: list, start_date: dt.date) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=list(OnDemandRecord._fields))
    df = df.sort_values(["dpm_server", "number"], kind="stable").reset_index(drop=True)
    df["wait_s"] = df["start_s"] - df["arrival_s"]
    df["duration_s"] = df["end_s"] - df["start_s"]
    return _with_datetimes(
        df, start_date, {"arrival_s": "arrival", "start_s": "start", "end_s": "end"}
    )


def _restores(records: list, start_date: dt.date) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=list(RestoreRecord._fields))
    df = df.sort_values("restore_id", kind="stable").reset_index(drop=True)
    return _with_datetimes(
        df,
        start_date,
        {
            "requested_s": "requested",
            "start_s": "start",
            "end_s": "end",
            "recovery_point_s": "recovery_point",
        },
    )


# DPM's recovery report puts each recovery in one of three buckets of its duration:
# "less than 6 hours, between 6-24 hours, or greater than 24 hours"
# (source: dpm-recovery-reports). The duration here is the RTO (request to end): the
# recovery job exists from its request, so its time queued for a slot counts.
RTO_BUCKETS_S = (6 * 3600.0, 24 * 3600.0)


def _restore_kpis(restores: pd.DataFrame) -> dict[str, Any]:
    """Restores per kind (as requested) with their RTO p50/p95/max (null when a kind
    had none that succeeded), DPM's duration buckets, restores over their RTO target,
    the restored points' age (data lost), fallbacks and failures."""
    ok = restores[restores["outcome"] == "succeeded"]
    rto = ok["rto_s"].to_numpy(dtype=float)
    per_kind: dict[str, Any] = {}
    for kind in RESTORE_KINDS:
        rows = restores[restores["kind"] == kind]
        k_rto = rows.loc[rows["outcome"] == "succeeded", "rto_s"].to_numpy(dtype=float)
        per_kind[kind] = {
            "count": int(len(rows)),
            "rto_p50_s": _r(np.percentile(k_rto, 50)) if k_rto.size else None,
            "rto_p95_s": _r(np.percentile(k_rto, 95)) if k_rto.size else None,
            "rto_max_s": _r(k_rto.max()) if k_rto.size else None,
        }
    short, long = RTO_BUCKETS_S
    target = ok["rto_target_s"].to_numpy(dtype=float)
    age = ok["recovery_point_age_s"].to_numpy(dtype=float)
    return {
        "count": int(len(restores)),
        "succeeded": int(len(ok)),
        "failed": int((restores["outcome"] == "failed").sum()),
        "degraded": int((restores["fallback"] != "").sum()),
        "per_kind": per_kind,
        "under_6h": int((rto < short).sum()),
        "from_6h_to_24h": int(((rto >= short) & (rto <= long)).sum()),
        "over_24h": int((rto > long).sum()),
        # NaN targets (none given) compare False: only restores with a target count.
        "over_rto_target": int((rto > target).sum()),
        "recovery_point_age_p95_s": _r(np.percentile(age, 95)) if age.size else None,
        "bytes": _r(ok["bytes"].sum(), 0),
    }


def _slot_log(log: SlotLog) -> pd.DataFrame:
    """Columns time_s, slot, kind, in_use, queued (one row per change)."""
    idx = np.frombuffer(log.slot, dtype=np.int64)
    names = np.array(log.names, dtype=object)
    kinds = np.array(log.kinds, dtype=object)
    return pd.DataFrame(
        {
            "time_s": np.frombuffer(log.time_s, dtype=float).copy(),
            "slot": names[idx],
            "kind": kinds[idx],
            "in_use": np.frombuffer(log.in_use, dtype=np.int64).copy(),
            "queued": np.frombuffer(log.queued, dtype=np.int64).copy(),
        }
    )


def _utilisation(world: World, start_date: dt.date) -> pd.DataFrame:
    """Step series: from ``time_s`` on, ``resource`` carries ``load_bps`` (until its
    next row). One row per change of a resource's total rate."""
    res = list(world.flows.resources.values())
    flows = world.flows
    idx = np.frombuffer(flows.load_index, dtype=np.int64)
    df = pd.DataFrame(
        {
            "time_s": np.frombuffer(flows.load_time, dtype=float).copy(),
            "resource": pd.Categorical.from_codes(idx, categories=[r.name for r in res]),
            "kind": np.array([r.kind for r in res], dtype=object)[idx],
            "load_bps": np.frombuffer(flows.load_bps, dtype=float).copy(),
        }
    )
    caps = np.array([r.capacity_bps for r in res], dtype=float)
    df["capacity_bps"] = caps[idx]
    if flows.capacity_changes:
        df["capacity_bps"] = _capacity_then(df, idx, flows.capacity_changes)
    df["utilisation"] = df["load_bps"] / df["capacity_bps"]
    return _with_datetimes(df, start_date, {"time_s": "time"})


def _capacity_then(
    df: pd.DataFrame, idx: np.ndarray, changes: list[tuple[float, int, float, float]]
) -> np.ndarray:
    """Each utilisation row's capacity at its time, for resources whose capacity
    changed during the run (a throttled uplink): the latest change at or before the
    row, or the capacity before the first change."""
    caps = df["capacity_bps"].to_numpy(dtype=float).copy()
    times = df["time_s"].to_numpy(dtype=float)
    by_res: dict[int, list[tuple[float, float, float]]] = {}
    for t, i, before, after in changes:
        by_res.setdefault(i, []).append((t, before, after))
    for i, seq in by_res.items():
        rows = np.flatnonzero(idx == i)
        change_s = np.array([t for t, _, _ in seq], dtype=float)
        cap_after = np.array([a for _, _, a in seq], dtype=float)
        k = np.searchsorted(change_s, times[rows], side="right") - 1
        caps[rows] = np.where(k >= 0, cap_after[np.maximum(k, 0)], seq[0][1])
    return caps


def _degraded_io(world: World, redirected: pd.DataFrame) -> pd.DataFrame:
    """Per VM on a CSV: seconds its CSV spent redirected, and the share of its I/O
    demand that got through meanwhile (time-weighted over the CSV's intervals).
    Built per CSV and joined to VMs: linear in VMs plus intervals."""
    on_csv = [v for v in world.vms if isinstance(v.volume, CsvVolume)]
    rows = pd.DataFrame(
        {
            "vm": [v.name for v in on_csv],
            "csv": [v.volume.name for v in on_csv],
            "io_rate_bps": [v.io_rate_bps for v in on_csv],
        }
    )
    return degraded_io(rows, redirected)


def degraded_io(rows: pd.DataFrame, redirected: pd.DataFrame) -> pd.DataFrame:
    """_degraded_io for the VMs on CSVs given as ``rows`` (vm, csv, io_rate_bps)."""
    per_csv = (
        redirected.assign(
            got=redirected["achieved_bps"] * redirected["seconds"],
            want=redirected["demand_bps"] * redirected["seconds"],
        )
        .groupby("csv")[["seconds", "got", "want"]]
        .sum()
    )
    if rows.empty:
        return pd.DataFrame(columns=["vm", "csv", "io_rate_bps", "degraded_s", "throughput_ratio"])
    joined = rows.join(per_csv, on="csv")
    joined["degraded_s"] = joined["seconds"].fillna(0.0)
    joined["throughput_ratio"] = (joined["got"] / joined["want"].where(joined["want"] > 0)).fillna(
        1.0
    )
    return joined[["vm", "csv", "io_rate_bps", "degraded_s", "throughput_ratio"]]


def _redirected_kpis(res: Results) -> dict[str, Any]:
    red, deg = res.redirected_io, res.degraded_io
    want = float((red["demand_bps"] * red["seconds"]).sum())
    got = float((red["achieved_bps"] * red["seconds"]).sum())
    return {
        "intervals": int(len(red)),
        "total_s": _r(red["seconds"].sum()),
        "per_csv_s": {str(k): _r(v) for k, v in red.groupby("csv")["seconds"].sum().items()},
        "vms_degraded": int((deg["degraded_s"] > 0).sum()),
        "degraded_vm_minutes": _r(deg["degraded_s"].sum() / 60.0),
        "throughput_ratio": _r(got / want, 4) if want > 0 else 1.0,
    }


def _check_kpis(res: Results) -> dict[str, Any]:
    cc = res.consistency_checks
    done = cc[cc["outcome"] == "succeeded"]
    jobs = res.jobs[(res.jobs["outcome"] != "skipped") & (res.jobs["attempt"] == 1)]
    # Per night (the jobs due by one window end): from its first scheduled job to its
    # last job's end, and to the end of the last check started in [first job, window
    # end). By groups and sorted checks, not a filter of every table per night: with 48
    # express fulls a day for a year that loop took 14 s (minutes over ten years).
    nights = jobs.groupby("window_end_s", sort=False).agg(
        begin=("scheduled_s", "min"), end_jobs=("end_s", "max")
    )
    we = nights.index.to_numpy(dtype=float)
    begin = nights["begin"].to_numpy(dtype=float)
    end_jobs = nights["end_jobs"].to_numpy(dtype=float)
    ended = cc[cc["end_s"].notna()].sort_values("start_s", kind="stable")
    starts = ended["start_s"].to_numpy(dtype=float)
    ends = ended["end_s"].to_numpy(dtype=float)
    first = np.searchsorted(starts, begin, side="left")
    stop = np.searchsorted(starts, we, side="left")
    end_all = end_jobs.copy()
    for i in np.flatnonzero(stop > first):
        end_all[i] = max(end_jobs[i], float(ends[first[i] : stop[i]].max()))
    without = list(end_jobs - begin)
    with_checks = list(end_all - begin)
    return {
        "count": int(len(cc)),
        "succeeded": int(len(done)),
        "total_s": _r(cc["duration_s"].sum()),
        "bytes_read": _r(cc["bytes_read"].sum(), 0),
        "bytes_sent": _r(cc["bytes_sent"].sum(), 0),
        "window_makespan_max_with_checks_s": _r(max(with_checks)) if with_checks else 0.0,
        "window_makespan_max_without_checks_s": _r(max(without)) if without else 0.0,
    }


# kpis.json lists at most this many unprotected VMs by name (the count is complete;
# res.vms has every VM): a run of 100,000 unprotected VMs keeps a small kpis.json.
UNPROTECTED_NAMES_LISTED = 100


def unprotected_vm_mask(vms: pd.DataFrame, horizon_s: float) -> pd.Series:
    """The VMs unprotected in the run: in no protection group (a VM whose data
    sources are protected in its guest is protected), or onboarded at or after the
    horizon."""
    unguarded = vms["protection_group"] == ""
    if "guest_protection_group" in vms:
        unguarded &= vms["guest_protection_group"] == ""
    if "protection_start_s" in vms:
        unguarded |= vms["protection_start_s"] >= horizon_s
    return unguarded


def _coverage_kpis(vms: pd.DataFrame, horizon_s: float) -> dict[str, Any]:
    """VMs protected or not, and what the protected VMs' recovery points hold; with
    growth or onboarding, the VMs onboarded at or after the horizon (unprotected)."""
    unguarded = unprotected_vm_mask(vms, horizon_s)
    unprotected = sorted(vms.loc[unguarded, "vm"])
    consistency = vms["recovery_point_consistency"]
    listed = unprotected[:UNPROTECTED_NAMES_LISTED]
    late = {"onboarded_after_horizon": int((vms["protection_start_s"] >= horizon_s).sum())}
    return {
        "vms": int(len(vms)),
        "protected_vms": int(len(vms) - len(unprotected)),
        "unprotected_vms": len(unprotected),
        "unprotected_vm_names": listed,
        "unprotected_vm_names_listed": "all"
        if len(listed) == len(unprotected)
        else f"first {len(listed)} of {len(unprotected)}, sorted",
        "application_consistent_vms": int((consistency == "application").sum()),
        "file_consistent_vms": int((consistency == "file").sum()),
        "crash_consistent_vms": int((consistency == "crash").sum()),
        **late,
    }


def _migration_kpis(res: Results) -> dict[str, Any]:
    m = res.migrations
    breaks = res.protection_breaks
    # Unprotected time inside the simulated period: a break lasts until its repair,
    # which may fall after the horizon (4 breaks on the last day of a 1-day run read
    # 138 h); the rest of it is no part of what the run saw.
    horizon_s = res.horizon_days * 86400.0
    inside = (breaks["end_s"].clip(upper=horizon_s) - breaks["start_s"]).clip(lower=0.0)
    return {
        "live": int((m["kind"] == "live").sum()),
        "shared_nothing": int((m["kind"] == "shared_nothing").sum()),
        "storage": int((m["storage_bytes"] > 0).sum()),
        "protection_breaks": int(len(breaks)),
        "unprotected_s": _r(inside.sum()),
        "blackout_p95_s": _r(np.percentile(m["blackout_s"], 95)) if len(m) else 0.0,
        "duration_mean_s": _r(m["duration_s"].mean()) if len(m) else 0.0,
    }


def _rpo_kpis(res: Results) -> dict[str, Any]:
    """Gaps between consecutive recovery points actually created, per VM, and from the
    last one to the end of the run (a protected VM with none: the whole run is a gap)."""
    horizon = res.horizon_days * 86400.0
    in_group = res.vms["protection_group"] != ""
    since: dict[str, float] = {}
    if "protection_start_s" in res.vms:
        # Onboarded: protected from its start (not at all when that is at or after the
        # horizon), so a VM with no point has a gap from its start.
        in_group &= res.vms["protection_start_s"] < horizon
        since = dict(zip(res.vms["vm"], res.vms["protection_start_s"], strict=True))
    protected = res.vms.loc[in_group, ["vm", "protection_group"]]
    target_of = dict(
        zip(protected["vm"], protected["protection_group"].map(res.rpo_s), strict=True)
    )
    rp = res.recovery_points.loc[res.recovery_points["vm"].isin(target_of), ["vm", "time_s"]]
    rp = rp.sort_values(["vm", "time_s"], kind="stable")
    vm = rp["vm"].to_numpy()
    t = rp["time_s"].to_numpy(dtype=float)
    # Gaps between consecutive points of the same VM ...
    same = vm[1:] == vm[:-1]
    inner = np.diff(t)[same]
    inner_target = np.array([target_of[v] for v in vm[1:][same]], dtype=float)
    # ... and from each VM's last point (for a VM with none, its protection's start:
    # 0 unless onboarded later) to the end of the run.
    last = dict(zip(vm, t, strict=True))  # sorted: the last value per VM wins
    begin = {v: last.get(v, since.get(v, 0.0)) for v in target_of}
    tails = [(max(horizon, begin[v]) - begin[v], target_of[v]) for v in target_of]
    tail = np.array([g for g, _ in tails], dtype=float)
    tail_target = np.array([g for _, g in tails], dtype=float)
    violations = int((inner > inner_target).sum() + (tail > tail_target).sum())
    worst = float(max(inner.max(initial=0.0), tail.max(initial=0.0)))
    ok = res.jobs["outcome"] == "succeeded"
    occ = ok.groupby([res.jobs["vm"], res.jobs["scheduled_s"]]).any()
    return {
        "target_s": _r(min(res.rpo_s.values())) if res.rpo_s else 0.0,
        "violations": violations,
        # No VM protected at host level: no gap to measure (guest-level gaps are in
        # guest.worst_gap_s), null rather than a 0 that reads as perfect.
        "worst_gap_s": _r(worst) if target_of else None,
        "recovery_points": int(len(res.recovery_points)),
        "recovery_points_missed": int((~occ).sum()) if len(occ) else 0,
    }


def _scan_kpis(scans: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cluster, rows in scans.groupby("cluster", sort=True):
        initial = rows[rows["kind"] == "initial"].iloc[0]
        disc = rows.loc[rows["kind"] == "discovery", "duration_s"]
        out[str(cluster)] = {
            "duration_s": _r(initial["duration_s"]),
            "mode": initial["mode"],
            "vms_found": int(initial["vms_found"]),
            "vms_missed": int(initial["vms_missed"]),
            "discovery_scans": int(disc.size),
            "discovery_mean_s": _r(disc.mean()) if disc.size else 0.0,
        }
    return out


def _nightly_makespans(ran: pd.DataFrame) -> pd.Series:
    """Per scheduled time: from the schedule to the last job of that batch ending."""
    first = ran[ran["attempt"] == 1]
    if first.empty:
        return pd.Series([0.0])
    return (
        first.groupby("scheduled_s")["end_s"].max()
        - first.groupby("scheduled_s")["scheduled_s"].first()
    )


def _night_spans(ran: pd.DataFrame) -> pd.Series:
    """Per night (noon to noon, by scheduled time): from the night's first scheduled
    express full to its last job ending, whatever group or offset it belongs to: the
    longest night a planner sees, which staggering groups cannot shorten by splitting
    it into batches (as it does the per-schedule makespan)."""
    first = ran[ran["attempt"] == 1]
    if first.empty:
        return pd.Series([0.0])
    night = ((first["scheduled_s"] - DAY_S / 2) // DAY_S).rename("night")
    by = first.groupby(night)
    return by["end_s"].max() - by["scheduled_s"].min()


def kpis_json(kpis: dict[str, Any]) -> str:
    return json.dumps(kpis, indent=2, sort_keys=False) + "\n"


def flatten_kpis(kpis: dict[str, Any], prefix: str = "") -> dict[str, float | int]:
    """Nested kpis.json -> {'backups.window_compliance': 0.97, ...}: one row of a runs
    table. Text is skipped and so is the top-level seed (the table has its own seed
    column)."""
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
