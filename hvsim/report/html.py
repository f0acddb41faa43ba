"""Self-contained HTML reports: tables and plots embedded as base64 PNG."""

from __future__ import annotations

import base64
import html
import io

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from hvsim.report.plots import RUN_PLOTS, kpi_against_parameter
from hvsim.report.summary import kpi_rows
from hvsim.results import Results

STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
img { max-width: 100%; }
"""


def figure_png(fig: Figure) -> str:
    buf = io.BytesIO()
    # A fixed metadata set keeps the bytes the same from run to run.
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig: Figure, title: str) -> str:
    return (
        f"<h2>{html.escape(title)}</h2>"
        f'<img alt="{html.escape(title)}" src="data:image/png;base64,{figure_png(fig)}">'
    )


def _page(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def run_report(res: Results, kpis: dict, description: str = "") -> str:
    body = [f"<h1>hvsim: {html.escape(res.scenario)}</h1>"]
    if description:
        body.append(f"<p>{html.escape(description)}</p>")
    body.append(f"<p>Seed {res.seed}, {res.horizon_days:g} days from {res.start_date}.</p>")
    body.append(
        "<table>"
        + "".join(
            f"<tr><th>{html.escape(a)}</th><td>{html.escape(b)}</td></tr>"
            for a, b in kpi_rows(kpis)
        )
        + "</table>"
    )
    for title, plot in RUN_PLOTS.items():
        body.append(_img(plot(res), title))
    return _page(f"hvsim {res.scenario}", body)


def sweep_report(
    name: str, table: pd.DataFrame, summary: pd.DataFrame, parameters: list[str], kpis: list[str]
) -> str:
    body = [
        f"<h1>hvsim sweep: {html.escape(name)}</h1>",
        f"<p>{len(table)} runs; parameters: {html.escape(', '.join(parameters))}.</p>",
    ]
    for kpi in kpis:
        if parameters and (summary["kpi"] == kpi).any():
            body.append(_img(kpi_against_parameter(summary, parameters[0], kpi), kpi))
    body.append("<h2>Summary</h2>" + summary.to_html(index=False, float_format="%.4g"))
    return _page(f"hvsim sweep {name}", body)
