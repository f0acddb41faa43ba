"""The Excel workbook of a run, sweep, comparison or advice (``--xlsx``): one
``.xlsx`` file a planner opens beside the DPM storage calculators, written with
XlsxWriter.

- The first sheet holds the KPIs (a run: every key of kpis.json by its dotted
  name, its value and unit; a sweep: the summary per combination; a comparison:
  the differences; advice: the trials); the tables follow, one sheet each.
- Each sheet's header row is frozen and filtered, columns are sized to their
  contents and the headers carry the unit their names say (``start_s`` is
  ``start (s)``, ``used_bytes`` is ``used_bytes (B)``); times are Excel dates.
- A table longer than a sheet's 1,048,576 rows is split over sheets ``jobs (1 of
  3)``, ``jobs (2 of 3)``, ... with the header on each: no row is dropped.
- The same inputs give the same bytes: the file's dates are the scenario's
  start date and XlsxWriter gives every part of the zip a fixed time stamp.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hvsim.report.text import is_share

if TYPE_CHECKING:
    from hvsim.results import Results
    from hvsim.sweep import Comparison, SweepResult

# Excel's limits: rows a sheet (the header is one of them), characters a cell and a
# sheet name.
EXCEL_ROWS = 1_048_576
# Rows of a table a sheet holds under its header (a test makes it smaller).
SHEET_ROWS = EXCEL_ROWS - 1
EXCEL_COLUMNS = 16_384
EXCEL_CELL_CHARS = 32_767
SHEET_NAME_CHARS = 31
# Rows read to size a column (the header counts too), and the widths allowed.
WIDTH_SAMPLE = 500
WIDTH_MIN, WIDTH_MAX = 6, 60
# Rows converted at a time (a large table is never copied whole into Python lists).
CHUNK_ROWS = 50_000
EXCEL_EPOCH = pd.Timestamp("1899-12-30")

# A column's unit from the end of its name (the first that matches), and whether the
# ending is dropped from a table's header (``start_s`` -> ``start (s)``).
_SUFFIX_UNITS = (
    ("_s_per_vm_day", "s/VM/day"),
    ("_bps", "B/s"),
    ("_minutes", "min"),
    ("_s", "s"),
    ("_h", "h"),
    ("_days", "days"),
)
# Shares of 1 that are not named like the KPIs' shares (report.text.is_share).
_SHARE_COLUMNS = ("throughput_ratio", "utilisation", "daily_change")

_FORMATS = {
    "B": "#,##0",
    "B/s": "#,##0",
    "B/day": "#,##0",
    "%": "0.0%",
    "s": "#,##0.0##",
    "min": "#,##0.0##",
    "h": "#,##0.0##",
    "days": "#,##0.0##",
    "s/VM/day": "#,##0.0##",
}
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"


def unit_of(name: str) -> str:
    """The unit a column or KPI name says ('' for a count, a name or an unknown):
    seconds ``_s``, bytes (a last part naming bytes, ``B/day`` per day), bytes a
    second ``_bps``, hours ``_h``, minutes ``_minutes``, days, and shares of 1 (%)."""
    last = name.rsplit(".", 1)[-1]
    if "bytes" in last:
        return "B/day" if last.endswith("_per_day") else "B"
    if is_share(name) or last.endswith(_SHARE_COLUMNS):
        return "%"
    if last == "seconds":
        return "s"
    if last.startswith("days_"):
        return "days"
    for suffix, unit in _SUFFIX_UNITS:
        if last.endswith(suffix):
            return unit
    return ""


def header_of(column: str) -> str:
    """A table column's header with its unit: ``start_s`` -> ``start (s)``; a KPI's
    dotted name is kept whole (``backups.mean_wait_s (s)``) so it reads as in
    kpis.json and runs.csv."""
    unit = unit_of(column)
    if not unit:
        return column
    stem = column
    if "." not in column:
        for suffix, suffix_unit in _SUFFIX_UNITS:
            if suffix_unit == unit and column.endswith(suffix) and len(column) > len(suffix):
                stem = column[: -len(suffix)]
                break
    return f"{stem} ({unit})"


def flat_kpis(kpis: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every key of kpis.json, nested keys by their dotted name, with its value (text,
    lists and nulls too), in the file's order."""
    for key, value in kpis.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flat_kpis(value, name + ".")
        else:
            yield name, value


def kpi_sheet(kpis: dict[str, Any]) -> pd.DataFrame:
    """kpis.json as a table: ``kpi`` (dotted name), ``value`` and ``unit``. A list is
    its JSON text."""
    rows = [
        (name, json.dumps(value) if isinstance(value, list) else value, unit_of(name))
        for name, value in flat_kpis(kpis)
    ]
    return pd.DataFrame(
        {
            "kpi": [r[0] for r in rows],
            "value": pd.Series([r[1] for r in rows], dtype=object),
            "unit": [r[2] for r in rows],
        }
    )


