"""What the advisor writes: the proposed scenario as YAML and its diff against the
input, every trial in a table, advice.md (the verdict, the targets and objectives of
input and proposal, and a sentence per changed knob saying what it bought) and the
trade-off front when there are several objectives."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import yaml
from matplotlib.figure import Figure

from hvsim.advise.knobs import describe_value
from hvsim.advise.search import Advice, Design, feasible
from hvsim.report.plots import kpi_unit
from hvsim.report.text import Table, format_kpi, markdown
from hvsim.targets import COST, Objective, Target


def scenario_yaml(doc: dict[str, Any]) -> str:
    """A scenario document as YAML, keys in the document's order."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def proposal_diff(advice: Advice) -> str:
    """A unified diff from the input (as YAML) to the proposed scenario."""
    chosen = advice.proposal or advice.best
    assert chosen.doc is not None
    name = "proposal.yaml" if advice.proposal is not None else "closest.yaml"
    return "".join(
        difflib.unified_diff(
            scenario_yaml(advice.doc).splitlines(keepends=True),
            scenario_yaml(chosen.doc).splitlines(keepends=True),
            fromfile=advice.source,
            tofile=name,
        )
    )


def _fmt(kpi: str, value: float) -> str:
    if kpi == COST:
        return f"{value:,.0f}"
    return format_kpi(kpi, value)


def _target_cell(advice: Advice, d: Design, t: Target) -> str:
    v = advice.target_value(d, t)
    mark = "meets" if t.meets(v) else "misses"
    return f"{_fmt(t.kpi, v)} ({mark})"


def _objective_cell(advice: Advice, d: Design, o: Objective) -> str:
    return _fmt(o.kpi, advice.objective_value(d, o))


def verdict(advice: Advice) -> list[str]:
    """The first lines: whether a design meets the targets, and which."""
    s = advice.settings
    n = len(advice.trials)
    how = f"{n} trial(s), {s.replications} replication(s) each (seeds {s.base_seed} to "
    how += f"{s.base_seed + s.replications - 1})"
    if advice.stopped_by_time:
        how += ", stopped by the time budget"
    if advice.proposal is None:
        lines = [f"No design the knobs allow meets every target ({how})."]
        missed = [t for t in s.targets if not t.meets(advice.target_value(advice.best, t))]
        label = "the input" if advice.best is advice.input else f"trial {advice.best.trial}"
        lines.append(
            f"Closest: {label}, which misses "
            + "; ".join(
                f"{t.label} (reaches {_fmt(t.kpi, advice.target_value(advice.best, t))})"
                for t in missed
            )
            + "."
        )
        return lines
    objectives = ", ".join(o.label for o in s.objectives)
    if len(s.objectives) > 1:
        which = "the input's design" if not advice.changed() else "a change of the input"
        return [
            f"{len(advice.front)} design(s) meeting every target make the trade-off front of "
            f"{objectives} ({how}); the proposal is the one with the least "
            f"{s.objectives[0].label}, {which}."
        ]
    if not advice.changed():
        met = "meets every target" if feasible(advice.input, s) else "is the best found"
        return [f"The input design {met}, and no allowed change improves {objectives} ({how})."]
    inp = "meets" if feasible(advice.input, s) else "does not meet"
    return [
        f"The proposal meets every target (the input {inp} them), changing "
        f"{len(advice.changed())} knob(s) ({how})."
    ]


