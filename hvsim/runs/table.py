"""The runs table: one row per finished run, in the order the runs were planned
(whatever order they finished in), and the failed runs aside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from hvsim.runs.plan import RunSpec

# Sections whose keys depend on the run (top resources, CSVs with redirected I/O):
# a key missing from a run means zero there, not "unknown".
SPARSE_PREFIXES = ("bottleneck.", "redirected_io.per_csv_s.")


def build_table(
    specs: Sequence[RunSpec], outcomes: dict[int, dict[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(runs, failures, KPI columns), rows in planned order."""
    rows, failures = [], []
    kpi_columns: dict[str, None] = {}
    value_columns = list(specs[0].values) if specs else []
    taken = {*value_columns, "seed"}
    for spec in specs:
        outcome = outcomes.get(spec.index)
        if outcome is None:
            continue
        if outcome["error"] is not None:
            failures.append(
                {
                    **spec.values,
                    "seed": spec.seed,
                    "error": outcome["error"],
                    "traceback": outcome.get("traceback", ""),
                }
            )
            continue
        # A KPI named like a varied field (horizon_days) repeats the input: keep the
        # input's column, as written, and one column per name.
        kpis = {k: v for k, v in outcome["kpis"].items() if k not in taken}
        kpi_columns.update(dict.fromkeys(kpis))
        rows.append({**spec.values, "seed": spec.seed, **kpis})
    columns = value_columns + ["seed"] + list(kpi_columns)
    table = pd.DataFrame(rows, columns=columns)
    for col in kpi_columns:
        if col.startswith(SPARSE_PREFIXES):
            table[col] = table[col].fillna(0.0)
    fail = pd.DataFrame(failures, columns=value_columns + ["seed", "error", "traceback"])
    return table, fail, list(kpi_columns)
