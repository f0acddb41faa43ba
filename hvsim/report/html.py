"""report.html: one self-contained page (inline CSS, plots as base64 PNG, no links
to fetch) for a run, replications, a sweep or a comparison, rendered from the
jinja2 templates in ``templates/`` (the page's structure and CSS); this module
makes the plots and the tables the templates show."""

from __future__ import annotations

import base64
import functools
import html
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from matplotlib.figure import Figure

from hvsim.report import plots
from hvsim.report.names import kpi_label
from hvsim.report.text import (
    BETTER_NOTE,
    BUSIEST_NOTE,
    BUSIEST_TITLE,
    CONSISTENCY_NOTE,
    LISTED_VMS,
    MEETS_NOTE,
    RECOMMENDATIONS_TITLE,
    RESTORES_NOTE,
    UNPROTECTED_NOTE,
    Table,
    busiest_table,
    comparison_table,
    consistency_table,
    failures_table,
    headline,
    kpi_table,
    marked_rows,
    meets_table,
    meets_targets,
    not_application_consistent,
    offline_table,
    recommendations_summary,
    restores_table,
    stats_table,
    sweep_kpis,
    unprotected_table,
    unprotected_vms,
)
from hvsim.results import Results
from hvsim.runs.store import rejected_line
from hvsim.stats import CONFIDENCE

TEMPLATES = Path(__file__).parent / "templates"


def figure_png(fig: Figure, dpi: int = 90) -> bytes:
    """PNG bytes of a figure (Agg), without a software tag so the bytes stay stable."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def figure_base64(fig: Figure) -> str:
    """The figure as PNG in base64, for an <img> of the page."""
    return base64.b64encode(figure_png(fig)).decode("ascii")


def _escape(value: Any) -> Any:
    """Every {{ value }} of a template, as html.escape writes it (quotes too); a
    macro's output (Markup) as it is."""
    from markupsafe import Markup

    return value if isinstance(value, Markup) else Markup(html.escape(str(value)))


@functools.cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_escape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = format
    env.filters["slug"] = slug
    env.filters["kpi_label"] = kpi_label
    return env


def slug(title: str) -> str:
    """A section title as an anchor: 'Jobs of the worst night' -> 'jobs-of-the-worst-night'."""
    return re.sub(r"[^a-z0-9]+", "-", str(title).lower()).strip("-")


def render(template: str, **context: Any) -> str:
    """A template of ``templates/`` rendered with ``context``."""
    return _environment().get_template(template).render(**context)


def table_html(table: Table) -> str:
    """One table of a report, as the templates render it."""
    return str(_environment().get_template("macros.html").module.table(table))


# A guest-level-only run has no backup night: these panels say so in one line.
GUEST_ONLY_GANTT = (
    "None: no host-level backup jobs in this run, its VMs are protected at guest level "
    "only (their jobs are in jobs.csv, their data sources in data_sources.csv)."
)
GUEST_ONLY_DOWNTIME = (
    "None: no host-level backups in this run; a guest-level backup never puts a VM in saved state."
)


GUEST_WHOLE_RUN_BIN_S = 3600.0