def knob_sentences(advice: Advice) -> list[str]:
    """For each changed knob: the proposal with it against the proposal without it
    (the knob as in the input), on the objectives and the targets it moves."""
    s = advice.settings
    chosen = advice.proposal or advice.best
    out = []
    for j in advice.changed():
        knob = s.knobs[j]
        was = describe_value(knob, advice.input.choice[j], advice.doc)
        now = describe_value(knob, chosen.choice[j], advice.doc)
        alt = advice.without.get(j)
        head = f"Setting {knob.path} to {now} (input: {was})"
        if alt is None or alt.error:
            why = f": without it the design cannot run ({alt.error})" if alt is not None else ""
            out.append(head + why + ".")
            continue
        moves = []
        for o in s.objectives:
            a, b = advice.objective_value(alt, o), advice.objective_value(chosen, o)
            if a != b:
                moves.append(f"{o.label} from {_fmt(o.kpi, a)} to {_fmt(o.kpi, b)}")
        for t in s.targets:
            a, b = advice.target_value(alt, t), advice.target_value(chosen, t)
            if a != b or t.meets(a) != t.meets(b):
                gained = " (now met)" if t.meets(b) and not t.meets(a) else ""
                lost = " (now missed)" if t.meets(a) and not t.meets(b) else ""
                moves.append(f"{t.kpi} from {_fmt(t.kpi, a)} to {_fmt(t.kpi, b)}{gained}{lost}")
        body = " takes " + ", ".join(moves) if moves else " changes no objective or target"
        out.append(head + body + " (the proposal without and with this change).")
    return out


def _changes(advice: Advice, d: Design) -> str:
    """``path=value`` of each knob ``d`` sets otherwise than the input ('none')."""
    pairs = zip(advice.settings.knobs, advice.input.choice, d.choice, strict=True)
    return (
        ", ".join(f"{k.path}={k.labels[b]}" for k, a, b in pairs if a != b and b is not None)
        or "none"
    )


def advice_tables(advice: Advice) -> list[tuple[str, Table]]:
    """The targets and the objectives of the input and the proposal (or the closest
    design), and the trade-off front with several objectives."""
    s = advice.settings
    chosen = advice.proposal or advice.best
    name = "proposal" if advice.proposal is not None else "closest"

    def side_by_side(head: str, items: Sequence[Any], cell: Any) -> Table:
        rows = [[x.label, cell(advice, advice.input, x), cell(advice, chosen, x)] for x in items]
        return Table([head, "input", name], rows, numeric_from=1, code=0)

    targets = side_by_side("target", s.targets, _target_cell)
    objectives = side_by_side("minimise", s.objectives, _objective_cell)
    tables = [("Targets", targets), ("Objectives", objectives)]
    if len(s.objectives) > 1:
        front = Table(
            ["trial", *[o.label for o in s.objectives], "changes from the input"],
            [
                [
                    "input" if d is advice.input else str(d.trial),
                    *[_objective_cell(advice, d, o) for o in s.objectives],
                    _changes(advice, d),
                ]
                for d in advice.front
            ],
        )
        tables.append(("Trade-off front (designs meeting the targets)", front))
    return tables


def advice_markdown(advice: Advice, title: str) -> str:
    s = advice.settings
    lines = [f"# {title}", "", *[f"**{line}**" for line in verdict(advice)]]
    for heading, table in advice_tables(advice):
        lines += ["", f"## {heading}", "", *markdown(table)]
    lines += ["", "## What each change buys", ""]
    lines += [f"- {x}" for x in knob_sentences(advice)] or ["- No knob changed."]
    table = advice.table()
    counts = table[table["design"] != "input"]["state"].value_counts()
    lines += [
        "",
        "## Search",
        "",
        f"- {len(advice.trials)} trials besides the input's design: "
        + ", ".join(f"{n} {state}" for state, n in counts.items())
        + ".",
        "- Each target holds in the replications its @ says (@all: every one; @pNN: "
        "NN % of them; @mean: the mean); its value is the replication that decides.",
        "- Knobs: " + "; ".join(f"`{k.path}` = {', '.join(k.labels)}" for k in s.knobs),
    ]
    return "\n".join(lines) + "\n"


