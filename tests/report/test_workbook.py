"""The Excel workbook's writer (hvsim/report/workbook.py): units from names, tables
longer than a sheet split over sheets (no row lost), and cells Excel cannot hold as
they are (infinities, NaN, text over 32,767 characters)."""

from __future__ import annotations

import datetime as dt
import math

import openpyxl
import pandas as pd
import pytest

from hvsim.report.workbook import EXCEL_CELL_CHARS, header_of, unit_of, write_workbook

START = dt.date(2026, 1, 5)


@pytest.mark.parametrize(
    ("name", "unit", "header"),
    [
        ("start_s", "s", "start (s)"),
        ("bytes", "B", "bytes (B)"),
        ("used_bytes", "B", "used_bytes (B)"),
        ("bytes_read", "B", "bytes_read (B)"),
        ("demand_bps", "B/s", "demand (B/s)"),
        ("seconds", "s", "seconds (s)"),
        ("degraded_vm_minutes", "min", "degraded_vm (min)"),
        ("throughput_ratio", "%", "throughput_ratio (%)"),
        ("daily_change", "%", "daily_change (%)"),
        ("job_id", "", "job_id"),
        ("vm", "", "vm"),
        # KPI names keep their dotted name whole, as in kpis.json and runs.csv.
        ("backups.mean_wait_s", "s", "backups.mean_wait_s (s)"),
        ("backups.window_compliance", "%", "backups.window_compliance (%)"),
        ("bottleneck.dpm01:pool-write", "%", "bottleneck.dpm01:pool-write (%)"),
        ("decision.bytes_per_day", "B/day", "decision.bytes_per_day (B/day)"),
        ("storage.days_until_full", "days", "storage.days_until_full (days)"),
        ("tape.window_overlap_h", "h", "tape.window_overlap_h (h)"),
        ("guest.agent_cpu_s_per_vm_day", "s/VM/day", "guest.agent_cpu_s_per_vm_day (s/VM/day)"),
        ("backups.jobs", "", "backups.jobs"),
    ],
)
def test_units_come_from_the_names(name, unit, header):
    assert unit_of(name) == unit
    assert header_of(name) == header


def test_a_table_longer_than_a_sheet_is_split_with_every_row_and_the_header_on_each(tmp_path):
    # 5 rows at 2 a sheet: sheets of rows 1-2, 3-4 and 5.
    table = pd.DataFrame({"job_id": [1, 2, 3, 4, 5], "start_s": [0.5, 1.5, 2.5, 3.5, 4.5]})
    path = tmp_path / "w.xlsx"
    splits = write_workbook(path, [("jobs", table)], START, rows_per_sheet=2)
    assert [s.sheets for s in splits] == [["jobs (1 of 3)", "jobs (2 of 3)", "jobs (3 of 3)"]]
    assert splits[0].line() == (
        "the jobs table (5 rows) is split over sheets jobs (1 of 3), jobs (2 of 3), "
        "jobs (3 of 3): a sheet holds 3 rows with the header"
    )
    wb = openpyxl.load_workbook(path)
    rows = []
    for ws in wb:
        values = list(ws.values)
        assert values[0] == ("job_id", "start (s)")
        assert ws.freeze_panes == "A2"
        rows += values[1:]
    assert rows == [(1, 0.5), (2, 1.5), (3, 2.5), (4, 3.5), (5, 4.5)]


def test_a_table_that_fits_keeps_its_name(tmp_path):
    table = pd.DataFrame({"x": [1, 2]})
    assert write_workbook(tmp_path / "w.xlsx", [("jobs", table)], START, rows_per_sheet=2) == []
    assert openpyxl.load_workbook(tmp_path / "w.xlsx").sheetnames == ["jobs"]


def test_cells_excel_cannot_hold_as_they_are(tmp_path):
    long = "x" * (EXCEL_CELL_CHARS + 10)
    table = pd.DataFrame(
        {
            "violation": [math.inf, math.nan, 2.0],
            "note": [long, "", "ok"],
            "met": [True, False, True],
            "start": pd.to_datetime(["2026-01-05 22:00:00", None, "2026-01-06 00:00:30"]),
        }
    )
    write_workbook(tmp_path / "w.xlsx", [("t", table)], START)
    rows = list(openpyxl.load_workbook(tmp_path / "w.xlsx")["t"].values)[1:]
    # Infinity as text, NaN, an empty text and a missing time as blank cells.
    assert [r[0] for r in rows] == ["inf", None, 2]
    assert [r[2] for r in rows] == [True, False, True]
    assert [r[3] for r in rows] == [
        dt.datetime(2026, 1, 5, 22, 0, 0),
        None,
        dt.datetime(2026, 1, 6, 0, 0, 30),
    ]
    # Text past a cell's 32,767 characters is cut to fit and says so.
    cut = rows[0][1]
    assert len(cut) == EXCEL_CELL_CHARS
    assert cut.endswith("(cut: 32,777 characters, 32,767 fit a cell; see the CSV)")  # 32,767 + 10
    assert [r[1] for r in rows[1:]] == [None, "ok"]


def test_columns_are_sized_to_header_and_values(tmp_path):
    # "vm": header 2 characters, values up to 21 ("a-rather-long-vm-name"): 21 + 2 = 23;
    # "n": header and values of 1 character, at least the minimum of 6.
    table = pd.DataFrame({"vm": ["a", "a-rather-long-vm-name"], "n": [1, 2]})
    write_workbook(tmp_path / "w.xlsx", [("t", table)], START)
    ws = openpyxl.load_workbook(tmp_path / "w.xlsx")["t"]
    # XlsxWriter stores a width with the cell's padding (under a character more).
    assert 23 <= ws.column_dimensions["A"].width < 24
    assert 6 <= ws.column_dimensions["B"].width < 7
