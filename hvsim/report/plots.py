"""Plots of a run, a sweep, replications and a comparison, as matplotlib figures.

Every function returns a ``matplotlib.figure.Figure`` made without pyplot, so no
global figure list grows in a long sweep and no display is needed (PNG through
the Agg canvas); in Jupyter, a figure as a cell's last value is shown inline.
Times on the axes are calendar times from the scenario's start date.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from hvsim.results import Results

DAY_S = 86400.0
KIND_COLOURS = {
    "initial_replica": "#4c72b0",
    "express_full": "#55a868",
    "consistency_check": "#dd8452",
}
OTHER_COLOURS = ("#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")
WINDOW_COLOUR = "#f2d16b"
FAILED_EDGE = "#c44e52"
GANTT_BARS = "gantt-bars"  # gid of the job-bar collections, one per (kind, failed)
SLOT_KIND_ORDER = ("dpm", "host", "csv-group")
SLOT_KIND_TITLES = {
    "dpm": "DPM server job slots",
    "host": "per-host slots (MaxAllowedParallelBackups)",
    "csv-group": "per-CSV serialization (DataSourceGroups)",
    "live-migration": "live migrations per host",
    "storage-migration": "storage migrations per host",
    "csv-scan": "per-CSV enumeration in serialized protection scans",
    "exchange-group": "Exchange: one backup at a time per protection group",
    "online": "online (Azure) job slots per DPM server",
    "tape-group": "tape drives allocated per protection group (DrivesAllocated)",
    "tape-library": "tape library drives",
}
RESOURCE_KIND_TITLES = {
    "network": "busiest network links",
    "storage": "busiest CSVs and volumes",
    "pool": "DPM storage pools",
}


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _empty(title: str, message: str) -> Figure:
    """A figure that says why there is nothing to draw (no saved-state backups...)."""
    fig = _figure(8, 2.2)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def _days(res: Results, seconds: Any) -> Any:
    """Seconds from the start -> matplotlib date numbers (days)."""
    return mdates.date2num(pd.Timestamp(res.start_date)) + np.asarray(seconds, float) / DAY_S


def _clock_axis(ax: Any, span_days: float) -> None:
    """Round clock times as ticks: every 1 to 12 hours within a few days, else days."""
    hours = span_days * 24
    if hours <= 96:
        step = next((h for h in (1, 2, 3, 4, 6, 12) if hours / h <= 10), 12)
        ax.xaxis.set_major_locator(mdates.HourLocator(byhour=range(0, 24, step)))
        fmt = "%H:%M" if hours <= 30 else "%a %H:%M"
    else:
        ax.xaxis.set_major_locator(mdates.AutoDateLocator())
        fmt = "%d %b"
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt))


def _binned(t: np.ndarray, y: np.ndarray, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
    """A step function (``y[i]`` from ``t[i]`` to ``t[i + 1]``, ``t`` from 0 to the
    end) as its mean per ``bin_s``, again as a step function (the last value
    repeated at the end)."""
    end = float(t[-1])
    edges = np.append(np.arange(0.0, end, bin_s), end)
    area = np.concatenate([[0.0], np.cumsum(y[:-1] * np.diff(t))])
    i = np.clip(np.searchsorted(t, edges, side="right") - 1, 0, len(t) - 1)
    at = area[i] + y[i] * (edges - t[i])
    means = np.diff(at) / np.diff(edges)
    return edges, np.append(means, means[-1])


def _bin_words(bin_s: float) -> str:
    return "mean per hour" if bin_s == 3600 else f"mean per {format_bin(bin_s)}"


def format_bin(bin_s: float) -> str:
    return f"{bin_s / 3600:g} h" if bin_s >= 3600 else f"{bin_s / 60:g} min"


def _kind_colour(kind: str, others: dict[str, str]) -> str:
    if kind in KIND_COLOURS:
        return KIND_COLOURS[kind]
    return others.setdefault(kind, OTHER_COLOURS[len(others) % len(OTHER_COLOURS)])


# --- one night's jobs -------------------------------------------------------------


def host_jobs(res: Results) -> pd.DataFrame:
    """The host-level (Hyper-V) job attempts of a run, those of backup nights: a
    guest-level job's window_end_s is its deadline (the next sync), not a night's."""
    jobs = res.jobs
    return jobs[jobs["workload"] == "hyperv"] if "workload" in jobs else jobs


def guest_only(res: Results) -> bool:
    """A run whose jobs are all guest-level (no host-level backup to draw)."""
    jobs = res.jobs[res.jobs["outcome"] != "skipped"]
    return bool(len(jobs)) and host_jobs(res).empty


def nights(res: Results) -> list[float]:
    """The distinct days (as seconds, midnight) on which a backup window of
    host-level jobs closes, in order: night 0 is the first."""
    jobs = host_jobs(res)
    jobs = jobs[jobs["outcome"] != "skipped"]
    return sorted({float(d) * DAY_S for d in (jobs["window_end_s"] // DAY_S).unique()})


def _window_lengths(scenario: Any) -> dict[str, float]:
    """Backup window length per protection group, from the scenario."""
    out = {}
    for pg in getattr(scenario, "protection_groups", []) or []:
        start, end = pg.backup_window.start, pg.backup_window.end
        out[pg.name] = (end - start) % DAY_S  # start == end is refused by the schema
    return out


def _group_lanes(
    group: np.ndarray, starts: np.ndarray, ends: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy interval partitioning of each group's jobs (``group``: each job's group,
    0..n_groups - 1), so jobs that overlap in time never overlap on the chart: (each
    job's lane, each group's lane count). Each group takes its jobs in order of start
    (ties: in row order) and puts each on its first lane free at the job's start,
    else on a new lane. The k-th job of every group is placed in one step, so the
    steps are the most jobs of a group, not the jobs."""
    lane = np.zeros(len(starts), dtype=int)
    n_lanes = np.zeros(n_groups, dtype=int)
    if not len(starts):
        return lane, n_lanes
    order = np.lexsort((starts, group))  # stable: ties in row order
    g_sorted = group[order]
    first = np.searchsorted(g_sorted, np.arange(n_groups))
    sizes = np.bincount(g_sorted, minlength=n_groups)
    rank = np.arange(len(order)) - first[g_sorted]
    by_rank = np.argsort(rank, kind="stable")  # step k: the k-th job of each group
    bounds = np.searchsorted(rank[by_rank], np.arange(int(sizes.max()) + 1))
    # A lane not used yet is free from -inf: the first free lane of a job is its
    # group's first lane that is free, else the next new one.
    free_at = np.full((n_groups, 1), -np.inf)
    for k in range(int(sizes.max())):
        jobs = order[by_rank[bounds[k] : bounds[k + 1]]]
        groups = group[jobs]
        if int(n_lanes[groups].max()) >= free_at.shape[1]:
            free_at = np.hstack([free_at, np.full((n_groups, free_at.shape[1]), -np.inf)])
        chosen = np.argmax(free_at[groups] <= starts[jobs][:, None], axis=1)
        lane[jobs] = chosen
        free_at[groups, chosen] = ends[jobs]
        n_lanes[groups] = np.maximum(n_lanes[groups], chosen + 1)
    return lane, n_lanes


