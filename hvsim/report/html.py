"""report.html: one self-contained page (inline CSS, plots as base64 PNG, no links
to fetch) for a run, replications, a sweep or a comparison."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from hvsim.report import plots
from hvsim.report.text import (
    CONSISTENCY_NOTE,
    LISTED_VMS,
    UNPROTECTED_NOTE,
    Table,
    comparison_table,
    consistency_table,
    headline,
    kpi_table,
    not_application_consistent,
    stats_table,
    unprotected_vms,
)
from hvsim.results import Results
from hvsim.runs.store import rejected_line
from hvsim.stats import CONFIDENCE, varying

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222;
       max-width: 1180px; margin: 1.5em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; font-size: 13px; margin: 0.6em 0; }
th, td { border: 1px solid #d5d5d5; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.2em; }
p.note { color: #555; font-size: 0.92em; }
code { font-size: 0.95em; }
"""


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    """PNG bytes of a figure (Agg), without a software tag so the bytes stay stable."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def figure_img(fig: Figure, alt: str) -> str:
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _e(text: Any) -> str:
    return html.escape(str(text))


def table_html(table: Table) -> str:
    numeric_from = table.numeric_from if table.numeric_from is not None else len(table.head)
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in table.head) + "</tr>"]
    for row in table.rows:
        cells = "".join(
            f'<td class="num">{_e(c)}</td>' if i >= numeric_from else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    return "".join(out) + "</table>"


def page(title: str, body: Sequence[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def run_figures(res: Results, scenario: Any = None, full: bool = True) -> list[tuple[str, Figure]]:
    """The plots of one run, titled: the worst night's Gantt (and the last night's
    when it is another), saved-state downtime, utilisation and slot queues (the
    worst night, and with ``full`` the whole run too)."""
    figs: list[tuple[str, Figure]] = []
    has_jobs = bool((res.jobs["outcome"] != "skipped").any())
    figs.append(("Jobs of the worst night", plots.gantt(res, "worst", scenario)))
    if has_jobs and full:
        worst = plots.Night.of(res, "worst", scenario).index
        last = plots.Night.of(res, "last", scenario).index
        if last != worst:
            figs.append(("Jobs of the last night", plots.gantt(res, "last", scenario)))
    figs.append(("Saved-state downtime", plots.downtime(res)))
    night = "worst" if has_jobs else None
    for plot, worst_title, whole_title in (
        (
            plots.utilisation,
            "Utilisation of the busiest links, CSVs and the pool, worst night",
            "Utilisation over the whole run",
        ),
        (
            plots.slot_queues,
            "Job-slot queue lengths, worst night",
            "Job-slot queue lengths over the whole run",
        ),
    ):
        figs.append((worst_title, plot(res, night=night, scenario=scenario)))
        if full:
            figs.append((whole_title, plot(res)))
    return figs


def _figures_html(figs: list[tuple[str, Figure]], level: int = 2) -> list[str]:
    return [f"<h{level}>{_e(title)}</h{level}>{figure_img(fig, title)}" for title, fig in figs]


def run_report(
    res: Results,
    kpis: dict[str, Any] | None = None,
    scenario: Any = None,
    description: str = "",
    replications: Any = None,
) -> str:
    """report.html of ``hvsim run``: KPIs, (replication statistics,) and the plots of
    the run with the base seed. ``replications`` is a ``hvsim.sweep.SweepResult``."""
    kpis = kpis if kpis is not None else res.kpis()
    body = [f"<h1>hvsim: {_e(res.scenario)}</h1>"]
    if description:
        body.append(f"<p>{_e(description.strip())}</p>")
    if replications is not None and len(replications.table):
        seeds = replications.seeds
        body.append(
            f"<p>{replications.replications} replications, seeds {seeds[0]} to {seeds[-1]}; "
            "each KPI's mean with its Student t confidence interval and the 50th and 95th "
            f"percentiles across runs. The plots show the run with seed {res.seed}.</p>"
        )
        heads = headline(replications.kpis, replications.table)
        body.append("<h2>KPIs across replications</h2>")
        body.append(table_html(stats_table(replications.summary(heads))))
        body.append(
            figure_img(plots.replications_figure(replications.table, heads), "replications")
        )
        if len(replications.failures):
            body += _failures_html(replications.failures, [])
        body.append(f"<h2>KPIs of the run with seed {res.seed}</h2>")
    else:
        body.append(
            f"<p>Seed {res.seed}, {res.horizon_days:g} simulated days from "
            f"{res.start_date.isoformat()}.</p><h2>KPIs</h2>"
        )
    body.append(table_html(kpi_table(kpis)))
    body += coverage_html(res)
    body += _figures_html(run_figures(res, scenario))
    if replications is not None and len(replications.table):
        body.append("<h2>All KPIs across replications</h2>")
        body.append(table_html(stats_table(replications.summary())))
    return page(f"hvsim {res.scenario}", body)


def coverage_html(res: Results) -> list[str]:
    """Unprotected VMs and recovery points that are not application-consistent, at
    most LISTED_VMS rows each, then how many more."""
    names = unprotected_vms(res)
    body = ["<h2>Unprotected VMs</h2>"]
    if not names:
        body.append("<p>None: every VM is in a protection group.</p>")
    else:
        more = f", and {len(names) - LISTED_VMS} more" if len(names) > LISTED_VMS else ""
        body.append(
            f"<p>{len(names)} of {len(res.vms)} VMs are {_e(UNPROTECTED_NOTE)}: "
            f"{_e(', '.join(names[:LISTED_VMS]))}{more}.</p>"
        )
    weak = not_application_consistent(res)
    body.append("<h2>Recovery points not application-consistent</h2>")
    if weak.empty:
        body.append("<p>None: every protected VM's recovery points are application-consistent.</p>")
    else:
        body.append(f"<p>{_e(CONSISTENCY_NOTE)}</p>")
        body.append(table_html(consistency_table(weak)))
    return body


def _failures_html(failures: pd.DataFrame, params: Sequence[str]) -> list[str]:
    rows = [
        [*(str(r[p]) for p in params), str(r["seed"]), r["error"]]
        for r in failures.to_dict("records")
    ]
    return ["<h2>Failed runs</h2>", table_html(Table([*params, "seed", "error"], rows))]


def sweep_report(
    sweep: Any,
    details: Sequence[tuple[str, Results, Any]] = (),
    title: str = "",
    description: str = "",
) -> str:
    """report.html of ``hvsim sweep``: each KPI against the varied parameter with its
    confidence band, statistics per combination, and the plots of one run of some
    combinations (``details``: (label, results, scenario))."""
    title = title or "hvsim sweep"
    body = [f"<h1>{_e(title)}</h1>"]
    if description:
        body.append(f"<p>{_e(description.strip())}</p>")
    seeds = sweep.seeds
    varied = "".join(
        f"<li><code>{_e(v.path)}</code>: {_e(', '.join(v.labels))}</li>" for v in sweep.varies
    )
    body.append(
        f"<p>Varied:</p><ul>{varied}</ul><p>{sweep.replications} replication(s) per "
        f"combination (seeds {seeds[0]} to {seeds[-1]}); {len(sweep.table)} runs finished "
        f"({sweep.computed} computed, {sweep.stored} from the store), "
        f"{len(sweep.failures)} failed"
        + (f"; {_e(rejected_line(sweep.rejected))}" if sweep.rejected else "")
        + ".</p>"
    )
    if len(sweep.failures):
        body += _failures_html(sweep.failures, sweep.params)
    if len(sweep.table):
        moving = varying(sweep.table, sweep.kpis)
        heads = [k for k in headline(sweep.kpis) if k in moving]
        rest = [k for k in moving if k not in heads]
        body.append("<h2>KPIs against the varied parameter</h2>")
        body.append(
            "<p class='note'>Mean over replications, shaded: its confidence interval. "
            "KPIs that do not change across the sweep are left out of the plots.</p>"
        )
        for i in range(0, len(heads + rest), 12):
            chunk = (heads + rest)[i : i + 12]
            body.append(figure_img(plots.sweep_figure(sweep, chunk), "KPIs against parameter"))
        body.append("<h2>Headline KPIs per combination</h2>")
        heads = headline(sweep.kpis, sweep.table)
        body.append(table_html(stats_table(sweep.summary(heads), sweep.params)))
    for label, res, scenario in details:
        body.append(f"<h2>One run: {_e(label)}, seed {res.seed}</h2>")
        body += _figures_html(run_figures(res, scenario, full=False), level=3)
    if len(sweep.table):
        body.append("<h2>All KPIs per combination</h2>")
        body.append(table_html(stats_table(sweep.summary(), sweep.params)))
    return page(title, body)


def compare_report(cmp: Any, details: Sequence[tuple[str, Results, Any]] = ()) -> str:
    """report.html of ``hvsim compare``: A and B with their intervals, the paired
    difference, and the plots of one run of each side."""
    a, b = cmp.labels
    seeds = cmp.seeds
    body = [
        f"<h1>hvsim comparison: {_e(a)} vs {_e(b)}</h1>",
        f"<p>A = <code>{_e(cmp.sources[0])}</code>, B = <code>{_e(cmp.sources[1])}</code>; "
        f"{cmp.replications} replication(s) each with the same seeds ({seeds[0]} to "
        f"{seeds[-1]}: common random numbers). B - A is the mean of the per-seed "
        f"differences with its {CONFIDENCE:.0%} Student t interval; * marks an interval "
        "that excludes zero.</p>",
    ]
    if len(cmp.failures):
        body += _failures_html(cmp.failures, ["scenario"])
    if len(cmp.table):
        heads = headline(cmp.kpis, cmp.table)
        body.append(figure_img(plots.comparison_figure(cmp, heads), "comparison"))
        for title, kpis in (("Headline KPIs", heads), ("All KPIs", cmp.kpis)):
            body.append(f"<h2>{title}</h2>")
            body.append(table_html(comparison_table(cmp.differences(kpis), cmp.labels)))
    for label, res, scenario in details:
        body.append(f"<h2>One run: {_e(label)}, seed {res.seed}</h2>")
        body += _figures_html(run_figures(res, scenario, full=False), level=3)
    return page(f"hvsim comparison {a} vs {b}", body)