def _busiest_guest_day(res: Results) -> tuple[float, float, str]:
    """(start, end) in seconds of the day whose guest-level jobs moved the most bytes
    (the first such day), and its words."""
    jobs = res.jobs[res.jobs["outcome"] != "skipped"]
    per_day = jobs.groupby(jobs["start_s"] // plots.DAY_S)["bytes"].sum()
    day = float(per_day.idxmax()) * plots.DAY_S
    date = pd.Timestamp(res.start_date) + pd.Timedelta(seconds=day)
    words = f"busiest day of guest-level jobs ({date:%a %d %b %Y})"
    return day, min(day + plots.DAY_S, res.horizon_days * plots.DAY_S), words


def run_figures(
    res: Results, scenario: Any = None, full: bool = True, kpis: dict[str, Any] | None = None
) -> list[tuple[str, Figure | str]]:
    """The plots of one run, titled: the worst night's Gantt (and the last night's
    when it is another), saved-state downtime, utilisation and slot queues (the
    worst night, and with ``full`` the whole run too). A run of guest-level jobs
    only has no night: one line (a str) for the Gantt and the downtime, and its
    busiest day of guest-level jobs instead of the worst night. ``kpis``: the run's
    (res.kpis()), computed already."""
    figs: list[tuple[str, Figure | str]] = []
    if plots.guest_only(res):
        figs.append(("Jobs of the worst night", GUEST_ONLY_GANTT))
        figs.append(("Saved-state downtime", GUEST_ONLY_DOWNTIME))
        start, end, day = _busiest_guest_day(res)
        for plot, what in (
            (plots.utilisation, "Utilisation of the busiest links, CSVs and the pool"),
            (plots.slot_queues, "Job-slot queue lengths"),
        ):
            figs.append((f"{what}, {day}", plot(res, start_s=start, end_s=end, span=day)))
            if full:
                # Syncs every few minutes over weeks: their hourly mean, not their peaks.
                whole = plot(res, bin_s=GUEST_WHOLE_RUN_BIN_S)
                figs.append((f"{what} over the whole run, mean per hour", whole))
        return figs + tier_figures(res, scenario, kpis)
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
    return figs + tier_figures(res, scenario, kpis)


def tier_figures(
    res: Results, scenario: Any = None, kpis: dict[str, Any] | None = None
) -> list[tuple[str, Figure | str]]:
    """The storage tiers: the DPM pool by day, and only for a run that has them, online
    protection to Azure (upload backlog, vault) and the tape schedule."""
    figs: list[tuple[str, Figure | str]] = []
    if len(res.storage_days):
        figs.append(("DPM storage pool by day", plots.storage_timeline(res, kpis)))
    if len(res.online_days):
        figs.append(("Online protection to Azure", plots.online_timeline(res)))
    if len(res.tape_jobs):
        figs.append(("Long-term protection to tape", plots.tape_schedule(res, scenario)))
    return figs


def _pngs(figs: list[tuple[str, Figure | str]]) -> list[tuple[str, str, str]]:
    """(title, PNG as base64, "") per figure; (title, "", the line) for a panel with
    nothing to draw."""
    return [
        (title, "", fig) if isinstance(fig, str) else (title, figure_base64(fig), "")
        for title, fig in figs
    ]


def run_report(
    res: Results,
    kpis: dict[str, Any] | None = None,
    scenario: Any = None,
    description: str = "",
    replications: Any = None,
    checks: Sequence[Any] = (),
) -> str:
    """report.html of ``hvsim run``: the verdict (``checks``, hvsim.report.verdict), KPIs,
    (replication statistics,) and the plots of the run with the base seed.
    ``replications`` is a ``hvsim.sweep.SweepResult``."""
    from hvsim.report.verdict import summary_line

    kpis = kpis if kpis is not None else res.kpis()
    reps = replications if replications is not None and len(replications.table) else None
    context: dict[str, Any] = {"reps": reps}
    context["verdict"] = {"summary": summary_line(checks), "checks": checks} if checks else None
    if reps is not None:
        heads = headline(reps.kpis, reps.table)
        context["reps_headline"] = stats_table(reps.summary(heads))
        context["reps_png"] = figure_base64(plots.replications_figure(reps.table, heads))
        context["failures"] = _failures(reps.failures, [])
        context["reps_all"] = stats_table(reps.summary())
    return render(
        "run.html",
        title=f"hvsim {res.scenario}",
        res=res,
        description=description.strip(),
        kpis=kpi_table(kpis, res),
        coverage=_coverage(res),
        restores=restores_table(res),
        restores_note=RESTORES_NOTE,
        recommendations=recommendations_summary(res),
        recommendations_title=RECOMMENDATIONS_TITLE,
        figures=_pngs(run_figures(res, scenario, kpis=kpis)),
        **_run_tables(res),
        **context,
    )


def _run_tables(res: Results) -> dict[str, Any]:
    """The VMs backed up offline and why, failed attempts by reason, and the busiest
    resources of the backup path (as in summary.md)."""
    offline = res.vms[res.vms["method"] == "offline"]
    return {
        "offline": None if offline.empty else offline_table(res, offline),
        "failures_by_reason": failures_table(res),
        "busiest": busiest_table(res) if len(res.resources) else None,
        "busiest_title": BUSIEST_TITLE,
        "busiest_note": BUSIEST_NOTE,
    }


def _coverage(res: Results) -> dict[str, Any]:
    """Unprotected VMs and recovery points that are not application-consistent, at
    most LISTED_VMS rows each, then how many more."""
    weak = not_application_consistent(res)
    return {
        "unprotected": unprotected_vms(res),
        "unprotected_table": unprotected_table(res),
        "vms": len(res.vms),
        "listed": LISTED_VMS,
        "unprotected_note": UNPROTECTED_NOTE,
        "consistency_note": CONSISTENCY_NOTE,
        "weak": None if weak.empty else consistency_table(weak),
    }


def _failures(failures: pd.DataFrame, params: Sequence[str]) -> Table | None:
    rows = [
        [*(str(r[p]) for p in params), str(r["seed"]), r["error"]]
        for r in failures.to_dict("records")
    ]
    return Table([*params, "seed", "error"], rows) if rows else None


class DetailFigures(NamedTuple):
    """The plots of one run of a sweep or comparison, rendered (detail_figures)."""

    seed: int
    figures: list[tuple[str, str, str]]


def detail_figures(res: Results, scenario: Any = None) -> DetailFigures:
    """The plots a sweep's or comparison's report shows of one run, rendered: made as
    soon as the run is (hvsim.sweep's ``details``), its Results need not be kept."""
    return DetailFigures(res.seed, _pngs(run_figures(res, scenario, full=False)))


# A run drawn in detail: (label, Results, Scenario), or (label, DetailFigures).
Detail = tuple[str, Results, Any] | tuple[str, DetailFigures]


def _details(details: Sequence[Detail]) -> list[tuple[str, int, Any]]:
    out = []
    for label, *run in details:
        done = run[0] if isinstance(run[0], DetailFigures) else detail_figures(*run)
        out.append((label, done.seed, done.figures))
    return out


def sweep_report(
    sweep: Any,
    details: Sequence[Detail] = (),
    title: str = "",
    description: str = "",
    kpis: Sequence[str] = (),
    verdict: Sequence[str] = (),
    targets: Sequence[tuple[str, Any]] | None = None,
) -> str:
    """report.html of ``hvsim sweep``: the verdict (``verdict``: its lines, hvsim.report.
    verdict.many_verdict_lines), which combinations meet the ``targets`` (the
    verdict's; default window, RPO and pool), each KPI
    shown (``kpis``, the --kpi names; default the headline KPIs that change) against
    the varied parameter with its confidence band, statistics per combination, and
    the plots of one run of some combinations (``details``: (label, results,
    scenario), or (label, DetailFigures) rendered already))."""
    pngs, headline_table, all_table, meets = [], None, None, None
    if len(sweep.table):
        shown, _ = sweep_kpis(sweep, kpis)
        targets = meets_targets(sweep.table, sweep.params, targets)
        meets = meets_table(targets, sweep.params)
        for i in range(0, len(shown), 12):
            figure = plots.sweep_figure(sweep, shown[i : i + 12], meets=targets)
            pngs.append(figure_base64(figure))
        summary = sweep.summary(shown)
        headline_table = marked_rows(stats_table(summary, sweep.params), targets, sweep.params)
    detail_pngs = _details(details)
    if len(sweep.table):
        all_table = stats_table(sweep.summary(), sweep.params)
    return render(
        "sweep.html",
        title=title or "hvsim sweep",
        description=description.strip(),
        sweep=sweep,
        rejected=rejected_line(sweep.rejected) if sweep.rejected else "",
        failures=_failures(sweep.failures, sweep.params),
        sweep_pngs=pngs,
        headline=headline_table,
        meets=meets,
        meets_note=MEETS_NOTE,
        details=detail_pngs,
        all_kpis=all_table,
        verdict=list(verdict),
    )


def _advice(advice: dict[str, Any] | None) -> dict[str, Any] | None:
    if advice is None:
        return None
    front = advice.get("front")
    return {**advice, "front": figure_base64(front) if front is not None else None}


def compare_report(
    cmp: Any,
    details: Sequence[Detail] = (),
    advice: dict[str, Any] | None = None,
    verdict: Sequence[str] = (),
) -> str:
    """report.html of ``hvsim compare``: A and B with their intervals, the paired
    difference, and the plots of one run of each side. ``advice`` (hvsim advise):
    its ``title``, ``verdict`` and ``changes`` (lines), ``tables`` ((title, Table))
    and ``front`` (a figure or None), shown first; with advice, ``cmp`` may be None
    (the proposal is the input's design: nothing to compare)."""
    png, tables = None, []
    if cmp is not None and len(cmp.table):
        heads = headline(cmp.kpis, cmp.table)
        png = figure_base64(plots.comparison_figure(cmp, heads))
        for title, kpis in (("Headline KPIs", heads), ("All KPIs", cmp.kpis)):
            tables.append((title, comparison_table(cmp.differences(kpis), cmp.labels)))
    title = advice["title"] if cmp is None and advice else "hvsim comparison {} vs {}"
    return render(
        "compare.html",
        title=title.format(*cmp.labels) if cmp is not None else title,
        cmp=cmp,
        confidence=CONFIDENCE,
        better_note=BETTER_NOTE,
        failures=_failures(cmp.failures, ["scenario"]) if cmp is not None else None,
        comparison_png=png,
        tables=tables,
        details=_details(details),
        advice=_advice(advice),
        verdict=list(verdict),
    )
