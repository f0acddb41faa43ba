"""Console and Markdown text of many runs: statistics tables, comparisons, and
KPI values in the unit their names say."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from hvsim.runs.plan import combination_label, describe
from hvsim.runs.store import rejected_line
from hvsim.stats import CONFIDENCE

if TYPE_CHECKING:
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
    "storage.pool_peak_bytes",
    "coverage.unprotected_vms",
)


def headline(kpi_columns: Sequence[str], table: pd.DataFrame | None = None) -> list[str]:
    """The headline KPIs present (scan durations per cluster included), in a fixed
    order; with a table, only those that are non-zero in some run."""
    scans = [c for c in kpi_columns if c.startswith("scan.") and c.endswith(".duration_s")]
    names = [k for k in HEADLINE_KPIS if k in kpi_columns] + scans
    if table is not None:
        names = [k for k in names if (table[k].fillna(0) != 0).any()]
    return names


def format_kpi(name: str, value: float) -> str:
    """A KPI value in the unit its name says (seconds, bytes, shares, counts)."""
    if value is None or value != value:
        return "n/a"
    a = abs(value)
    if name.endswith("_s"):
        if a >= 3600:
            return f"{value / 3600:.2f} h"
        if a >= 60:
            return f"{value / 60:.1f} min"
        return f"{value:.1f} s"
    if name.endswith("_minutes"):
        return f"{value:.1f} min"
    if "bytes" in name.rsplit(".", 1)[-1]:
        for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
            if a >= f:
                return f"{value / f:.2f} {unit}"
        return f"{value:.0f} B"
    if name.endswith(("window_compliance", "throughput_ratio")) or name.startswith("bottleneck."):
        return f"{value:.1%}"
    if a >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_ci(name: str, low: float, high: float) -> str:
    if low != low:
        return "n/a"
    return f"[{format_kpi(name, low)}, {format_kpi(name, high)}]"


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def stats_table_markdown(summary: pd.DataFrame, by: Sequence[str]) -> list[str]:
    head = [*by, "KPI", "n", "mean", f"{CONFIDENCE:.0%} CI", "p50", "p95"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary.to_dict("records"):
        k = r["kpi"]
        cells = [_md_escape(r[c]) for c in by]
        cells += [
            f"`{k}`",
            str(r["n"]),
            format_kpi(k, r["mean"]),
            format_ci(k, r["ci_low"], r["ci_high"]),
            format_kpi(k, r["p50"]),
            format_kpi(k, r["p95"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def console_stats(summary: pd.DataFrame, by: Sequence[str], kpis: Sequence[str]) -> str:
    """Mean, interval, p50 and p95 of each KPI: one line per KPI, or with varied
    columns ``by`` a block per KPI with one line per combination."""
    order = {k: i for i, k in enumerate(kpis)}
    rows = [r for r in summary.to_dict("records") if r["kpi"] in order]
    rows.sort(key=lambda r: order[r["kpi"]])  # stable: combinations keep their order

    def cells(r: dict[str, Any]) -> str:
        k = r["kpi"]
        return (
            f"{format_kpi(k, r['mean']):>11}  "
            f"{CONFIDENCE:.0%} CI {format_ci(k, r['ci_low'], r['ci_high']):<27}  "
            f"p50 {format_kpi(k, r['p50']):>10}  p95 {format_kpi(k, r['p95']):>10}"
        )

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


def console_comparison(diff: pd.DataFrame, labels: tuple[str, str]) -> str:
    head = ["KPI", f"A: {labels[0]}", f"B: {labels[1]}", f"B - A [{CONFIDENCE:.0%} CI]"]
    rows = [head]
    for r in diff.itertuples(index=False):
        k = r.kpi
        mark = " *" if r.significant else ""
        rows.append(
            [
                k,
                format_kpi(k, r.a_mean),
                format_kpi(k, r.b_mean),
                f"{format_kpi(k, r.diff_mean)} {format_ci(k, r.diff_ci_low, r.diff_ci_high)}"
                + mark,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out) + "\n(* the interval excludes zero)"


def sweep_markdown(result: SweepResult, title: str, description: str = "") -> str:
    seeds = result.seeds
    lines = [f"# {title}", ""]
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
    lines += [
        f"Runs: {len(result.table)} finished ({result.computed} computed, "
        f"{result.stored} from the store), {len(result.failures)} failed."
        + (f" {rejected_line(result.rejected)}." if result.rejected else ""),
        "",
    ]
    if len(result.failures):
        lines += ["## Failed runs", ""]
        for r in result.failures.to_dict("records"):
            values = {p: r[p] for p in result.params}
            lines.append(f"- {_md_escape(describe(values, r['seed']))}: {_md_escape(r['error'])}")
        lines.append("")
    if result.table.empty:
        return "\n".join(lines) + "\n"
    heads = headline(result.kpis, result.table)
    lines += ["## Headline KPIs", ""]
    lines += stats_table_markdown(result.summary(heads), result.params)
    lines += ["", "## All KPIs", ""]
    lines += stats_table_markdown(result.summary(), result.params)
    return "\n".join(lines) + "\n"


def compare_markdown(cmp: Comparison) -> str:
    seeds = list(range(cmp.base_seed, cmp.base_seed + cmp.replications))
    a, b = cmp.labels
    lines = [
        f"# hvsim comparison: {a} vs {b}",
        "",
        f"A = `{cmp.sources[0]}`, B = `{cmp.sources[1]}`; {cmp.replications} "
        f"replication(s) each with the same seeds ({seeds[0]} to {seeds[-1]}, common random "
        f"numbers). B - A is the mean of the per-seed differences with its "
        f"{CONFIDENCE:.0%} Student t interval; * marks an interval that excludes zero.",
        "",
        f"Runs: {len(cmp.table)} finished ({cmp.computed} computed, {cmp.stored} from "
        f"the store), {len(cmp.failures)} failed."
        + (f" {rejected_line(cmp.rejected)}." if cmp.rejected else ""),
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
        lines += [
            f"## {title}",
            "",
            f"| KPI | A: {_md_escape(a)} | B: {_md_escape(b)} | B - A | {CONFIDENCE:.0%} CI |",
            "|---|---|---|---|---|",
        ]
        for r in part.itertuples(index=False):
            k = r.kpi
            lines.append(
                f"| `{k}` | {format_kpi(k, r.a_mean)} {format_ci(k, r.a_ci_low, r.a_ci_high)} "
                f"| {format_kpi(k, r.b_mean)} {format_ci(k, r.b_ci_low, r.b_ci_high)} "
                f"| {format_kpi(k, r.diff_mean)}{' *' if r.significant else ''} "
                f"| {format_ci(k, r.diff_ci_low, r.diff_ci_high)} |"
            )
        lines.append("")
    return "\n".join(lines)