@dataclass
class Night:
    """One night of backups: its job attempts, backup windows (start, end) and the
    span to draw (windows and jobs), in seconds from the start of the run."""

    index: int
    jobs: pd.DataFrame
    windows: list[tuple[float, float]]
    begin: float
    end: float
    lo: float
    hi: float

    @classmethod
    def of(cls, res: Results, night: int | str = "worst", scenario: Any = None) -> Night:
        """``night``: 'worst' (longest from schedule to the last first attempt ending),
        'last', or an index (0 = first). With ``scenario`` the windows start at the
        protection groups' window start, otherwise at the first scheduled job."""
        jobs = host_jobs(res)
        jobs = jobs[jobs["outcome"] != "skipped"].copy()
        if jobs.empty:
            raise ValueError("no host-level backup jobs in this run")
        days = nights(res)
        jobs["night_day"] = (jobs["window_end_s"] // DAY_S) * DAY_S
        if night == "worst":
            first = jobs[jobs["attempt"] == 1] if (jobs["attempt"] == 1).any() else jobs
            by = first.groupby("night_day")
            span = by["end_s"].max() - by["scheduled_s"].min()
            index = days.index(float(span.idxmax()))
        elif night == "last":
            index = len(days) - 1
        elif isinstance(night, int) and -len(days) <= night < len(days):
            index = night % len(days)
        else:
            raise ValueError(
                f"night must be 'worst', 'last' or 0..{len(days) - 1} (given {night!r})"
            )
        jobs = jobs[jobs["night_day"] == days[index]]
        lengths = _window_lengths(scenario)
        windows = set()
        for (group, we), rows in jobs.groupby(["protection_group", "window_end_s"]):
            start = we - lengths[group] if group in lengths else float(rows["scheduled_s"].min())
            if float(rows["scheduled_s"].min()) < start:
                # Scheduled outside the window: window_end_s is the deadline (the group's
                # next express full, ProtectionGroupPlan.deadline_for), not a window.
                continue
            windows.add((float(start), float(we)))
        begin, end = float(jobs["scheduled_s"].min()), float(jobs["end_s"].max())
        lo = min([begin] + [w[0] for w in windows])
        hi = max([end] + [w[1] for w in windows])
        margin = 0.03 * (hi - lo)
        return cls(index, jobs, sorted(windows), begin, end, lo - margin, hi + margin)

    def title(self, res: Results) -> str:
        day = pd.Timestamp(res.start_date) + pd.Timedelta(seconds=nights(res)[self.index])
        return f"night {self.index} (window closing {day:%a %d %b %Y})"


def _bar_verts(x0: np.ndarray, x1: np.ndarray, y: np.ndarray, height: float = 0.8) -> np.ndarray:
    """Rectangles from x0 to x1 centred on y, as an (n, 4, 2) array of corners: one
    PolyCollection draws thousands of job bars in the time barh takes for a few
    hundred (one Rectangle artist each)."""
    lo, hi = y - height / 2, y + height / 2
    return np.stack([np.column_stack(c) for c in ((x0, lo), (x0, hi), (x1, hi), (x1, lo))], axis=1)


def gantt(res: Results, night: int | str = "worst", scenario: Any = None) -> Figure:
    """One night's job attempts per host (top) and per DPM server (bottom), coloured by
    kind, failed attempts outlined in red, the backup window shaded and its end
    marked. ``night``: 'worst' (longest from schedule to last job, the default),
    'last', or an index (0 = first night). With ``scenario`` the window starts at
    the protection groups' window start, otherwise at the first scheduled job."""
    title = "Backup night: jobs per host and DPM server"
    if guest_only(res):
        return _empty(title, "no host-level backup jobs in this run (guest level only)")
    if res.jobs.empty or (res.jobs["outcome"] == "skipped").all():
        return _empty(title, "no backup jobs in this run")
    night_ = Night.of(res, night, scenario)
    jobs, windows, lo, hi = night_.jobs, night_.windows, night_.lo, night_.hi
    checks = res.consistency_checks
    checks = checks[(checks["end_s"] > night_.begin) & (checks["start_s"] < night_.end)]
    bars = pd.concat(
        [
            jobs[["kind", "host", "dpm_server", "start_s", "end_s", "outcome"]],
            pd.DataFrame(
                {
                    "kind": "consistency_check",
                    "host": checks["host"],
                    "dpm_server": checks["dpm_server"],
                    "start_s": checks["start_s"],
                    "end_s": checks["end_s"],
                    "outcome": checks["outcome"],
                }
            ),
        ],
        ignore_index=True,
    )

    panels = [("host", "hosts"), ("dpm_server", "DPM servers")]
    starts, ends = bars["start_s"].to_numpy(float), bars["end_s"].to_numpy(float)
    failed = (bars["outcome"] == "failed").to_numpy()
    kind = bars["kind"].to_numpy(object)
    layout = []  # per panel: row of each bar, (names, first rows, rows) of hosts/servers
    for column, _ in panels:
        row = np.full(len(bars), np.nan)  # NaN: not on this panel (no host, say)
        codes, names = pd.factorize(bars[column], sort=True)  # -1: no name
        on = codes >= 0
        lane, n_lanes = _group_lanes(codes[on], starts[on], ends[on], len(names))
        y0 = np.concatenate([[0], np.cumsum(n_lanes)])
        row[on] = y0[codes[on]] + lane
        layout.append((row, (names.astype(str), y0[:-1], n_lanes), int(y0[-1])))
    heights = [max(2, n_rows) for _, _, n_rows in layout]
    fig_height = min(16.0, 2.0 + 0.22 * sum(heights))
    fig = _figure(11, fig_height)
    axes = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": heights})
    others: dict[str, str] = {}
    # One collection per (kind, failed) and panel: a few artists for any number of jobs.
    pairs = pd.DataFrame({"kind": bars["kind"].astype(str), "failed": failed}).drop_duplicates()
    styles = sorted(zip(pairs["kind"], pairs["failed"].astype(bool), strict=True))
    x0, x1 = _days(res, starts), _days(res, ends)
    for ax, (_, label), (row, rows_of, n_rows) in zip(axes, panels, layout, strict=True):
        for k, f in styles:
            sel = (kind == k) & (failed == f) & ~np.isnan(row)
            ax.add_collection(
                PolyCollection(
                    # matplotlib's stubs name a sequence of (n, 2) arrays; set_verts
                    # takes an (m, n, 2) array too (its fast path, no copy per bar).
                    _bar_verts(x0[sel], x1[sel], row[sel]),  # type: ignore[arg-type]
                    facecolors=_kind_colour(k, others),
                    edgecolors=FAILED_EDGE if f else "none",
                    linewidths=1.2 if f else 0,
                    hatch="//" if f else None,
                    zorder=2,
                    gid=GANTT_BARS,
                ),
                autolim=False,  # the limits are set below
            )
        names, firsts, counts = rows_of
        # A thin rule under each host's (server's) lanes.
        ax.hlines(
            list(firsts + counts - 0.5),
            0,
            1,
            transform=ax.get_yaxis_transform(),
            colors="#dddddd",
            linewidth=0.6,
        )
        for ws, we in sorted(windows):
            ax.axvspan(
                _days(res, ws), _days(res, we), color=WINDOW_COLOUR, alpha=0.3, lw=0, zorder=0
            )
            ax.axvline(_days(res, we), color="#b8860b", linestyle="--", linewidth=1)
        # Names that fit the panel (about 12 points a line), every k-th beyond that.
        panel_in = (fig_height - 1.5) * max(2, n_rows) / sum(heights)
        step = math.ceil(len(names) / max(1, int(panel_in * 72 / 12)))
        ticks = firsts[::step] + (counts[::step] - 1) / 2
        ax.set_yticks(list(ticks), list(names[::step]))
        ax.set_ylim(n_rows - 0.5, -0.5)
        ax.set_ylabel(label if step == 1 else f"{label} (1 in {step} named)")
    axes[-1].set_xlim(_days(res, lo), _days(res, hi))
    _clock_axis(axes[-1], (hi - lo) / DAY_S)
    kinds = sorted(bars["kind"].unique(), key=lambda k: (k not in KIND_COLOURS, k))
    handles = [Patch(color=_kind_colour(k, others), label=k.replace("_", " ")) for k in kinds]
    if (bars["outcome"] == "failed").any():
        handles.append(
            Patch(facecolor="white", edgecolor=FAILED_EDGE, hatch="//", label="failed attempt")
        )
    handles.append(Patch(color=WINDOW_COLOUR, alpha=0.4, label="backup window"))
    axes[0].legend(handles=handles, loc="upper right", fontsize=8, ncols=len(handles))
    axes[0].set_title(f"{title}, {night_.title(res)}, {len(jobs)} attempts")
    return fig


# --- saved-state downtime ---------------------------------------------------------


# VM names that fit under the downtime bars (a 7-inch axis, 7-point names rotated).
DOWNTIME_NAMES = 50


def downtime(res: Results) -> Figure:
    """Saved-state downtime: total per VM over the run (sorted bars) and the
    distribution of the downtime of each saved-state backup (histogram)."""
    title = "Saved-state downtime"
    d = res.downtime
    if d.empty:
        return _empty(title, "no saved-state backups: every backed-up VM stayed online")
    per_vm = d.groupby("vm")["seconds"].sum().sort_values(ascending=False, kind="stable")
    fig = _figure(12, 5.0)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    x = np.arange(len(per_vm))
    ax1.bar(x, per_vm.to_numpy(), color="#c44e52")
    # Names that fit under the bars (about 10 points each, rotated), every k-th beyond.
    step = math.ceil(len(per_vm) / DOWNTIME_NAMES)
    ax1.set_xticks(x[::step], per_vm.index[::step], rotation=90, fontsize=7)
    ax1.set_xlim(-0.6, len(per_vm) - 0.4)
    named = "" if step == 1 else f" (1 in {step} named)"
    ax1.set_xlabel(f"{len(per_vm)} VMs, most downtime first{named}", fontsize=8)
    ax1.set_ylabel("seconds")
    ax1.set_title(f"{title} per VM, total over {res.horizon_days:g} days")
    seconds = d["seconds"].to_numpy(float)
    bins = max(5, min(40, int(math.sqrt(len(seconds))) + 1))
    ax2.hist(seconds, bins=bins, color="#c44e52", alpha=0.85)
    ax2.axvline(float(np.percentile(seconds, 95)), color="#333333", linestyle="--", lw=1)
    ax2.set_xlabel("seconds per saved-state backup (dashed: p95)")
    ax2.set_ylabel("backups")
    ax2.set_title(f"Distribution, {len(seconds)} saved-state backups")
    return fig


# --- utilisation ------------------------------------------------------------------


def busiest(res: Results, kind: str, top: int) -> list[str]:
    """The ``top`` resources of a kind by bytes moved (then name), those that moved any."""
    r = res.resources
    r = r[(r["kind"] == kind) & (r["bytes"] > 0)]
    return list(r.sort_values(["bytes", "resource"], ascending=[False, True])["resource"][:top])


def _span(
    res: Results,
    night: int | str | None,
    scenario: Any,
    start_s: float | None,
    end_s: float | None,
    span: str | None = None,
) -> tuple[float, float, str]:
    """Seconds to draw: the whole run, one night (as in the Gantt), or given bounds
    (called ``span``, default 'selected time')."""
    lo, hi, label = 0.0, res.horizon_days * DAY_S, f"{res.horizon_days:g} days"
    if night is not None and (host_jobs(res)["outcome"] != "skipped").any():
        n = Night.of(res, night, scenario)
        lo, hi, label = n.lo, n.hi, n.title(res)
    if start_s is not None or end_s is not None:
        lo = lo if start_s is None else float(start_s)
        hi = hi if end_s is None else float(end_s)
        label = span or "selected time"
    return lo, hi, label


def utilisation(
    res: Results,
    top: int = 4,
    night: int | str | None = None,
    scenario: Any = None,
    start_s: float | None = None,
    end_s: float | None = None,
    span: str | None = None,
    bin_s: float | None = None,
) -> Figure:
    """Utilisation (load / capacity) over time of the ``top`` busiest links and
    CSVs/volumes and of every DPM pool that moved bytes, as step lines: over the
    whole run, one ``night`` ('worst', 'last' or an index, as in ``gantt``), or
    between ``start_s`` and ``end_s`` (seconds from the start; ``span`` names them);
    with ``bin_s`` the mean per bin of that many seconds (a run of 15-min syncs drawn
    over weeks is otherwise a solid block of its peaks)."""
    title = "Utilisation"
    u = res.utilisation
    if u.empty:
        return _empty(title, "no transfers in this run")
    end_run = res.horizon_days * DAY_S
    lo, hi, span = _span(res, night, scenario, start_s, end_s, span)
    kinds = [k for k in RESOURCE_KIND_TITLES if k in set(res.resources["kind"])]
    fig = _figure(11, 2.4 * len(kinds) + 0.6)
    axes = np.atleast_1d(fig.subplots(len(kinds), 1, sharex=True, squeeze=False)[:, 0])
    # Rows of each resource drawn, not of every resource.
    rows_of = {str(k): v for k, v in u.groupby("resource", observed=True).indices.items()}
    for ax, kind in zip(axes, kinds, strict=True):
        names = busiest(res, kind, top) if kind != "pool" else busiest(res, kind, 1000)
        for name in names:
            if name not in rows_of:
                continue
            g = u.iloc[rows_of[name]]
            t = np.concatenate([[0.0], g["time_s"].to_numpy(float), [end_run]])
            y = np.concatenate([[0.0], g["utilisation"].to_numpy(float), [0.0]]) * 100
            y[-1] = y[-2]
            if bin_s:
                t, y = _binned(t, y, bin_s)
            ax.step(_days(res, t), y, where="post", linewidth=1, label=name)
        if not names:
            ax.text(0.5, 0.5, "idle", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.legend(loc="upper right", fontsize=7, ncols=min(2, len(names)))
        ax.set_ylim(0, 105)
        ax.set_ylabel("% of capacity")
        ax.set_title(RESOURCE_KIND_TITLES[kind], fontsize=10, loc="left")
    axes[-1].set_xlim(_days(res, lo), _days(res, hi))
    _clock_axis(axes[-1], (hi - lo) / DAY_S)
    mean = f", {_bin_words(bin_s)}" if bin_s else ""
    fig.suptitle(f"{title} of the busiest resources, {span}{mean}")
    return fig


# --- job slots --------------------------------------------------------------------


def slot_queues(
    res: Results,
    top: int = 8,
    night: int | str | None = None,
    scenario: Any = None,
    start_s: float | None = None,
    end_s: float | None = None,
    span: str | None = None,
    bin_s: float | None = None,
) -> Figure:
    """Jobs waiting for a slot over time, one panel per kind of slot (DPM server,
    host, CSV group, migrations), the ``top`` longest queues of each kind; over the
    whole run, one ``night`` or between ``start_s`` and ``end_s`` (``span`` names them);
    with ``bin_s`` the mean per bin."""
    title = "Job-slot queue lengths"
    q = res.slot_queues
    if q.empty:
        return _empty(title, "no job slots used in this run")
    present = list(q["kind"].unique())  # in order of appearance
    ordered = [k for k in SLOT_KIND_ORDER if k in present] + sorted(
        k for k in present if k not in SLOT_KIND_ORDER
    )
    end_run = res.horizon_days * DAY_S
    lo, hi, span = _span(res, night, scenario, start_s, end_s, span)
    # A kind of slot nobody waited for in the span is no panel but a line under the
    # plot (a queue's level holds from its row's time until the next row).
    until = q.groupby(["kind", "slot"], sort=False)["time_s"].shift(-1).fillna(end_run)
    waited = set(q.loc[(q["queued"] > 0) & (q["time_s"] < hi) & (until > lo), "kind"].unique())
    kinds = [k for k in ordered if k in waited]
    idle = [str(SLOT_KIND_TITLES.get(k, k)) for k in ordered if k not in waited]
    if not kinds:
        return _empty(title, f"no job waited for a slot, {span}")
    fig = _figure(11, 2.2 * len(kinds) + 0.6)
    axes = fig.subplots(len(kinds), 1, sharex=True, squeeze=False)[:, 0]
    for ax, kind in zip(axes, kinds, strict=True):
        rows = q[q["kind"] == kind]
        peaks = rows.groupby("slot")["queued"].max()
        slots = sorted(peaks.index, key=lambda s: (-peaks[s], s))[:top]
        for slot in sorted(slots):
            g = rows[rows["slot"] == slot]
            t = np.concatenate([[0.0], g["time_s"].to_numpy(float), [end_run]])
            y = np.concatenate([[0], g["queued"].to_numpy(float), [0]])
            y[-1] = y[-2]
            if bin_s:
                t, y = _binned(t, y, bin_s)
            ax.step(_days(res, t), y, where="post", linewidth=1, label=str(slot))
        ax.legend(loc="upper right", fontsize=7, ncols=min(4, len(slots)))
        ax.set_ylabel("waiting")
        ax.set_ylim(bottom=0)
        ax.set_title(SLOT_KIND_TITLES.get(kind, kind), fontsize=10, loc="left")
    axes[-1].set_xlim(_days(res, lo), _days(res, hi))
    _clock_axis(axes[-1], (hi - lo) / DAY_S)
    mean = f", {_bin_words(bin_s)}" if bin_s else ""
    fig.suptitle(f"{title}, {span}{mean}")
    if idle:
        fig.supxlabel("No job waited for: " + "; ".join(idle), fontsize=8, x=0.01, ha="left")
    return fig


RUN_PLOTS = {
    "gantt": gantt,
    "downtime": downtime,
    "utilisation": utilisation,
    "slot_queues": slot_queues,
}


# --- many runs --------------------------------------------------------------------


def _grid(n: int, ncols: int, cell: tuple[float, float]) -> tuple[Figure, list[Any]]:
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = _figure(cell[0] * ncols, cell[1] * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, list(axes[:n])


def kpi_unit(kpi: str, values: Any) -> tuple[float, str]:
    """(divisor, unit) to show a KPI's values readably: hours or minutes for long
    durations, TB/GB/MB for bytes, % for shares."""
    x = np.asarray(values, dtype=float)
    top = float(np.nanmax(np.abs(x))) if x.size and np.isfinite(x).any() else 0.0
    leaf = kpi.rsplit(".", 1)[-1]
    if leaf.endswith("_s"):
        return (3600.0, "h") if top >= 7200 else (60.0, "min") if top >= 120 else (1.0, "s")
    if "bytes" in leaf:
        for f, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB")):
            if top >= f:
                return f, unit
        return 1.0, "B"
    if leaf in ("window_compliance", "throughput_ratio") or kpi.startswith("bottleneck."):
        return 0.01, "%"
    return 1.0, ""


def _short(kpi: str) -> str:
    return kpi if len(kpi) <= 38 else "..." + kpi[-35:]


def kpi_title(kpi: str, width: int = 40) -> str:
    """A panel's title: the KPI's words (hvsim.report.names), wrapped, and the dotted
    name under them (the name alone when it has no words)."""
    import textwrap

    from hvsim.report.names import kpi_label

    label = kpi_label(kpi)
    if label == kpi:
        return _short(kpi)
    return "\n".join([*textwrap.wrap(label, width), _short(kpi)])


MEETS_COLOUR = "#2ca02c"


def _from_zero(ax: Any, kpi: str, values: Any, unit: str) -> None:
    """A KPI that is never negative drawn from 0 (a trivial difference is not
    magnified); a share up to 100 % at least."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size and x.min() >= 0:
        top = float(x.max())
        if unit == "%":
            ax.set_ylim(0, max(105.0, top * 1.05))
        else:
            ax.set_ylim(0, top * 1.08 if top > 0 else 1)


def sweep_figure(
    sweep: Any,
    kpis: Sequence[str] | None = None,
    x: str | None = None,
    confidence: float | None = None,
    ncols: int = 3,
    meets: pd.DataFrame | None = None,
) -> Figure:
    """Each KPI against the varied parameter ``x`` (default the first --vary): the
    mean over replications with its confidence band, one line per combination of
    the other varied values, from 0 for a KPI that is never negative. ``sweep`` is a
    ``hvsim.sweep.SweepResult``; ``kpis`` defaults to those that vary across the
    sweep, headline KPIs first. ``meets`` (hvsim.report.text.meets_targets): the
    combinations that meet the targets are ringed in green."""
    from hvsim.report.text import headline
    from hvsim.stats import CONFIDENCE, summarize, varying

    confidence = confidence or CONFIDENCE
    params = list(sweep.params)
    if not params:
        raise ValueError("the sweep varies nothing; use replications_figure")
    if sweep.table.empty:
        return _empty("Sweep", "no run finished")
    x = x or params[0]
    if kpis is None:
        moving = varying(sweep.table, sweep.kpis)
        heads = [k for k in headline(sweep.kpis) if k in moving]
        kpis = heads + [k for k in moving if k not in heads]
    kpis = list(kpis)
    if not kpis:
        return _empty("Sweep", "no KPI changes across the sweep")
    hue = [p for p in params if p != x]
    summary = summarize(sweep.table, params, kpis, confidence)
    order = list(dict.fromkeys(sweep.table[x]))
    numeric = pd.api.types.is_numeric_dtype(sweep.table[x])
    good: set[tuple[str, ...]] = set()
    if meets is not None:
        good = {tuple(str(r[p]) for p in params) for r in meets.to_dict("records") if r["meets"]}
    fig, axes = _grid(len(kpis), ncols, (4.2, 3.3))
    for i, (ax, kpi) in enumerate(zip(axes, kpis, strict=True)):
        rows = summary[summary["kpi"] == kpi]
        div, unit = kpi_unit(kpi, rows[["mean", "ci_low", "ci_high"]].to_numpy())
        if good:
            ok = np.array([tuple(str(r[p]) for p in params) in good for _, r in rows.iterrows()])
            xs_all = rows[x].to_numpy(float) if numeric else rows[x].map(order.index).to_numpy()
            ax.scatter(
                xs_all[ok],
                rows["mean"].to_numpy(float)[ok] / div,
                s=110,
                facecolors="none",
                edgecolors=MEETS_COLOUR,
                linewidths=1.8,
                zorder=3,
                label="meets the targets" if i == 0 else None,
            )
        lines = rows.groupby(hue, sort=False) if hue else [((), rows)]
        for key, part in lines:
            part = part.set_index(x).loc[order].reset_index()
            xs = part[x].to_numpy(float) if numeric else np.arange(len(order))
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{h}={v}" for h, v in zip(hue, key, strict=True)) or None
            (line,) = ax.plot(xs, part["mean"] / div, marker="o", label=label)
            low = part["ci_low"].fillna(part["mean"]) / div
            high = part["ci_high"].fillna(part["mean"]) / div
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, lw=0)
        if not numeric:
            ax.set_xticks(np.arange(len(order)), [str(v) for v in order])
        ax.set_title(kpi_title(kpi), fontsize=8.5)
        ax.set_xlabel(x, fontsize=8)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=8)
        _from_zero(ax, kpi, rows[["mean", "ci_low", "ci_high"]].to_numpy(float) / div, unit)
        if (hue or good) and i == 0:
            ax.legend(fontsize=7)
    n = int(summary["n"].max())
    fig.suptitle(f"KPIs against {x}: mean of {n} replication(s), {confidence:.0%} CI band")
    return fig


def replications_figure(
    table: pd.DataFrame,
    kpis: Sequence[str],
    confidence: float | None = None,
    ncols: int = 3,
) -> Figure:
    """Each KPI's value per seed (dots), its mean (line) and confidence interval
    (band) across replications."""
    from hvsim.stats import CONFIDENCE, mean_ci

    confidence = confidence or CONFIDENCE
    kpis = list(kpis)
    if table.empty or not kpis:
        return _empty("Replications", "nothing to show")
    fig, axes = _grid(len(kpis), ncols, (4.2, 3.0))
    for ax, kpi in zip(axes, kpis, strict=True):
        ci = mean_ci(table[kpi], confidence)
        div, unit = kpi_unit(kpi, table[kpi])
        ax.plot(table["seed"], table[kpi] / div, "o", color="#4c72b0", ms=4)
        ax.axhline(ci.mean / div, color="#333333", lw=1)
        if ci.n > 1:
            ax.axhspan(ci.low / div, ci.high / div, color="#4c72b0", alpha=0.2, lw=0)
        ax.set_title(kpi_title(kpi), fontsize=8.5)
        values = np.append(table[kpi].to_numpy(float), [ci.low, ci.high])
        _from_zero(ax, kpi, values / div, unit)
        ax.set_ylabel(unit, fontsize=8)
        ax.set_xlabel("seed", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
    fig.suptitle(f"{len(table)} replications: values per seed, mean, {confidence:.0%} CI")
    return fig


def comparison_figure(comparison: Any, kpis: Sequence[str] | None = None, ncols: int = 3) -> Figure:
    """A and B side by side for each KPI: means with confidence intervals, and the
    paired difference B - A with its interval in the title."""
    from hvsim.report.names import better
    from hvsim.report.text import format_ci, format_kpi, headline

    if comparison.table.empty:
        return _empty("Comparison", "no run finished")
    kpis = list(kpis) if kpis is not None else headline(comparison.kpis, comparison.table)
    if not kpis:
        return _empty("Comparison", "no KPI to compare")
    diff = comparison.differences(kpis).set_index("kpi")
    fig, axes = _grid(len(kpis), ncols, (3.6, 3.4))
    a, b = comparison.labels
    for ax, kpi in zip(axes, kpis, strict=True):
        r = diff.loc[kpi]
        means = np.array([r["a_mean"], r["b_mean"]], dtype=float)
        lows = np.array([r["a_ci_low"], r["b_ci_low"]], dtype=float)
        highs = np.array([r["a_ci_high"], r["b_ci_high"]], dtype=float)
        errs = np.nan_to_num(np.vstack([means - lows, highs - means]))
        div, unit = kpi_unit(kpi, np.concatenate([means, highs]))
        ax.bar([0, 1], means / div, yerr=errs / div, color=["#4c72b0", "#dd8452"], capsize=4)
        ax.set_ylabel(unit, fontsize=8)
        ax.set_xticks([0, 1], ["A", "B"])
        star = " *" if r["significant"] else ""
        verdict = better(kpi, r["diff_mean"], bool(r["significant"]))
        ax.set_title(
            f"{kpi_title(kpi, 34)}\nB-A {format_kpi(kpi, r['diff_mean'])} "
            f"{format_ci(kpi, r['diff_ci_low'], r['diff_ci_high'])}{star}"
            + (f": B {verdict}" if verdict != "n/a" else ""),
            fontsize=7.5,
        )
        ax.tick_params(labelsize=8)
    fig.suptitle(f"A = {a}, B = {b}: means with CI; B - A paired by seed (* excludes 0)")
    return fig


# --- long-term protection to tape ---------------------------------------------------


def _window_spans(scenario: Any, groups: Sequence[str], lo: float, hi: float) -> list[tuple]:
    """(start, end) in seconds of the backup windows of ``groups`` that meet [lo, hi]."""
    spans: set[tuple[float, float]] = set()
    if scenario is None:
        return []
    for g in scenario.protection_groups:
        if g.name not in groups:
            continue
        start, end = g.backup_window.start, g.backup_window.end
        length = (end - start) % DAY_S
        day = math.floor((lo - start - length) / DAY_S)
        while day * DAY_S + start < hi:
            opens = day * DAY_S + start
            if opens + length > lo:
                spans.add((opens, opens + length))
            day += 1
    return sorted(spans)


def tape_schedule(res: Results, scenario: Any = None) -> Figure:
    """Tape jobs per drive: over the whole run (top) and the longest session (bottom:
    one scheduled occurrence of a group, from its first job's start to its last
    job's end), coloured by protection group, with the groups' backup windows shaded
    when ``scenario`` is given."""
    title = "Long-term protection to tape"
    jobs = res.tape_jobs
    jobs = jobs[jobs["outcome"] == "succeeded"] if len(jobs) else jobs
    if jobs.empty:
        return _empty(title, "no tape jobs in this run")
    drives = sorted(jobs["drive"].unique(), key=lambda d: (len(d), d))
    lane = {d: i for i, d in enumerate(drives)}
    groups = list(dict.fromkeys(jobs["protection_group"]))
    colours = {g: OTHER_COLOURS[i % len(OTHER_COLOURS)] for i, g in enumerate(groups)}
    sessions = jobs.groupby(["protection_group", "scheduled_s"], sort=False).agg(
        start=("start_s", "min"), end=("end_s", "max")
    )
    longest = (sessions["end"] - sessions["start"]).idxmax()
    fig = _figure(12, 2.2 + 0.45 * len(drives) * 2)
    axes = fig.subplots(2, 1)
    pad = 0.1 * float(sessions.loc[longest, "end"] - sessions.loc[longest, "start"])
    spans = (
        (0.0, res.horizon_days * DAY_S, "whole run"),
        (
            float(sessions.loc[longest, "start"]) - pad,
            float(sessions.loc[longest, "end"]) + pad,
            f"longest session: group {longest[0]}",
        ),
    )
    for ax, (lo, hi, words) in zip(axes, spans, strict=True):
        # Windows over more than a month would be a stripe a day: shown zoomed in only.
        for w0, w1 in _window_spans(scenario, groups, lo, hi) if hi - lo <= 31 * DAY_S else ():
            ax.axvspan(*_days(res, [max(w0, lo), min(w1, hi)]), color=WINDOW_COLOUR, alpha=0.35)
        for g in groups:
            mine = jobs[jobs["protection_group"] == g]
            y = mine["drive"].map(lane).to_numpy(float)
            verts = _bar_verts(_days(res, mine["start_s"]), _days(res, mine["end_s"]), y)
            # Zoomed in, white edges keep back-to-back jobs on one drive apart; over
            # weeks, edges of the bar's own colour keep bars narrower than a pixel seen.
            zoomed = hi - lo < 3 * DAY_S
            ax.add_collection(
                PolyCollection(
                    verts,  # type: ignore[arg-type]  # an (m, 4, 2) array, as in gantt
                    facecolors=colours[g],
                    edgecolors="white" if zoomed else colours[g],
                    linewidths=0.6 if zoomed else 0.8,
                )
            )
        ax.set_xlim(*_days(res, [lo, hi]))
        ax.set_ylim(-0.6, len(drives) - 0.4)
        ax.set_yticks(range(len(drives)), drives, fontsize=8)
        ax.invert_yaxis()
        _clock_axis(ax, (hi - lo) / DAY_S)
        ax.set_title(f"Tape jobs per drive, {words}")
    handles = [Patch(color=colours[g], label=f"group {g}") for g in groups]
    if scenario is not None:
        handles.append(Patch(color=WINDOW_COLOUR, alpha=0.35, label="backup window"))
    axes[0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


# --- storage over time ----------------------------------------------------------------

STORAGE_SERVERS_SHOWN = 4


def storage_timeline(res: Results, kpis: dict[str, Any] | None = None) -> Figure:
    """The DPM storage pool by day, one panel per DPM server (the
    ``STORAGE_SERVERS_SHOWN`` that need the most): bytes used stacked by protection
    group (replica and recovery-point volumes together), bytes allocated to volumes,
    the pool's capacity, and what the retention range needs at steady state
    (storage.servers.<server>.needed_bytes). A row of the table is a day's end."""
    title = "DPM storage pool by day"
    days = res.storage_days
    if days.empty:
        return _empty(title, "no data source was protected in this run")
    servers_kpis = (kpis if kpis is not None else res.kpis())["storage"].get("servers", {})
    order = sorted(
        days["dpm_server"].unique(),
        key=lambda s: -float(servers_kpis.get(s, {}).get("needed_bytes") or 0.0),
    )
    shown = order[:STORAGE_SERVERS_SHOWN]
    fig = _figure(12, 3.4 * len(shown))
    axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
    for ax, server in zip(axes, shown, strict=True):
        mine = days[days["dpm_server"] == server]
        x_s = (np.sort(mine["day"].unique()) + 1.0) * DAY_S
        x_s = np.minimum(x_s, res.horizon_days * DAY_S)
        used = mine.pivot_table(
            index="day", columns="protection_group", values="used_bytes", aggfunc="sum"
        ).fillna(0.0)
        total = mine.groupby("day")[["allocated_bytes", "capacity_bytes"]].agg(
            {"allocated_bytes": "sum", "capacity_bytes": "max"}
        )
        unit, scale = ("TB", 1e12) if float(total["capacity_bytes"].max()) >= 1e12 else ("GB", 1e9)
        x = _days(res, np.concatenate([[0.0], x_s]))

        def line(values: Any, scale: float = scale) -> Any:
            v = np.asarray(values, float) / scale
            return np.concatenate([[v[0]], v])

        stack = [line(used[g]) for g in used.columns]
        colours = [OTHER_COLOURS[i % len(OTHER_COLOURS)] for i in range(len(stack))]
        ax.stackplot(
            x,
            *stack,
            labels=[f"used, group {g}" for g in used.columns],
            colors=colours,
            alpha=0.8,
            step="pre",
        )
        ax.step(
            x,
            line(total["allocated_bytes"]),
            where="pre",
            color="#333333",
            lw=1.2,
            label="allocated to volumes",
        )
        ax.step(
            x,
            line(total["capacity_bytes"]),
            where="pre",
            color=FAILED_EDGE,
            lw=1.5,
            ls="--",
            label="pool capacity",
        )
        mine_kpis = servers_kpis.get(server, {})
        need = mine_kpis.get("needed_bytes")
        if need:
            ax.axhline(
                float(need) / scale,
                color="#4c72b0",
                lw=1.2,
                ls=":",
                label="needed: retention range at steady state or at the end",
            )
        full = mine_kpis.get("days_until_full")
        if full is not None:
            ax.axvline(
                _days(res, float(full) * DAY_S),
                color=FAILED_EDGE,
                lw=1.0,
                label=f"pool full (day {full}): jobs fail",
            )
        ax.set_ylim(bottom=0)
        ax.set_ylabel(unit)
        _clock_axis(ax, res.horizon_days)
        ax.set_title(f"{title}: {server}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    if len(order) > len(shown):
        axes[-1].set_xlabel(f"{len(shown)} of {len(order)} DPM servers, those that need the most")
    return fig


def online_timeline(res: Results) -> Figure:
    """Online protection to Azure by day, per DPM server: the upload backlog at the end
    of each day (online jobs scheduled and not yet uploaded) and the vault's bytes."""
    title = "Online protection to Azure"
    days = res.online_days
    if days.empty:
        return _empty(title, "no online protection in this run")
    fig = _figure(12, 3.6)
    ax1, ax2 = fig.subplots(1, 2)
    for i, (server, mine) in enumerate(days.groupby("dpm_server", sort=False)):
        colour = OTHER_COLOURS[i % len(OTHER_COLOURS)]
        x = _days(res, mine["time_s"])
        ax1.step(x, mine["upload_backlog_bytes"] / 1e9, where="post", color=colour, label=server)
        ax2.step(x, mine["vault_bytes"] / 1e12, where="post", color=colour, label=server)
    for ax, words, unit in (
        (ax1, "upload backlog at the end of each day", "GB"),
        (ax2, "bytes in the vault", "TB"),
    ):
        ax.set_ylim(bottom=0)
        ax.set_ylabel(unit)
        ax.set_title(f"{title}: {words}")
        _clock_axis(ax, res.horizon_days)
        ax.legend(fontsize=8)
    return fig
