"""Every console and Markdown table, and the rows of the HTML report's tables.

Values are shown in the unit their names say (seconds, bytes, shares: written once
here). Each table's rows are built by one function, as text, and rendered three
ways: on the console, in Markdown (summary.md) and in HTML (report.html's template).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from hvsim.report.names import better, has_label, kpi_label
from hvsim.results import unprotected_vm_mask
from hvsim.runs.plan import combination_label, describe
from hvsim.runs.store import rejected_line
from hvsim.stats import CONFIDENCE, varying
from hvsim.targets import Target, parse_target

if TYPE_CHECKING:
    from hvsim.results import Results
    from hvsim.sweep import Comparison, SweepResult

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
    "restores.per_kind.whole_vm.rto_p95_s",
    "restores.per_kind.item_level.rto_p95_s",
    "restores.per_kind.sql_database.rto_p95_s",
    "restores.per_kind.exchange_database.rto_p95_s",
    "restores.per_kind.exchange_mailbox.rto_p95_s",
    "restores.per_kind.sharepoint_item.rto_p95_s",
    "restores.per_kind.guest_file.rto_p95_s",
    "restores.over_rto_target",
    "restores.failed",
    "storage.pool_peak_bytes",
    "coverage.unprotected_vms",
)
# The host-or-guest decision in the same terms on both sides (results._decision_kpis):
# they lead the headline of runs where some run protects data sources in the guest.
DECISION_KPIS = (
    "decision.best_rpo_s",
    "decision.jobs_per_day",
    "decision.bytes_per_day",
    "decision.nightly_jobs_per_day",
    "decision.nightly_makespan_p50_s",
    "decision.nightly_window_compliance",
    "decision.dpm_servers_needed",
    "decision.pool_peak_bytes",
)
# Names shown on the console line of unprotected VMs (all are in summary.md up to
# LISTED_VMS, and in res.vms).
CONSOLE_NAMES = 5
# Rows of the per-VM coverage lists in summary.md and report.html; "and N more" after.
LISTED_VMS = 100
UNPROTECTED_NOTE = "in no protection group: never backed up, no recovery points"
CONSISTENCY_NOTE = (
    "Kept running during backup by DPM 2012 R2 UR3+ on Windows Server 2012 R2 although "
    "an online requirement fails: a Linux guest with its Backup integration service on "
    "is file-consistent, any other such VM crash-consistent."
)
CI_LABEL = f"{CONFIDENCE:.0%} CI"


# --- units ----------------------------------------------------------------------------


def format_seconds(x: float | None) -> str:
    """Seconds as hours from an hour, minutes from a minute: '2.27 h', '8.4 min', '9.0 s';
    'n/a' for a KPI with nothing to measure (null)."""
    if x is None:
        return "n/a"
    a = abs(x)
    if a >= 3600:
        return f"{x / 3600:.2f} h"
    if a >= 60:
        return f"{x / 60:.1f} min"
    return f"{x:.1f} s"


def format_bytes(x: float) -> str:
    """Bytes in decimal units: '34.46 TB', '948.23 MB', '12 B'."""
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if abs(x) >= f:
            return f"{x / f:.2f} {unit}"
    return f"{x:.0f} B"


def is_share(name: str) -> bool:
    """A KPI that is a share of 1 (shown as a percentage)."""
    return name.endswith(("window_compliance", "throughput_ratio")) or name.startswith(
        "bottleneck."
    )


def format_kpi(name: str, value: float | None) -> str:
    """A KPI value in the unit its name says (seconds, bytes, shares, counts)."""
    if value is None or value != value:
        return "n/a"
    if name.endswith("_s"):
        return format_seconds(value)
    if name.endswith("_minutes"):
        return f"{value:.1f} min"
    if "bytes" in name.rsplit(".", 1)[-1]:
        return format_bytes(value)
    if is_share(name):
        return f"{value:.1%}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_ci(name: str, low: float, high: float) -> str:
    """A confidence interval '[low, high]' in the KPI's unit; n/a when unknown."""
    if low != low:
        return "n/a"
    return f"[{format_kpi(name, low)}, {format_kpi(name, high)}]"


# --- tables and their renderings ---------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A table as text: ``head`` and ``rows`` of cells. ``numeric_from``: in HTML the
    cells from this column on are numbers (right-aligned); ``code``: this column
    holds dotted KPI names, shown by their words (hvsim.report.names) with the name
    beside them (in Markdown as code). ``marked``: rows highlighted in HTML (e.g.
    combinations that meet the targets), one flag per row."""

    head: Sequence[str]
    rows: Sequence[Sequence[str]] = field(default_factory=list)
    numeric_from: int | None = None
    code: int | None = None
    marked: Sequence[bool] | None = None


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|")


def _md_row(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


def markdown(table: Table) -> list[str]:
    """The table's Markdown lines (a ``|`` in a cell escaped)."""
    lines = [_md_row([_md_cell(h) for h in table.head]), "|" + "---|" * len(table.head)]
    for row in table.rows:
        cells = [_md_cell(c) for c in row]
        if table.code is not None:
            cells[table.code] = kpi_markdown(row[table.code])
        lines.append(_md_row(cells))
    return lines


def kpi_markdown(name: str) -> str:
    """A KPI in Markdown: its words and the dotted name as code, or the name alone."""
    if not has_label(name):
        return f"`{name}`"
    return f"{_md_cell(kpi_label(name))} (`{name}`)"


