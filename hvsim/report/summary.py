"""Plain-text outputs of a run: the console table and summary.md."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hvsim.results import Results


def _fmt_bytes(x: float) -> str:
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if abs(x) >= f:
            return f"{x / f:.2f} {unit}"
    return f"{x:.0f} B"


def _fmt_s(x: float) -> str:
    if x >= 3600:
        return f"{x / 3600:.2f} h"
    if x >= 60:
        return f"{x / 60:.1f} min"
    return f"{x:.1f} s"


def _compliance(b: dict[str, Any]) -> str:
    """The share on time; n/a with no scheduled backup (kpis.json null, not 0 %)."""
    if b["window_compliance"] is None:
        return "n/a (no scheduled backups)"
    text = f"{b['window_compliance']:.1%}"
    outside = b.get("outside_window", 0)
    if outside:
        text += f" ({outside} scheduled outside the window, due by the next express full)"
    return text


# Names shown on the console line of unprotected VMs (all are in summary.md up to
# LISTED_VMS, and in res.vms).
CONSOLE_NAMES = 5
# Rows of the per-VM coverage lists in summary.md and report.html; "and N more" after.
LISTED_VMS = 100


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


def kpi_rows(k: dict[str, Any]) -> list[tuple[str, str]]:
    b, d, s = k["backups"], k["downtime"], k["storage"]
    rows = coverage_rows(k) + [
        (
            "backup jobs (succeeded / failed / skipped)",
            f"{b['jobs']} ({b['succeeded']} / {b['failed']} / {b['skipped']})",
        ),
        ("jobs online / offline (saved state)", f"{b['online']} / {b['offline']}"),
        ("backup window compliance", _compliance(b)),
        (
            "nightly makespan p50 / max",
            f"{_fmt_s(b['makespan_p50_s'])} / {_fmt_s(b['makespan_max_s'])}",
        ),
        ("mean wait for job slots", _fmt_s(b["mean_wait_s"])),
        ("bytes transferred", _fmt_bytes(b["bytes"])),
        ("VMs backed up offline", str(d["vms_offline"])),
        ("saved-state downtime total", _fmt_s(d["total_s"])),
        (
            "downtime per backup p50 / p95 / max",
            f"{d['per_backup_p50_s']:.1f} / {d['per_backup_p95_s']:.1f} / "
            f"{d['per_backup_max_s']:.1f} s",
        ),
        (
            "CSV redirected I/O",
            f"{k['redirected_io']['intervals']} intervals, {_fmt_s(k['redirected_io']['total_s'])}",
        ),
        ("DPM pool peak", _fmt_bytes(s["pool_peak_bytes"])),
        (
            "replica / recovery points",
            f"{_fmt_bytes(s['replica_bytes'])} / {_fmt_bytes(s['recovery_point_bytes'])}",
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
                f"{m['protection_breaks']} ({_fmt_s(m['unprotected_s'])})",
            )
        )
    if cc["count"]:
        rows.append(
            (
                "consistency checks (time, bytes read)",
                f"{cc['count']} ({_fmt_s(cc['total_s'])}, {_fmt_bytes(cc['bytes_read'])})",
            )
        )
        rows.append(
            (
                "longest night with / without checks",
                f"{_fmt_s(cc['window_makespan_max_with_checks_s'])} / "
                f"{_fmt_s(cc['window_makespan_max_without_checks_s'])}",
            )
        )
    rows.append(
        (
            "RPO violations (target, worst gap)",
            f"{rpo['violations']} ({_fmt_s(rpo['target_s'])}, "
            f"{_fmt_s(rpo['worst_gap_s'])}), {rpo['recovery_points_missed']} points missed",
        )
    )
    for cluster, scan in k.get("scan", {}).items():
        rows.append(
            (
                f"protection scan of {cluster} ({scan['mode']})",
                f"{_fmt_s(scan['duration_s'])}, {scan['vms_found']} VMs found, "
                f"{scan['vms_missed']} missed",
            )
        )
    if k.get("bottleneck"):
        top, share = next(iter(k["bottleneck"].items()))
        rows.append(("main transfer bottleneck", f"{top} ({share:.0%} of flow time)"))
    return rows


def console_table(k: dict[str, Any]) -> str:
    rows = kpi_rows(k)
    width = max(len(r[0]) for r in rows)
    head = f"hvsim: {k['scenario']} (seed {k['seed']}, {k['horizon_days']:g} days)"
    return "\n".join([head, "-" * len(head)] + [f"{a:<{width}}  {b}" for a, b in rows])


def summary_markdown(res: Results, k: dict[str, Any], description: str = "") -> str:
    lines = [f"# hvsim summary: {k['scenario']}", ""]
    if description:
        lines += [description.strip(), ""]
    lines += [
        f"Seed {k['seed']}, {k['horizon_days']:g} simulated days from "
        f"{res.start_date.isoformat()}.",
        "",
        "| KPI | value |",
        "|---|---|",
    ]
    lines += [f"| {a} | {b} |" for a, b in kpi_rows(k)]
    lines += coverage_markdown(res)
    offline = res.vms[res.vms["method"] == "offline"]
    lines += ["", "## VMs backed up offline (saved state)", ""]
    if offline.empty:
        lines.append("None: every protected VM is backed up while it runs.")
    else:
        per_vm = res.downtime.groupby("vm")["seconds"].agg(["count", "sum", "max"])
        lines += [
            "| VM | reason | backups with downtime | downtime total s | max s |",
            "|---|---|---|---|---|",
        ]
        for row in offline.itertuples():
            c, t, m = per_vm.loc[row.vm] if row.vm in per_vm.index else (0, 0.0, 0.0)
            lines.append(f"| {row.vm} | {row.offline_reason} | {int(c)} | {t:.1f} | {m:.1f} |")
    failed = res.jobs[res.jobs["outcome"] == "failed"]
    lines += ["", "## Failed attempts", ""]
    if failed.empty:
        lines.append("None.")
    else:
        reasons = failed.groupby("failure_reason").size().sort_values(ascending=False)
        lines += ["| reason | attempts |", "|---|---|"]
        lines += [f"| {r} | {n} |" for r, n in reasons.items()]
    lines += [
        "",
        "## Busiest resources",
        "",
        "| resource | kind | bytes | busy | share of flow time as bottleneck |",
        "|---|---|---|---|---|",
    ]
    total = float(res.resources["bottleneck_flow_s"].sum()) or 1.0
    top = res.resources.sort_values(["busy_s", "resource"], ascending=[False, True]).head(8)
    for r in top.itertuples():
        lines.append(
            f"| {r.resource} | {r.kind} | {_fmt_bytes(r.bytes)} | {_fmt_s(r.busy_s)} | "
            f"{r.bottleneck_flow_s / total:.1%} |"
        )
    return "\n".join(lines) + "\n"


def unprotected_vms(res: Results) -> list[str]:
    """Names of the VMs in no protection group, sorted."""
    return sorted(res.vms.loc[res.vms["protection_group"] == "", "vm"])


def not_application_consistent(res: Results) -> pd.DataFrame:
    """Protected VMs whose recovery points are file or crash consistent, sorted by
    name: vm, recovery_point_consistency, failed_requirements."""
    vms = res.vms
    rows = vms[vms["recovery_point_consistency"].isin(("file", "crash"))]
    cols = ["vm", "recovery_point_consistency", "failed_requirements"]
    return rows[cols].sort_values("vm", kind="stable").reset_index(drop=True)


UNPROTECTED_NOTE = "in no protection group: never backed up, no recovery points"
CONSISTENCY_NOTE = (
    "Kept running during backup by DPM 2012 R2 UR3+ on Windows Server 2012 R2 although "
    "an online requirement fails: a Linux guest with its Backup integration service on "
    "is file-consistent, any other such VM crash-consistent."
)


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
        lines += [
            CONSISTENCY_NOTE,
            "",
            "| VM | consistency | failed requirements |",
            "|---|---|---|",
        ]
        for row in weak.head(LISTED_VMS).itertuples():
            lines.append(
                f"| {row.vm} | {row.recovery_point_consistency} | {row.failed_requirements} |"
            )
        if len(weak) > LISTED_VMS:
            lines.append(f"| and {len(weak) - LISTED_VMS} more | | |")
    return lines