def with_units(table: pd.DataFrame) -> pd.DataFrame:
    """A long table with a ``kpi`` column (summaries, differences) gets a ``unit``
    column after it."""
    if "kpi" not in table.columns or "unit" in table.columns:
        return table
    out = table.copy()
    out.insert(list(out.columns).index("kpi") + 1, "unit", out["kpi"].map(unit_of))
    return out


# --- what each command writes ----------------------------------------------------------


def run_sheets(
    results: Results,
    kpis: dict[str, Any],
    reps: SweepResult | None = None,
    verdict: pd.DataFrame | None = None,
) -> list[tuple[str, pd.DataFrame]]:
    """A run's sheets: its verdict (hvsim.report.verdict.checks_frame), KPIs, jobs,
    downtime, VMs, storage (the pool by day), restores, then the other tables it writes
    as CSV (those with rows), and with replications their summary and runs."""
    sheets = [("verdict", verdict)] if verdict is not None else []
    sheets += [
        ("KPIs", kpi_sheet(kpis)),
        ("jobs", results.jobs),
        ("downtime", results.downtime),
        ("VMs", results.vms),
        ("storage", results.storage_days),
        ("restores", results.restores),
        ("redirected_io", results.redirected_io),
    ]
    if len(results.data_sources):
        sheets.append(("data_sources", results.data_sources))
    if len(results.tape_plan):
        sheets.append(("tape_jobs", results.tape_jobs))
    if len(results.online_sources):
        sheets += [("online_jobs", results.online_jobs), ("online_days", results.online_days)]
    if len(results.recommendations):
        sheets.append(("recommendations", results.recommendations))
    if reps is not None:
        sheets += [("summary", with_units(reps.summary())), ("runs", reps.table)]
        if len(reps.failures):
            sheets.append(("failures", reps.failures))
    return sheets


def sweep_sheets(
    sweep: SweepResult, verdict: pd.DataFrame | None = None
) -> list[tuple[str, pd.DataFrame]]:
    """A sweep's sheets: its verdict per combination, the summary per combination
    (each KPI's mean, CI, p50, p95 and unit), then every run."""
    sheets = [("verdict", verdict)] if verdict is not None else []
    sheets += [("summary", with_units(sweep.summary())), ("runs", sweep.table)]
    if len(sweep.failures):
        sheets.append(("failures", sweep.failures))
    return sheets


def compare_sheets(
    cmp: Comparison, verdict: pd.DataFrame | None = None
) -> list[tuple[str, pd.DataFrame]]:
    """A comparison's sheets: its verdict per side, the differences B - A per KPI,
    then every run."""
    sheets = [("verdict", verdict)] if verdict is not None else []
    sheets += [("differences", with_units(cmp.differences())), ("runs", cmp.table)]
    if len(cmp.failures):
        sheets.append(("failures", cmp.failures))
    return sheets


# --- writing ---------------------------------------------------------------------------


@dataclass
class Split:
    """A table written over several sheets (longer than a sheet holds)."""

    table: str
    rows: int
    sheets: list[str]
    per_sheet: int = SHEET_ROWS

    def line(self) -> str:
        return (
            f"the {self.table} table ({self.rows:,} rows) is split over sheets "
            f"{', '.join(self.sheets)}: a sheet holds {self.per_sheet + 1:,} rows with "
            "the header"
        )


def _parts(name: str, rows: int, per_sheet: int) -> list[tuple[str, int, int]]:
    """(sheet name, first row, end row) of each part of a table of ``rows`` rows."""
    n = max(1, math.ceil(rows / per_sheet))
    if n == 1:
        return [(name[:SHEET_NAME_CHARS], 0, rows)]
    out = []
    for i in range(n):
        tail = f" ({i + 1} of {n})"
        sheet = name[: SHEET_NAME_CHARS - len(tail)] + tail
        out.append((sheet, i * per_sheet, (i + 1) * per_sheet))
    out[-1] = (out[-1][0], out[-1][1], rows)
    return out


def _cell_text(value: str) -> str:
    if len(value) <= EXCEL_CELL_CHARS:
        return value
    note = f" ... (cut: {len(value):,} characters, {EXCEL_CELL_CHARS:,} fit a cell; see the CSV)"
    return value[: EXCEL_CELL_CHARS - len(note)] + note


class _Column:
    """One column's values as Python values ready for XlsxWriter, chunk by chunk."""

    def __init__(self, series: pd.Series):
        self.series = series
        self.kind = (
            "date"
            if pd.api.types.is_datetime64_any_dtype(series)
            else "bool"
            if pd.api.types.is_bool_dtype(series)
            else "number"
            if pd.api.types.is_numeric_dtype(series)
            else "any"
        )

    def values(self, start: int, end: int) -> list[Any]:
        part = self.series.iloc[start:end]
        if self.kind == "date":
            serial = (part - EXCEL_EPOCH) / pd.Timedelta(days=1)
            return [None if v != v else v for v in serial.to_numpy(dtype=float).tolist()]
        if self.kind == "number":
            return part.to_numpy(dtype=float, na_value=np.nan).tolist()
        return part.tolist()