def console_columns(table: Table) -> list[str]:
    """The table as aligned columns, two spaces apart, a rule under the head."""
    rows = [list(table.head), *(list(r) for r in table.rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    out.insert(1, "-" * len(out[0]))
    return out


# --- one run ------------------------------------------------------------------------


def _compliance(b: dict[str, Any]) -> str:
    """The share on time; n/a with no scheduled backup (kpis.json null, not 0 %)."""
    if b["window_compliance"] is None:
        return "n/a (no scheduled backups)"
    text = f"{b['window_compliance']:.1%}"
    outside = b.get("outside_window", 0)
    if outside:
        text += f" ({outside} scheduled outside the window, due by the next express full)"
    return text


def _names(names: list[str], total: int, shown: int) -> str:
    more = total - min(shown, len(names))
    text = ", ".join(names[:shown])
    return f"{text} and {more} more" if more > 0 else text


def coverage_rows(k: dict[str, Any]) -> list[tuple[str, str]]:
    """Protected and unprotected VMs, and what the recovery points hold."""
    cov = k["coverage"]
    protected = f"{cov['protected_vms']} / {cov['unprotected_vms']}"
    if cov["unprotected_vms"]:
        names = _names(cov["unprotected_vm_names"], cov["unprotected_vms"], CONSOLE_NAMES)
        protected += f" (not backed up: {names})"
    return [
        ("VMs protected / unprotected", protected),
        (
            "recovery points application / file / crash consistent",
            f"{cov['application_consistent_vms']} / {cov['file_consistent_vms']} / "
            f"{cov['crash_consistent_vms']} VMs",
        ),
    ]


def guest_rows(k: dict[str, Any]) -> list[tuple[str, str]]:
    """Guest-level protection (none without guest data sources): data sources by kind,
    jobs by kind, the RPO achieved, and the DPM servers the design needs."""
    g, a = k.get("guest"), k.get("admission")
    if not g or not g["data_sources"]:
        return []
    s_ = format_seconds
    rows = [
        (
            "guest data sources SQL / Exchange / SharePoint / files",
            f"{g['sql_databases']} / {g['exchange_databases']} / {g['sharepoint_farms']} / "
            f"{g['file_volumes']} in {g['vms']} VMs",
        ),
        (
            "guest jobs (succeeded / failed / skipped)",
            f"{g['jobs']} ({g['succeeded']} / {g['failed']} / {g['skipped']})",
        ),
        (
            "log syncs / express fulls / file points / catalogs / eseutil",
            f"{g['log_sync_jobs']} / {g['express_full_jobs']} / {g['file_point_jobs']} / "
            f"{g['catalog_jobs']} / {g['eseutil_jobs']}",
        ),
        ("guest bytes transferred", format_bytes(g["bytes"])),
        (
            "guest RPO achieved p50 / max (worst gap)",
            f"{s_(g['rpo_p50_s'])} / {s_(g['rpo_max_s'])} ({s_(g['worst_gap_s'])})",
        ),
    ]
    if a:
        rows.append(
            (
                "DPM servers needed (deciding limit)",
                f"{a['dpm_servers_needed']} of {a['dpm_servers']} ({a['decided_by']})",
            )
        )
    return rows


def tape_rows(k: dict[str, Any]) -> list[tuple[str, str]]:
    """Long-term protection to tape (none without a group that has it): sessions and
    their makespan, overlap with the backup window, drive use, tapes."""
    t = k.get("tape")
    if not t or not t["groups"]:
        return []
    s_ = format_seconds
    return [
        (
            "tape jobs (skipped) / bytes",
            f"{t['jobs']} ({t['skipped']}) / {format_bytes(t['bytes'])}",
        ),
        (
            "tape session makespan p50 / max",
            f"{s_(t['session_makespan_p50_s'])} / {s_(t['session_makespan_max_s'])}",
        ),
        (
            "tape sessions in the backup window (overlap)",
            f"{t['sessions_overlapping_window']} of {t['sessions']} "
            f"({t['window_overlap_h']:.2f} h)",
        ),
        (
            "tape drive utilisation (first to last job / horizon)",
            f"{t['drive_utilisation']:.1%} / {t['drive_utilisation_horizon']:.1%} of "
            f"{t['drives']} drives",
        ),
        (
            "tapes written / a year / in rotation",
            f"{t['tapes_written']} / {t['tapes_per_year']} / {t['tapes_in_rotation']}",
        ),
    ]


def online_rows(k: dict[str, Any]) -> list[tuple[str, str]]:
    """Online protection to Azure (none without an online group): jobs, days to seed,
    the online RPO, the upload backlog and the vault."""
    o = k.get("online")
    if not o or not o["data_sources"]:
        return []
    days = o["days_to_seed"]
    seeded = f"{o['data_sources_seeded']} of {o['data_sources']} data sources"
    return [
        (
            "online jobs (succeeded / failed / skipped)",
            f"{o['jobs']} ({o['succeeded']} / {o['failed']} / {o['skipped']})",
        ),
        (
            "online seeding (days to seed)",
            f"{seeded}, {'not within the horizon' if days is None else f'{days:.2f} days'}",
        ),
        (
            "online RPO violations (target, worst gap)",
            f"{o['rpo_violations']} ({format_seconds(o['rpo_target_s'])}, "
            f"{format_seconds(o['worst_gap_s'])})",
        ),
        (
            "upload backlog max / at end",
            f"{format_bytes(o['upload_backlog_max_bytes'])} / "
            f"{format_bytes(o['upload_backlog_end_bytes'])}",
        ),
        (
            "vault at end / peak",
            f"{format_bytes(o['vault_bytes_end'])} / {format_bytes(o['vault_bytes_peak'])}",
        ),
    ]


# Rows of host-level backups, n/a in a run with guest-level protection only.
HOST_LEVEL_ROWS = frozenset(
    {
        "recovery points application / file / crash consistent",
        "backup window compliance",
        "downtime per backup p50 / p95 / max",
        "RPO violations (target, worst gap)",
    }
)
HOST_ONLY_NA = "n/a (no host-level backups)"


def kpi_rows(k: dict[str, Any], res: Results | None = None) -> list[tuple[str, str]]:
    """The KPIs of one run (kpis.json) as (what, value) rows; with ``res`` the
    bottleneck of the backup path and of each other tier (tape, Azure) from its
    resources (bottleneck_rows), otherwise the backup path's from kpis.json."""
    s_, b_ = format_seconds, format_bytes
    b, d, s = k["backups"], k["downtime"], k["storage"]
    rows = coverage_rows(k) + [
        (
            "backup jobs (succeeded / failed / skipped)",
            f"{b['jobs']} ({b['succeeded']} / {b['failed']} / {b['skipped']})",
        ),
        ("jobs online / offline (saved state)", f"{b['online']} / {b['offline']}"),
        ("backup window compliance", _compliance(b)),
        ("nightly makespan p50 / max", f"{s_(b['makespan_p50_s'])} / {s_(b['makespan_max_s'])}"),
        ("mean wait for job slots", s_(b["mean_wait_s"])),
        ("bytes transferred", b_(b["bytes"])),
        ("VMs backed up offline", str(d["vms_offline"])),
        ("saved-state downtime total", s_(d["total_s"])),
        (
            "downtime per backup p50 / p95 / max",
            f"{d['per_backup_p50_s']:.1f} / {d['per_backup_p95_s']:.1f} / "
            f"{d['per_backup_max_s']:.1f} s",
        ),
        (
            "CSV redirected I/O",
            f"{k['redirected_io']['intervals']} intervals, {s_(k['redirected_io']['total_s'])}",
        ),
        ("DPM pool peak", _pool_peak(s)),
        (
            "replica / recovery points",
            f"{b_(s['replica_bytes'])} / {b_(s['recovery_point_bytes'])}",
        ),
    ]
    m, cc, rpo = k["migrations"], k["consistency_checks"], k["rpo"]
    if m["live"] or m["shared_nothing"]:
        rows.append(
            (
                "migrations live / shared-nothing / with storage",
                f"{m['live']} / {m['shared_nothing']} / {m['storage']}",
            )
        )
        rows.append(
            (
                "protection breaks (unprotected time)",
                f"{m['protection_breaks']} ({s_(m['unprotected_s'])})",
            )
        )
    if cc["count"]:
        rows.append(
            (
                "consistency checks (time, bytes read)",
                f"{cc['count']} ({s_(cc['total_s'])}, {b_(cc['bytes_read'])})",
            )
        )
        rows.append(
            (
                "longest night with / without checks",
                f"{s_(cc['window_makespan_max_with_checks_s'])} / "
                f"{s_(cc['window_makespan_max_without_checks_s'])}",
            )
        )
    rows.append(
        (
            "RPO violations (target, worst gap)",
            f"{rpo['violations']} ({s_(rpo['target_s'])}, "
            f"{s_(rpo['worst_gap_s'])}), {rpo['recovery_points_missed']} points missed",
        )
    )
    r = k.get("restores", {})
    if r.get("count"):
        rows.append(
            (
                "restores (failed / fell back / over RTO target)",
                f"{r['count']} ({r['failed']} / {r['degraded']} / {r['over_rto_target']})",
            )
        )
        rows.append(
            (
                "restore duration < 6 h / 6-24 h / > 24 h",
                f"{r['under_6h']} / {r['from_6h_to_24h']} / {r['over_24h']}",
            )
        )
    rows += guest_rows(k)
    rows += tape_rows(k)
    rows += online_rows(k)
    for cluster, scan in k.get("scan", {}).items():
        rows.append(
            (
                f"protection scan of {cluster} ({scan['mode']})",
                f"{s_(scan['duration_s'])}, {scan['vms_found']} VMs found, "
                f"{scan['vms_missed']} missed",
            )
        )
    if res is not None:
        rows += bottleneck_rows(res)
    elif k.get("bottleneck"):
        path = [(r, v) for r, v in k["bottleneck"].items() if resource_tier(r) == "backup"]
        if path:
            top, share = path[0]
            rows.append(("main transfer bottleneck", f"{top} ({share:.0%} of flow time)"))
    if not b["jobs"] and (k.get("guest") or {}).get("data_sources"):
        # Guest level only: what host-level backups measure is not 0 but n/a.
        rows = [(a, HOST_ONLY_NA if a in HOST_LEVEL_ROWS else v) for a, v in rows]
    return rows


def _pool_peak(s: dict[str, Any]) -> str:
    """The pool's peak, with the steady state the retention range needs beside it (the
    peak of a run shorter than the range is lower), and the allocation."""
    text = format_bytes(s["pool_peak_bytes"])
    if "steady_state_bytes" in s:
        text += (
            f" (steady state {format_bytes(s['steady_state_bytes'])}; allocated peak "
            f"{format_bytes(s['allocated_peak_bytes'])}, needs "
            f"{format_bytes(s['needed_bytes'])} of {format_bytes(s['capacity_bytes'])})"
        )
    return text


def pool_full_lines(k: dict[str, Any]) -> list[str]:
    """One line per DPM server whose pool refused stores, e.g. "DPM pool full on dpm01
    from day 3: 4,210 jobs failed; the retention range needs 15.2 TB allocated (have
    5.0 TB)"; none when every store fitted."""
    servers = k.get("storage", {}).get("servers", {})
    lines = []
    for name, s in servers.items():
        if not s.get("pool_full_failures"):
            continue
        day = s["days_until_full"]
        lines.append(
            f"DPM pool full on {name}"
            + (f" from day {day}" if day is not None else "")
            + f": {s['pool_full_failures']:,} jobs failed; the retention range needs "
            f"{_one_decimal(s['needed_bytes'])} allocated (have "
            f"{_one_decimal(s['capacity_bytes'])})"
        )
    return lines


def _one_decimal(x: float) -> str:
    """Bytes as TB (or GB under a TB) with one decimal: '15.2 TB', '583.4 GB'."""
    return f"{x / 1e12:,.1f} TB" if x >= 1e12 else f"{x / 1e9:,.1f} GB"


def kpi_table(k: dict[str, Any], res: Results | None = None) -> Table:
    return Table(("KPI", "value"), kpi_rows(k, res))


def console_table(k: dict[str, Any], res: Results | None = None) -> str:
    """What ``hvsim run`` prints: a heading and the KPI rows."""
    rows = kpi_rows(k, res)
    width = max(len(r[0]) for r in rows)
    head = f"hvsim: {k['scenario']} (seed {k['seed']}, {k['horizon_days']:g} days)"
    return "\n".join(
        [head, "-" * len(head)] + pool_full_lines(k) + [f"{a:<{width}}  {b}" for a, b in rows]
    )


def unprotected_vms(res: Results) -> list[str]:
    """Names of the VMs in no protection group or onboarded at or after the horizon,
    sorted (a VM whose data sources are protected in its guest is protected, as the
    coverage KPIs count it)."""
    vms = res.vms
    return sorted(vms.loc[unprotected_vm_mask(vms, res.horizon_days * 86400.0), "vm"])


def unprotected_table(res: Results) -> Table | None:
    """The unprotected VMs (at most LISTED_VMS rows, then how many more): name, host,
    storage and why (in no protection group, or onboarded after the horizon); None
    when every VM is protected."""
    vms = res.vms
    horizon_s = res.horizon_days * 86400.0
    rows_ = vms[unprotected_vm_mask(vms, horizon_s)].sort_values("vm", kind="stable")
    if rows_.empty:
        return None
    rows = []
    for r in rows_.head(LISTED_VMS).to_dict("records"):
        late = "protection_start_s" in r and r["protection_start_s"] >= horizon_s
        why = "onboarded after the horizon" if late else "in no protection group"
        rows.append([str(r["vm"]), str(r["host"]), str(r["storage"]), why])
    if len(rows_) > LISTED_VMS:
        rows.append([f"and {len(rows_) - LISTED_VMS} more", "", "", ""])
    return Table(("VM", "host", "storage", "why unprotected"), rows)


def not_application_consistent(res: Results) -> pd.DataFrame:
    """Protected VMs whose recovery points are file or crash consistent, sorted by
    name: vm, recovery_point_consistency, failed_requirements."""
    vms = res.vms
    rows = vms[vms["recovery_point_consistency"].isin(("file", "crash"))]
    cols = ["vm", "recovery_point_consistency", "failed_requirements"]
    return rows[cols].sort_values("vm", kind="stable").reset_index(drop=True)


def consistency_table(weak: pd.DataFrame) -> Table:
    """VMs whose recovery points are not application-consistent (at most LISTED_VMS
    rows, then how many more)."""
    rows = [[str(c) for c in r] for r in weak.head(LISTED_VMS).itertuples(index=False)]
    if len(weak) > LISTED_VMS:
        rows.append([f"and {len(weak) - LISTED_VMS} more", "", ""])
    return Table(("VM", "consistency", "failed requirements"), rows)


RESTORES_NOTE = (
    "RTO: from the request to the end of the restore (waiting for a job slot included). "
    "Restores are counted under the kind asked for; one that fell back to a coarser "
    "restore is timed as what was done. Recovery point age: the data lost."
)


def restores_table(res: Results) -> Table | None:
    """RTO per restore kind (as requested): restores, failed, fell back, RTO p50 /
    p95 / max of those that succeeded, over their RTO target, recovery point age p95;
    None when the run has no restores."""
    r = res.restores
    if r.empty:
        return None
    rows = []
    for kind, g in r.groupby("kind", sort=True):
        ok = g[g["outcome"] == "succeeded"]
        rto, age = ok["rto_s"], ok["recovery_point_age_s"]

        def pct(x: pd.Series, q: float) -> str:
            return format_seconds(float(x.quantile(q / 100))) if len(x) else "n/a"

        rows.append(
            [
                str(kind),
                str(len(g)),
                str(int((g["outcome"] == "failed").sum())),
                str(int((g["fallback"] != "").sum())),
                pct(rto, 50),
                pct(rto, 95),
                format_seconds(float(rto.max())) if len(rto) else "n/a",
                str(int((ok["rto_s"] > ok["rto_target_s"]).sum())),
                pct(age, 95),
            ]
        )
    head = (
        "kind",
        "restores",
        "failed",
        "fell back",
        "RTO p50",
        "RTO p95",
        "RTO max",
        "over RTO target",
        "point age p95",
    )
    return Table(head, rows, numeric_from=1)


def restores_markdown(res: Results) -> list[str]:
    """summary.md's section on restores (nothing when the run has none)."""
    table = restores_table(res)
    if table is None:
        return []
    return ["", "## Restores: RTO per kind", "", RESTORES_NOTE, "", *markdown(table)]


RECOMMENDATIONS_TITLE = "Host or guest level: recommendations"
# Names shown per row of the recommendations' table; "and N more" after.
RECOMMENDED_NAMES = 5


@dataclass(frozen=True)
class Recommendations:
    """The recommendations of a run with restore needs: a sentence of counts and,
    when some VM's protection differs from the one recommended, their table."""

    intro: str
    table: Table | None


def _target(seconds: float) -> str:
    """A need's RTO or RPO target; 'none' when it has none (NaN)."""
    return format_seconds(seconds) if seconds == seconds else "none"


def recommendations_summary(res: Results) -> Recommendations | None:
    """The VMs whose protection matches the recommendation (hvsim.recommend) and, for
    those that do not, a row per (need, protection now, recommended): the need's
    finest unit and targets, how many VMs, their names (the first RECOMMENDED_NAMES,
    then how many more) and the reason. None without restore needs."""
    rec = res.recommendations
    if rec.empty:
        return None
    n, ok = len(rec), int(rec["matches"].sum())
    intro = (
        f"{ok} of the {n} VMs named by the restore needs are protected at the level "
        "recommended (host, guest or both)"
    )
    wrong = rec[~rec["matches"].astype(bool)]
    if wrong.empty:
        return Recommendations(intro + ". Per VM: recommendations.csv.", None)
    rows = []
    for (_, now, recommended), g in wrong.groupby(["need", "protection", "recommended"], sort=True):
        first = next(g.itertuples(index=False))
        clause = f"protected at {now} level now, recommended {recommended}"
        reasons = list(dict.fromkeys(g["reason"]))
        reason = "; ".join(p for p in reasons[0].split("; ") if p != clause)
        if len(reasons) > 1:
            reason += " (the first VM's: the others differ, see recommendations.csv)"
        names = list(g["vm"])
        rows.append(
            [
                str(first.finest_unit),
                _target(float(first.rto_target_s)),
                _target(float(first.rpo_target_s)),
                str(now),
                str(recommended),
                str(len(g)),
                _names(names, len(names), RECOMMENDED_NAMES),
                reason,
            ]
        )
    intro += f"; {n - ok} are not. Per VM: recommendations.csv."
    head = (
        "need",
        "RTO target",
        "RPO target",
        "protected now",
        "recommended",
        "VMs",
        "names",
        "reason",
    )
    return Recommendations(intro, Table(head, rows))


def recommendations_markdown(res: Results) -> list[str]:
    """summary.md's section on the recommendations (nothing without restore needs)."""
    rec = recommendations_summary(res)
    if rec is None:
        return []
    lines = ["", f"## {RECOMMENDATIONS_TITLE}", "", rec.intro]
    if rec.table is not None:
        lines += ["", *markdown(rec.table)]
    return lines


def coverage_markdown(res: Results) -> list[str]:
    """summary.md's sections on unprotected VMs and on recovery points that are not
    application-consistent (at most LISTED_VMS rows each, then how many more)."""
    names = unprotected_vms(res)
    lines = ["", "## Unprotected VMs", ""]
    if not names:
        lines.append("None: every VM is in a protection group.")
    else:
        lines.append(f"{len(names)} of {len(res.vms)} VMs are {UNPROTECTED_NOTE}:")
        lines.append("")
        lines += [f"- {n}" for n in names[:LISTED_VMS]]
        if len(names) > LISTED_VMS:
            lines.append(f"- and {len(names) - LISTED_VMS} more")
    weak = not_application_consistent(res)
    lines += ["", "## Recovery points not application-consistent", ""]
    if weak.empty:
        lines.append("None: every protected VM's recovery points are application-consistent.")
    else:
        lines += [CONSISTENCY_NOTE, ""] + markdown(consistency_table(weak))
    return lines


def offline_table(res: Results, offline: pd.DataFrame) -> Table:
    """The VMs backed up offline: why, and their saved-state downtime."""
    per_vm = res.downtime.groupby("vm")["seconds"].agg(["count", "sum", "max"])
    # Each offline VM's row of per_vm (none: no downtime), looked up at once.
    mine = per_vm.reindex(offline["vm"]).fillna(0.0)
    rows = [
        (vm, reason, str(int(c)), f"{t:.1f}", f"{m:.1f}")
        for vm, reason, c, t, m in zip(
            offline["vm"],
            offline["offline_reason"],
            mine["count"].to_numpy(float),
            mine["sum"].to_numpy(float),
            mine["max"].to_numpy(float),
            strict=True,
        )
    ]
    head = ("VM", "reason", "backups with downtime", "downtime total s", "max s")
    return Table(head, rows)


# Tiers of transfer resources, each with its own bottleneck: the backup path (hosts,
# CSVs and volumes, links, DPM pools), the tape drives and the Azure uplinks.
TIER_WORDS = {
    "backup": "main transfer bottleneck",
    "tape": "tape bottleneck",
    "online": "Azure upload bottleneck",
}
TIER_FLOWS = {"backup": "backup", "tape": "tape", "online": "upload"}


def resource_tier(name: str, kind: str = "") -> str:
    """'tape' (a tape drive), 'online' (a DPM server's Internet uplink to Azure) or
    'backup' (the backup path: everything else)."""
    if kind == "tape" or ":tape-drive" in name:
        return "tape"
    if name.endswith(":uplink"):
        return "online"
    return "backup"


def _tiers(res: Results) -> pd.Series:
    r = res.resources
    return pd.Series(
        [resource_tier(str(n), str(k)) for n, k in zip(r["resource"], r["kind"], strict=True)],
        index=r.index,
        dtype=object,
    )


def bottleneck_rows(res: Results) -> list[tuple[str, str]]:
    """Per tier with transfers (backup path first, then tape, then Azure): the
    resource that was the bottleneck of its flows longest and its share of the
    tier's flow time, e.g. ("main transfer bottleneck", "dpm01:pool-write (92 % of
    backup flow time)")."""
    r = res.resources
    if r.empty:
        return []
    tiers = _tiers(res)
    rows = []
    for tier, words in TIER_WORDS.items():
        part = r[tiers == tier]
        total = float(part["bottleneck_flow_s"].sum())
        if total <= 0:
            continue
        top = part.sort_values(["bottleneck_flow_s", "resource"], ascending=[False, True]).iloc[0]
        share = float(top["bottleneck_flow_s"]) / total
        rows.append((words, f"{top['resource']} ({share:.0%} of {TIER_FLOWS[tier]} flow time)"))
    return rows


def busiest_table(res: Results, top: int = 8) -> Table:
    """The resources of the backup path (tape drives and Azure uplinks are tiers of
    their own: bottleneck_rows) that were the bottleneck longest, then busiest
    longest, and their share of the backup path's flow time as bottleneck."""
    path = res.resources[_tiers(res) == "backup"]
    total = float(path["bottleneck_flow_s"].sum()) or 1.0
    busiest = path.sort_values(
        ["bottleneck_flow_s", "busy_s", "resource"], ascending=[False, False, True]
    )
    rows = [
        (
            r.resource,
            r.kind,
            format_bytes(r.bytes),
            format_seconds(r.busy_s),
            f"{r.bottleneck_flow_s / total:.1%}",
        )
        for r in busiest.head(top).itertuples()
    ]
    head = ("resource", "kind", "bytes", "busy", "share of flow time as bottleneck")
    return Table(head, rows)


BUSIEST_TITLE = "Busiest resources of the backup path"
BUSIEST_NOTE = (
    "The bottleneck longest first (the resource that held a transfer's rate down), then "
    "the busiest; tape drives and Azure uplinks are tiers of their own (their "
    "bottleneck is in the KPIs)."
)


def offline_failure_markdown(res: Results) -> list[str]:
    """summary.md's sections on VMs backed up offline and failed attempts."""
    offline = res.vms[res.vms["method"] == "offline"]
    lines = ["", "## VMs backed up offline (saved state)", ""]
    if offline.empty:
        lines.append("None: every protected VM is backed up while it runs.")
    else:
        lines += markdown(offline_table(res, offline))
    lines += ["", "## Failed attempts", ""]
    failures = failures_table(res)
    lines += ["None."] if failures is None else markdown(failures)
    return lines


def failures_table(res: Results) -> Table | None:
    """Failed job attempts grouped by reason, most first; None when none failed."""
    failed = res.jobs[res.jobs["outcome"] == "failed"]
    if failed.empty:
        return None
    reasons = failed.groupby("failure_reason").size().sort_values(ascending=False, kind="stable")
    return Table(("reason", "attempts"), [(str(r), str(n)) for r, n in reasons.items()], 1)


def summary_markdown(
    res: Results, k: dict[str, Any], description: str = "", verdict: Sequence[str] = ()
) -> str:
    """summary.md of one run; ``verdict``: its Markdown lines, first after the title."""
    lines = [f"# hvsim summary: {k['scenario']}", ""]
    if description:
        lines += [description.strip(), ""]
    lines += [
        f"Seed {k['seed']}, {k['horizon_days']:g} simulated days from "
        f"{res.start_date.isoformat()}.",
        "",
        *verdict,
    ]
    for line in pool_full_lines(k):
        lines += [f"**{line}**", ""]
    lines += markdown(kpi_table(k, res))
    lines += coverage_markdown(res)
    lines += restores_markdown(res)
    lines += recommendations_markdown(res)
    lines += offline_failure_markdown(res)
    lines += ["", f"## {BUSIEST_TITLE}", ""]
    lines += [BUSIEST_NOTE, ""]
    lines += markdown(busiest_table(res))
    return "\n".join(lines) + "\n"


# --- many runs ----------------------------------------------------------------------


def headline(kpi_columns: Sequence[str], table: pd.DataFrame | None = None) -> list[str]:
    """The headline KPIs present (scan durations per cluster included), in a fixed
    order; with a table, only those that are non-zero in some run, led by the decision
    KPIs (restore RTO p95 per kind among them) when some run has guest data sources."""
    scans = [c for c in kpi_columns if c.startswith("scan.") and c.endswith(".duration_s")]
    names = [k for k in HEADLINE_KPIS if k in kpi_columns] + scans
    if table is None:
        return names
    if "guest.data_sources" in table and (table["guest.data_sources"].fillna(0) > 0).any():
        rto = sorted(
            c for c in kpi_columns if c.startswith("decision.") and c.endswith("_rto_p95_s")
        )
        # The rows the decision KPIs repeat are shown once, as decision KPIs.
        repeated = {"storage.pool_peak_bytes", *(k for k in names if k.endswith(".rto_p95_s"))}
        rest = [k for k in names if k not in repeated]
        names = [k for k in DECISION_KPIS if k in kpi_columns] + rto + rest
    return [k for k in names if (table[k].fillna(0) != 0).any()]


def sweep_kpis(result: SweepResult, asked: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """The KPIs a sweep's report shows and the names asked for that are no KPI of the
    sweep: those asked (``--kpi``), in their order, or by default the headline KPIs
    that change across the sweep (all headline KPIs when none changes)."""
    if asked:
        names = list(dict.fromkeys(asked))
        return [k for k in names if k in result.kpis], [k for k in names if k not in result.kpis]
    if result.table.empty:
        return [], []
    heads = headline(result.kpis, result.table)
    moving = set(varying(result.table, heads)) if result.params else set()
    return [k for k in heads if k in moving] or heads, []


def unknown_kpi_line(source: str, name: str, kpis: Sequence[str]) -> str:
    """The warning for a --kpi that is no KPI of the runs, with the closest names."""
    import difflib

    close = difflib.get_close_matches(name, list(kpis), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else " (see the columns of runs.csv)"
    return f"{source}: --kpi {name}: not a KPI of these runs, left out{hint}"


# Words for a target's miss in a sweep's table ("... in 2 of 5 runs").
TARGET_WORDS = {
    "backups.window_compliance": "jobs outside their backup window",
    "rpo.violations": "RPO violations",
    "restores.over_rto_target": "restores over their RTO target",
    "storage.pool_full_failures": "jobs failed on a full DPM pool",
    "coverage.unprotected_vms": "VMs in no protection group",
    "downtime.per_backup_max_s": "saved-state downtime over the budget",
}
MEETS_NOTE = (
    "A combination meets the targets (the verdict's, from the scenario) when every "
    "scheduled job ran in its backup window in at least 95 % of its replications "
    "(backups.window_compliance = 100 %), and in every replication no recovery point "
    "objective was missed (rpo.violations = 0), no restore took longer than its RTO "
    "target, no job failed on a full DPM pool and every VM is in a protection group "
    "(and the saved-state downtime within saved_state.downtime_budget at p95, when the "
    "scenario sets one); a KPI with nothing to measure (n/a) keeps its target. "
    "Highlighted: the combinations that meet them."
)


def default_targets() -> list[tuple[str, Target]]:
    """The targets of a sweep without a scenario at hand: window, RPO and pool."""
    return [
        ("backup window", parse_target("window")),
        ("RPO", parse_target("rpo")),
        ("DPM pool", parse_target("pool")),
    ]


def meets_targets(
    table: pd.DataFrame,
    params: Sequence[str],
    targets: Sequence[tuple[str, Target]] | None = None,
) -> pd.DataFrame:
    """Per combination of ``params`` (in the table's order): ``meets`` (every target
    held in the replications its @ says, hvsim.targets; the runs with the KPI n/a left
    out) and ``misses`` (words: each target missed, in how many of the runs)."""
    targets = default_targets() if targets is None else targets
    rows = []
    groups = table.groupby(list(params), sort=False, dropna=False) if params else [((), table)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        misses = []
        for name, t in targets:
            if t.kpi not in part:
                continue
            x = part[t.kpi].astype(float).dropna().to_numpy()
            if x.size and not t.meets(t.value(x)):
                bad = sum(not t.meets(float(v)) for v in x)
                misses.append(f"{TARGET_WORDS.get(t.kpi, name)} in {bad} of {len(part)} runs")
        rows.append(
            {
                **dict(zip(params, key, strict=True)),
                "meets": not misses,
                "misses": "; ".join(misses),
            }
        )
    return pd.DataFrame(rows, columns=[*params, "meets", "misses"])


def meets_table(meets: pd.DataFrame, params: Sequence[str]) -> Table:
    """Each combination: whether it meets the targets, and what it misses (the rows
    that meet them marked)."""
    rows = [
        [*(str(r[p]) for p in params), "yes" if r["meets"] else "no", r["misses"]]
        for r in meets.to_dict("records")
    ]
    flags = [bool(m) for m in meets["meets"]]
    return Table([*params, "meets the targets", "misses"], rows, marked=flags)


def marked_rows(table: Table, meets: pd.DataFrame, params: Sequence[str]) -> Table:
    """``table`` (its first columns the combination's values) with the rows of the
    combinations that meet the targets marked."""
    ok = {tuple(str(r[p]) for p in params) for r in meets.to_dict("records") if r["meets"]}
    flags = [tuple(row[: len(params)]) in ok for row in table.rows]
    return Table(table.head, table.rows, table.numeric_from, table.code, flags)


def runs_counts(result: SweepResult | Comparison) -> str:
    """'N finished (C computed, S from the store), F failed'."""
    return (
        f"{len(result.table)} finished ({result.computed} computed, {result.stored} from "
        f"the store), {len(result.failures)} failed"
    )


def runs_line(result: SweepResult | Comparison) -> str:
    """The console line of a sweep's, a comparison's or replications' runs."""
    rejected = f"; {rejected_line(result.rejected)}" if result.rejected else ""
    return f"runs: {runs_counts(result)}{rejected}"


def _runs_markdown(result: SweepResult | Comparison) -> str:
    rejected = f" {rejected_line(result.rejected)}." if result.rejected else ""
    return f"Runs: {runs_counts(result)}.{rejected}"


def stats_rows(summary: pd.DataFrame, by: Sequence[str]) -> list[dict[str, str]]:
    """Per (combination and) KPI of a summary: the combination's values, the KPI, n,
    mean, confidence interval, p50 and p95, as text."""
    rows = []
    for r in summary.to_dict("records"):
        k = r["kpi"]
        rows.append(
            {
                **{c: str(r[c]) for c in by},
                "kpi": k,
                "n": str(r["n"]),
                "mean": format_kpi(k, r["mean"]),
                "ci": format_ci(k, r["ci_low"], r["ci_high"]),
                "p50": format_kpi(k, r["p50"]),
                "p95": format_kpi(k, r["p95"]),
            }
        )
    return rows


def stats_table(summary: pd.DataFrame, by: Sequence[str] = ()) -> Table:
    """Mean, confidence interval, p50 and p95 per (combination and) KPI."""
    cols = [*by, "kpi", "n", "mean", "ci", "p50", "p95"]
    rows = [[r[c] for c in cols] for r in stats_rows(summary, by)]
    head = [*by, "KPI", "n", "mean", CI_LABEL, "p50", "p95"]
    return Table(head, rows, numeric_from=len(by) + 1, code=len(by))


def console_stats(summary: pd.DataFrame, by: Sequence[str], kpis: Sequence[str]) -> str:
    """Mean, interval, p50 and p95 of each KPI: one line per KPI, or with varied
    columns ``by`` a block per KPI with one line per combination."""
    order = {k: i for i, k in enumerate(kpis)}
    rows = [r for r in stats_rows(summary, by) if r["kpi"] in order]
    rows.sort(key=lambda r: order[r["kpi"]])  # stable: combinations keep their order

    def cells(r: dict[str, str]) -> str:
        return f"{r['mean']:>11}  {CI_LABEL} {r['ci']:<27}  p50 {r['p50']:>10}  p95 {r['p95']:>10}"

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


def comparison_rows(diff: pd.DataFrame) -> list[dict[str, Any]]:
    """Per KPI of paired differences: A's and B's means and intervals, B - A and its
    interval, as text; ``significant``: the interval excludes zero."""
    rows = []
    for r in diff.to_dict("records"):
        k = r["kpi"]
        rows.append(
            {
                "kpi": k,
                "a": format_kpi(k, r["a_mean"]),
                "a_ci": format_ci(k, r["a_ci_low"], r["a_ci_high"]),
                "b": format_kpi(k, r["b_mean"]),
                "b_ci": format_ci(k, r["b_ci_low"], r["b_ci_high"]),
                "diff": format_kpi(k, r["diff_mean"]),
                "diff_ci": format_ci(k, r["diff_ci_low"], r["diff_ci_high"]),
                "significant": bool(r["significant"]),
                "better": better(k, r["diff_mean"], bool(r["significant"])),
            }
        )
    return rows


BETTER_NOTE = (
    "B is: better or worse than A in this KPI's better direction (lower for durations, "
    "downtime, failures, violations and bytes needed; higher for compliance and "
    "successes), with ? when the interval of B - A includes zero; n/a when neither "
    "direction is better."
)


def _star(r: dict[str, Any]) -> str:
    return " *" if r["significant"] else ""


def comparison_table(diff: pd.DataFrame, labels: tuple[str, str]) -> Table:
    """A and B with their intervals, B - A (* when its interval excludes zero) and
    its interval."""
    rows = [
        [
            r["kpi"],
            f"{r['a']} {r['a_ci']}",
            f"{r['b']} {r['b_ci']}",
            r["diff"] + _star(r),
            r["diff_ci"],
            r["better"],
        ]
        for r in comparison_rows(diff)
    ]
    head = ["KPI", f"A: {labels[0]}", f"B: {labels[1]}", "B - A", CI_LABEL, "B is"]
    return Table(head, rows, numeric_from=1, code=0)


def _difference(r: dict[str, Any]) -> str:
    """B - A and its interval in one cell ('n/a' once when there is no difference)."""
    if r["diff"] == r["diff_ci"] == "n/a":
        return "n/a"
    return f"{r['diff']} {r['diff_ci']}{_star(r)}"


def console_comparison(diff: pd.DataFrame, labels: tuple[str, str]) -> str:
    """A's and B's means and B - A with its interval, in columns."""
    rows = [[r["kpi"], r["a"], r["b"], _difference(r), r["better"]] for r in comparison_rows(diff)]
    head = ["KPI", f"A: {labels[0]}", f"B: {labels[1]}", f"B - A [{CI_LABEL}]", "B is"]
    lines = console_columns(Table(head, rows))
    return "\n".join(lines) + "\n(* the interval excludes zero; ? it includes zero)"


def sweep_markdown(
    result: SweepResult,
    title: str,
    description: str = "",
    kpis: Sequence[str] = (),
    targets: Sequence[tuple[str, Target]] | None = None,
    verdict: str = "",
) -> str:
    """summary.md of a sweep or of replications; its ``verdict`` (Markdown) first, then
    which combinations meet the targets and the KPIs ``kpis`` (--kpi; default its
    headline KPIs that change) per combination before all KPIs."""
    seeds = result.seeds
    lines = [f"# {title}", ""] + ([verdict, ""] if verdict else [])
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
    lines += [_runs_markdown(result), ""]
    if len(result.failures):
        lines += ["## Failed runs", ""]
        for r in result.failures.to_dict("records"):
            values = {p: r[p] for p in result.params}
            lines.append(f"- {_md_cell(describe(values, r['seed']))}: {_md_cell(r['error'])}")
        lines.append("")
    if result.table.empty:
        return "\n".join(lines) + "\n"
    if result.params:
        lines += ["## Combinations against the targets", "", MEETS_NOTE, ""]
        meets = meets_targets(result.table, result.params, targets)
        lines += markdown(meets_table(meets, result.params))
        lines += ["", "## The KPIs shown, per combination", ""]
        lines += markdown(stats_table(result.summary(sweep_kpis(result, kpis)[0]), result.params))
    else:
        heads = headline(result.kpis, result.table)
        lines += ["## Headline KPIs", ""]
        lines += markdown(stats_table(result.summary(heads), result.params))
    lines += ["", "## All KPIs", ""]
    lines += markdown(stats_table(result.summary(), result.params))
    return "\n".join(lines) + "\n"


def compare_markdown(cmp: Comparison, verdict: str = "") -> str:
    """summary.md of a comparison; its ``verdict`` (Markdown) first."""
    seeds = cmp.seeds
    a, b = cmp.labels
    lines = [
        f"# hvsim comparison: {a} vs {b}",
        "",
        *([verdict, ""] if verdict else []),
        f"A = `{cmp.sources[0]}`, B = `{cmp.sources[1]}`; {cmp.replications} "
        f"replication(s) each with the same seeds ({seeds[0]} to {seeds[-1]}, common random "
        f"numbers). B - A is the mean of the per-seed differences with its "
        f"{CONFIDENCE:.0%} Student t interval; * marks an interval that excludes zero.",
        "",
        _runs_markdown(cmp),
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
        lines += [f"## {title}", ""]
        lines += markdown(comparison_table(part, cmp.labels))
        lines.append("")
    lines += [BETTER_NOTE, ""]
    return "\n".join(lines)
