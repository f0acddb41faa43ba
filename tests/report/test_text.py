"""Text of the results: KPI values in the unit their names say, and each table's
rows built once and rendered alike on the console, in Markdown and in HTML."""

from __future__ import annotations

import html
import math
import re

import pandas as pd
import pytest

from hvsim.report.html import table_html
from hvsim.report.text import (
    Table,
    comparison_table,
    console_columns,
    console_comparison,
    format_ci,
    format_kpi,
    headline,
    markdown,
    stats_table,
)
from hvsim.stats import summarize


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("backups.makespan_max_s", 7200.0, "2.00 h"),  # 7200 / 3600
        ("backups.makespan_max_s", -7200.0, "-2.00 h"),  # a difference B - A
        ("backups.mean_wait_s", 90.0, "1.5 min"),  # 90 / 60
        ("backups.mean_wait_s", 9.04, "9.0 s"),
        ("redirected_io.degraded_vm_minutes", 283656.1, "283656.1 min"),
        ("storage.pool_peak_bytes", 1.5e12, "1.50 TB"),
        ("consistency_checks.bytes_read", -948.23e6, "-948.23 MB"),
        ("storage.pool_peak_bytes", 12.0, "12 B"),
        ("backups.window_compliance", 0.973, "97.3%"),
        ("bottleneck.sw-dpm1", 0.5, "50.0%"),
        ("backups.jobs", 12345.0, "12,345"),
        ("backups.failed", 18.5, "18.5"),
        ("backups.failed", math.nan, "n/a"),
        ("backups.window_compliance", None, "n/a"),
    ],
)
def test_a_kpi_is_shown_in_the_unit_its_name_says(name, value, text):
    assert format_kpi(name, value) == text


def test_an_unknown_interval_is_na_and_a_known_one_is_in_the_kpis_unit():
    assert format_ci("downtime.total_s", math.nan, math.nan) == "n/a"
    assert format_ci("downtime.total_s", 60.0, 7200.0) == "[1.0 min, 2.00 h]"


def _html_cells(text: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", text)
    return [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)] for r in rows]


def _markdown_cells(lines: list[str]) -> list[list[str]]:
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return [cells[0]] + [[c.strip("`") for c in row] for row in cells[2:]]


def _console_cells(lines: list[str], widths: list[int]) -> list[list[str]]:
    out = []
    for line in [lines[0], *lines[2:]]:
        cells, pos = [], 0
        for w in widths:
            cells.append(line[pos : pos + w].strip())
            pos += w + 2
        out.append(cells)
    return out


def test_a_table_shows_the_same_cells_on_the_console_in_markdown_and_in_html():
    runs = pd.DataFrame(
        {
            "links[2].bandwidth": ["1 Gbps"] * 3 + ["10 Gbps"] * 3,
            "seed": [1, 2, 3] * 2,
            "backups.makespan_max_s": [7000.0, 7400.0, 7200.0, 2800.0, 2900.0, 2850.0],
            "storage.pool_peak_bytes": [8.2e11, 8.4e11, 8.3e11, 8.2e11, 8.3e11, 8.4e11],
        }
    )
    table = stats_table(summarize(runs, ["links[2].bandwidth"]), ["links[2].bandwidth"])
    expected = [list(table.head), *(list(r) for r in table.rows)]
    # The KPI column shows the KPI's words with the dotted name (kpis.json's) beside:
    # under them in HTML, in brackets as code in Markdown.
    words = {
        "backups.makespan_max_s": "longest night (per schedule)",
        "storage.pool_peak_bytes": "DPM pool peak (used)",
    }
    in_html = [expected[0]] + [
        [*r[:1], f'{words[r[1]]}<br><code class="key">{r[1]}</code>', *r[2:]] for r in expected[1:]
    ]
    in_markdown = [expected[0]] + [
        [*r[:1], f"{words[r[1]]} (`{r[1]}`)", *r[2:]] for r in expected[1:]
    ]
    assert _html_cells(table_html(table)) == in_html
    assert _markdown_cells(markdown(table)) == in_markdown
    widths = [max(len(r[i]) for r in expected) for i in range(len(table.head))]
    assert _console_cells(console_columns(table), widths) == expected
    # The mean of 7000, 7400 and 7200 s is 7200 s = 2.00 h; n = 3.
    assert expected[1][:4] == ["1 Gbps", "backups.makespan_max_s", "3", "2.00 h"]


def test_a_comparison_shows_b_minus_a_and_marks_an_interval_without_zero():
    diff = pd.DataFrame(
        [
            {
                "kpi": "scan.prod.duration_s",
                "a_mean": 8172.0,
                "a_ci_low": 8100.0,
                "a_ci_high": 8244.0,
                "b_mean": 504.0,
                "b_ci_low": 500.0,
                "b_ci_high": 508.0,
                "pairs": 2,
                "diff_mean": -7668.0,
                "diff_ci_low": -7700.0,
                "diff_ci_high": -7636.0,
                "significant": True,
            }
        ]
    )
    table = comparison_table(diff, ("old", "new"))
    assert list(table.rows[0]) == [
        "scan.prod.duration_s",
        "2.27 h [2.25 h, 2.29 h]",
        "8.4 min [8.3 min, 8.5 min]",
        "-2.13 h *",
        "[-2.14 h, -2.12 h]",
        # a scan's duration is better lower; B - A < 0 and its interval excludes 0
        "better",
    ]
    console = console_comparison(diff, ("old", "new")).splitlines()
    assert console[2].split("  ")[0] == "scan.prod.duration_s"
    assert console[2].rstrip().endswith("-2.13 h [-2.14 h, -2.12 h] *  better")
    assert console[-1] == "(* the interval excludes zero; ? it includes zero)"


def test_a_bar_in_a_cell_is_escaped_in_markdown_and_an_empty_cell_stays_one_space():
    table = Table(("value", "note"), [("1|2", ""), ("and 3 more", "")])
    assert markdown(table) == [
        "| value | note |",
        "|---|---|",
        "| 1\\|2 | |",
        "| and 3 more | |",
    ]


def test_the_headline_of_many_runs_shows_the_rto_of_guest_restore_kinds_where_non_zero():
    # A comparison of host- and guest-level protection of SQL Server: the RTO p95 of
    # sql_database restores is among the headline KPIs; a kind no run requested is not.
    cols = [
        "restores.per_kind.whole_vm.rto_p95_s",
        "restores.per_kind.sql_database.rto_p95_s",
        "restores.per_kind.exchange_mailbox.rto_p95_s",
    ]
    table = pd.DataFrame({cols[0]: [0.0, 0.0], cols[1]: [4300.0, 2315.0], cols[2]: [None, None]})
    assert headline(cols, table) == ["restores.per_kind.sql_database.rto_p95_s"]
