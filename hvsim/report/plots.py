"""Plots of one run or a sweep, as matplotlib figures (Agg backend, no screen)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from hvsim.results import Results  # noqa: E402

KIND_COLOURS = {
    "initial_replica": "#1f77b4",
    "express_full": "#2ca02c",
    "consistency_check": "#d62728",
    "failed": "#7f7f7f",
}


def _night(res: Results, night: int | None) -> tuple[float, float, pd.DataFrame]:
    """The window (start, end) of one night and the jobs scheduled in it. Default:
    the second night if there is one (the first carries the initial replicas)."""
    jobs = res.jobs[res.jobs["outcome"] != "skipped"]
    ends = sorted(jobs["window_end_s"].unique())
    if not ends:
        return 0.0, 0.0, jobs
    idx = (1 if len(ends) > 1 else 0) if night is None else min(night, len(ends) - 1)
    we = ends[idx]
    part = jobs[jobs["window_end_s"] == we]
    return float(part["scheduled_s"].min()), float(we), part


def gantt(res: Results, night: int | None = None) -> Figure:
    """One night's jobs per host and DPM server, coloured by kind, window marked."""
    start, end, jobs = _night(res, night)
    checks = res.consistency_checks
    if len(checks):
        checks = checks[(checks["start_s"] >= start - 86400) & (checks["start_s"] < end)]
    lanes = sorted(set(jobs["host"]) | set(jobs["dpm_server"]) | set(checks.get("host", [])))
    fig, ax = plt.subplots(figsize=(11, 0.35 * len(lanes) + 1.8))
    y = {lane: i for i, lane in enumerate(lanes)}
    to_h = 1 / 3600.0
    for row in jobs.itertuples():
        colour = KIND_COLOURS["failed"] if row.outcome == "failed" else KIND_COLOURS[row.kind]
        for lane in (row.host, row.dpm_server):
            ax.barh(
                y[lane],
                (row.end_s - row.start_s) * to_h,
                left=row.start_s * to_h,
                height=0.6,
                color=colour,
                alpha=0.55,
                linewidth=0,
            )
    for row in checks.itertuples() if len(checks) else []:
        for lane in (row.host, row.dpm_server):
            ax.barh(
                y[lane],
                (row.end_s - row.start_s) * to_h,
                left=row.start_s * to_h,
                height=0.6,
                color=KIND_COLOURS["consistency_check"],
                alpha=0.7,
            )
    window_len = end - start if end > start else 0.0
    plan_start = end - window_len
    ax.axvspan(plan_start * to_h, end * to_h, color="#ffd54f", alpha=0.15, label="window")
    ax.axvline(end * to_h, color="#e65100", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(lanes)), lanes, fontsize=7)
    ax.set_xlabel("hours since start")
    ax.set_title(f"{res.scenario}: one night's jobs per host and DPM server")
    handles = [Patch(color=c, label=k.replace("_", " ")) for k, c in KIND_COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def downtime_bars(res: Results, top: int = 40) -> Figure:
    """Saved-state downtime per VM over the run, sorted."""
    per_vm = res.downtime.groupby("vm")["seconds"].sum().sort_values(ascending=False).head(top)
    fig, ax = plt.subplots(figsize=(11, 3.8))
    ax.bar(range(len(per_vm)), per_vm.to_numpy(), color="#c62828")
    ax.set_xticks(range(len(per_vm)), per_vm.index, rotation=90, fontsize=6)
    ax.set_ylabel("downtime over the run, s")
    ax.set_title("Saved-state downtime per VM" + (" (none)" if per_vm.empty else ""))
    fig.tight_layout()
    return fig


def downtime_distribution(res: Results) -> Figure:
    """Distribution of the downtime of single saved-state backups."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = res.downtime["seconds"].to_numpy(float)
    ax.hist(x, bins=min(40, max(5, x.size // 5)) if x.size else 5, color="#ef6c00")
    ax.set_xlabel("downtime per backup, s")
    ax.set_ylabel("backups")
    ax.set_title("Downtime per saved-state backup" + (" (none)" if x.size == 0 else ""))
    fig.tight_layout()
    return fig


def _span(res: Results, night: int | None) -> tuple[float, float]:
    """From an hour before a night's first job to an hour after its last one."""
    start, end, jobs = _night(res, night)
    last = float(jobs["end_s"].max()) if len(jobs) else end
    return start - 3600.0, max(last, start) + 3600.0


def utilisation(res: Results, top: int = 6, night: int | None = None) -> Figure:
    """Load over one night of the busiest links, volumes and pools (by bytes moved)."""
    busiest = res.resources.sort_values(["bytes", "resource"], ascending=[False, True])
    names = busiest["resource"].head(top).tolist()
    fig, ax = plt.subplots(figsize=(11, 3.8))
    lo, hi = _span(res, night)
    util = res.utilisation[(res.utilisation["time_s"] >= lo) & (res.utilisation["time_s"] <= hi)]
    for name in names:
        part = util[util["resource"] == name]
        if part.empty:
            continue
        ax.step(
            part["time_s"] / 3600.0,
            part["utilisation"] * 100,
            where="post",
            label=name,
            linewidth=0.9,
        )
    ax.set_xlabel("hours since start")
    ax.set_ylabel("utilisation, %")
    ax.set_ylim(0, 105)
    ax.set_title("Utilisation of the busiest resources")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def slot_queues(res: Results, top: int = 4, night: int | None = None) -> Figure:
    """Jobs waiting for slots over one night, for the slots with the longest queues."""
    lo, hi = _span(res, night)
    log = res.slot_queues[(res.slot_queues["time_s"] >= lo) & (res.slot_queues["time_s"] <= hi)]
    fig, ax = plt.subplots(figsize=(11, 3.5))
    if not log.empty:
        worst = log.groupby("slot")["queued"].max().sort_values(ascending=False).head(top)
        for slot in worst.index:
            part = log[log["slot"] == slot]
            kind = part["kind"].iloc[0]
            ax.step(
                part["time_s"] / 3600.0,
                part["queued"],
                where="post",
                label=f"{slot} ({kind})",
                linewidth=0.9,
            )
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel("hours since start")
    ax.set_ylabel("jobs queued")
    ax.set_title("Job-slot queue lengths")
    fig.tight_layout()
    return fig


def kpi_against_parameter(summary: pd.DataFrame, parameter: str, kpi: str) -> Figure:
    """A KPI's mean against a varied parameter, with its 95 % CI as a band (one
    line per value of any other varied parameter)."""
    part = summary[summary["kpi"] == kpi]
    others = [
        c
        for c in part.columns
        if c not in (parameter, "kpi", "n", "mean", "ci_low", "ci_high", "p50", "p95")
    ]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    groups = part.groupby(others, sort=False) if others else [((), part)]
    for key, g in groups:
        xs = list(range(len(g))) if g[parameter].dtype == object else g[parameter]
        label = ", ".join(f"{o}={v}" for o, v in zip(others, np.atleast_1d(key), strict=False))
        ax.plot(xs, g["mean"], marker="o", label=label or kpi)
        ax.fill_between(xs, g["ci_low"], g["ci_high"], alpha=0.2)
        if g[parameter].dtype == object:
            ax.set_xticks(xs, g[parameter].astype(str), fontsize=7)
    ax.set_xlabel(parameter)
    ax.set_ylabel(kpi)
    ax.set_title(f"{kpi} (mean, 95 % CI)")
    if others:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


RUN_PLOTS = {
    "Jobs of one night": gantt,
    "Saved-state downtime per VM": downtime_bars,
    "Downtime per backup": downtime_distribution,
    "Utilisation of the busiest resources": utilisation,
    "Job-slot queues": slot_queues,
}
