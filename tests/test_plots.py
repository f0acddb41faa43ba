"""Every plot returns a figure with data on it, for every example scenario."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

import hvsim
from hvsim.report import plots
from hvsim.report.html import run_report
from hvsim.sweep import summarize

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _has_data(fig) -> bool:
    ax = fig.axes[0]
    return bool(ax.patches or ax.lines or ax.collections)


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda p: p.stem)
def results(request):
    return hvsim.simulate(hvsim.load_scenario(request.param), seed=1)


@pytest.mark.parametrize("name", list(plots.RUN_PLOTS))
def test_each_run_plot_returns_a_figure_with_data(results, name):
    plot = plots.RUN_PLOTS[name]
    if plot in (plots.downtime_bars, plots.downtime_distribution) and results.downtime.empty:
        fig = plot(results)
        assert fig.axes[0].get_title().endswith("(none)")
        plt.close(fig)
        return
    fig = plot(results)
    assert _has_data(fig), name
    plt.close(fig)


def test_results_expose_the_plots_as_methods(results):
    fig = results.plot("gantt")
    assert _has_data(fig)
    plt.close(fig)


def test_run_report_is_self_contained_html_with_embedded_pngs(results):
    page = run_report(results, results.kpis())
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("data:image/png;base64,") == len(plots.RUN_PLOTS)
    assert "http" not in page.replace("http-equiv", "")


def test_kpi_against_parameter_draws_the_mean_and_its_ci_band():
    import pandas as pd

    table = pd.DataFrame(
        {"x": [1, 1, 2, 2, 3, 3], "seed": [1, 2] * 3, "k": [1.0, 1.2, 2.0, 2.4, 3.0, 3.3]}
    )
    fig = plots.kpi_against_parameter(summarize(table, ["x"]), "x", "k")
    ax = fig.axes[0]
    assert len(ax.lines) == 1 and len(ax.collections) == 1
    assert list(ax.lines[0].get_ydata()) == pytest.approx([1.1, 2.2, 3.15])
    plt.close(fig)