def _write_value(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    """One cell: numbers (NaN blank, infinities as text), text, booleans, blanks."""
    if value is None:
        return
    if isinstance(value, bool | np.bool_):
        ws.write_boolean(row, col, bool(value))
    elif isinstance(value, int | float | np.integer | np.floating):
        x = float(value)
        if math.isfinite(x):
            ws.write_number(row, col, x, fmt)
        elif x == x:
            ws.write_string(row, col, "inf" if x > 0 else "-inf")
    elif value is pd.NaT:
        return
    elif isinstance(value, pd.Timestamp | dt.datetime):
        ws.write_number(row, col, (pd.Timestamp(value) - EXCEL_EPOCH) / pd.Timedelta(days=1))
    elif value != "":
        ws.write_string(row, col, _cell_text(str(value)))


def _shown(value: Any, kind: str, unit: str) -> int:
    """About how many characters a value takes on screen (for the column's width)."""
    if value is None or (isinstance(value, float) and value != value):
        return 0
    if kind == "date":
        return len(DATE_FORMAT)
    if isinstance(value, bool):
        return 5
    if isinstance(value, int | float):
        if unit == "%":
            return len(f"{value:.1%}")
        if unit in ("B", "B/s", "B/day"):
            return len(f"{value:,.0f}") if math.isfinite(value) else 4
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return len(f"{int(value):,}")
        return len(f"{value:,.3f}") if math.isfinite(value) else 4
    return len(str(value))


def write_workbook(
    path: Path,
    sheets: Sequence[tuple[str, pd.DataFrame]],
    created: dt.date,
    title: str = "",
    rows_per_sheet: int | None = None,
) -> list[Split]:
    """``sheets`` (name, table) into the workbook ``path``; the tables split over
    sheets (none are cut). ``created``: the date the file says it was made (the
    scenario's start date, so the same run gives the same bytes)."""
    import xlsxwriter

    per_sheet = rows_per_sheet or SHEET_ROWS
    when = dt.datetime(created.year, created.month, created.day, tzinfo=dt.UTC)
    splits = []
    # constant_memory: each row goes to a temporary file as it is written, so a table
    # of a million jobs does not sit in memory as cells.
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "nan_inf_to_errors": True})
    try:
        wb.set_properties(
            {"title": title, "author": "hvsim", "created": when, "comments": "written by hvsim"}
        )
        bold = wb.add_format({"bold": True})
        formats = {unit: wb.add_format({"num_format": f}) for unit, f in _FORMATS.items()}
        date = wb.add_format({"num_format": DATE_FORMAT})
        for name, table in sheets:
            if len(table.columns) > EXCEL_COLUMNS:
                raise ValueError(
                    f"{name}: {len(table.columns):,} columns, more than a sheet holds "
                    f"({EXCEL_COLUMNS:,})"
                )
            parts = _parts(name, len(table), per_sheet)
            if len(parts) > 1:
                splits.append(Split(name, len(table), [p[0] for p in parts], per_sheet))
            columns = [_Column(table[c]) for c in table.columns]
            units = [unit_of(str(c)) for c in table.columns]
            fmts = [
                date if col.kind == "date" else formats.get(unit) if col.kind == "number" else None
                for col, unit in zip(columns, units, strict=True)
            ]
            headers = [header_of(str(c)) for c in table.columns]
            # The KPI sheet's values: each in the format of its row's unit.
            per_row = (
                list(table.columns).index("value")
                if {"value", "unit"} <= set(table.columns)
                else None
            )
            # Each column's width from its header and its first rows' values.
            sample = [col.values(0, WIDTH_SAMPLE) for col in columns]
            widths = [
                min(
                    WIDTH_MAX,
                    max(
                        WIDTH_MIN,
                        len(h) + 2,
                        *(_shown(v, col.kind, u) + 2 for v in vals),
                    ),
                )
                for h, col, u, vals in zip(headers, columns, units, sample, strict=True)
            ]
            for sheet_name, start, end in parts:
                ws = wb.add_worksheet(sheet_name)
                for c, width in enumerate(widths):
                    ws.set_column(c, c, width)
                ws.freeze_panes(1, 0)
                if headers:
                    ws.autofilter(0, 0, max(1, end - start), len(headers) - 1)
                for c, h in enumerate(headers):
                    ws.write_string(0, c, h, bold)
                numeric = [col.kind in ("number", "date") for col in columns]
                for chunk in range(start, end, CHUNK_ROWS):
                    stop = min(end, chunk + CHUNK_ROWS)
                    values = [col.values(chunk, stop) for col in columns]
                    row_units = (
                        table["unit"].iloc[chunk:stop].tolist() if per_row is not None else []
                    )
                    # Row by row (constant_memory writes each row out when the next starts).
                    for i in range(stop - chunk):
                        row = chunk - start + i + 1
                        for c, vals in enumerate(values):
                            v = vals[i]
                            if numeric[c] and v is not None and math.isfinite(v):
                                ws.write_number(row, c, v, fmts[c])
                            else:
                                fmt = formats.get(row_units[i]) if c == per_row else fmts[c]
                                _write_value(ws, row, c, v, fmt)
    finally:
        wb.close()
    return splits