def front_figure(advice: Advice) -> Figure:
    """The first two objectives of every trial that ran in full: the designs meeting
    the targets, those missing them, the front and the input."""
    from hvsim.report.plots import _figure

    s = advice.settings
    ox, oy = s.objectives[0], s.objectives[1]
    fig = _figure(7.0, 5.0)
    ax = fig.subplots()
    done = [d for d in [advice.input, *advice.trials] if not d.error and not d.pruned]
    xs = [advice.objective_value(d, ox) for d in done]
    ys = [advice.objective_value(d, oy) for d in done]
    dx, ux = kpi_unit(ox.kpi, xs) if ox.kpi != COST else (1.0, "")
    dy, uy = kpi_unit(oy.kpi, ys) if oy.kpi != COST else (1.0, "")
    for ok, colour, label in ((False, "#bbbbbb", "misses a target"), (True, "#4c72b0", "meets")):
        pts = [(x, y) for d, x, y in zip(done, xs, ys, strict=True) if feasible(d, s) == ok]
        if pts:
            ax.scatter([p[0] / dx for p in pts], [p[1] / dy for p in pts], c=colour, label=label)
    front = sorted(advice.front, key=lambda d: advice.objective_value(d, ox))
    if front:
        ax.plot(
            [advice.objective_value(d, ox) / dx for d in front],
            [advice.objective_value(d, oy) / dy for d in front],
            "o-",
            color="#dd8452",
            drawstyle="steps-post",
            label="front",
        )
    ax.scatter(
        [advice.objective_value(advice.input, ox) / dx],
        [advice.objective_value(advice.input, oy) / dy],
        marker="*",
        s=200,
        c="black",
        label="input",
    )
    ax.set_xlabel(f"{ox.label} ({ux})" if ux else ox.label)
    ax.set_ylabel(f"{oy.label} ({uy})" if uy else oy.label)
    ax.legend(fontsize=8)
    ax.set_title("Trade-off front of the designs meeting the targets")
    return fig


def write_advice(
    folder: Any, advice: Advice, title: str, comparison: Any = None, details: Any = ()
) -> list[str]:
    """Into the fresh folder ``folder``: advice.md, the proposed (or closest) scenario
    and its diff, trials.csv/.parquet, the front (several objectives), report.html
    and, with a ``comparison`` of input and proposal, its runs and compare.csv. The
    names written."""
    from hvsim.files import atomic_write, table_csv, write_table, write_text
    from hvsim.report.html import compare_report, figure_png

    chosen = advice.proposal or advice.best
    assert chosen.doc is not None
    name = "proposal" if advice.proposal is not None else "closest"
    write_text(folder / "advice.md", advice_markdown(advice, title))
    write_text(folder / f"{name}.yaml", scenario_yaml(chosen.doc))
    write_text(folder / f"{name}.diff", proposal_diff(advice))
    write_table(advice.table(), folder, "trials")
    written = ["advice.md", f"{name}.yaml", f"{name}.diff", "trials.parquet", "trials.csv"]
    if len(advice.settings.objectives) > 1:
        atomic_write(folder / "front.png", figure_png(front_figure(advice)))
        written.append("front.png")
    page = {
        "title": title,
        "verdict": verdict(advice),
        "changes": knob_sentences(advice),
        "tables": advice_tables(advice),
        "front": front_figure(advice) if len(advice.settings.objectives) > 1 else None,
    }
    write_text(folder / "report.html", compare_report(comparison, details, page))
    written.append("report.html")
    if comparison is not None:
        write_table(comparison.table, folder, "runs")
        write_text(folder / "compare.csv", table_csv(comparison.differences()))
        written += ["runs.parquet", "runs.csv", "compare.csv"]
    return written


def advice_sheets(advice: Advice, comparison: Any = None) -> list[tuple[str, Any]]:
    """The advice's workbook sheets (hvsim.report.workbook): the trials, then with a
    ``comparison`` of input and proposal its differences and runs."""
    from hvsim.report.workbook import compare_sheets

    sheets: list[tuple[str, Any]] = [("trials", advice.table())]
    if comparison is not None:
        sheets += compare_sheets(comparison)
    return sheets
