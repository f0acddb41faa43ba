"""Statistics across replications: each KPI's mean with a Student t confidence
interval, its 50th and 95th percentiles, and the paired differences of two
scenarios run with the same seeds (common random numbers)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONFIDENCE = 0.95


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float
    low: float
    high: float
    half_width: float


def mean_ci(values: Iterable[float], confidence: float = CONFIDENCE) -> MeanCI:
    """Mean and its two-sided Student t interval: mean +- t(1 - a/2, n - 1) s / sqrt(n).
    With one value the interval is unknown (NaN)."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    n = int(x.size)
    if n == 0:
        return MeanCI(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n == 1:
        return MeanCI(1, mean, math.nan, math.nan, math.nan)
    # Imported here: scipy.stats costs ~0.4 s to import, and a single run needs no CI.
    from scipy import stats

    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return MeanCI(n, mean, mean - half, mean + half, half)


def summarize(
    table: pd.DataFrame,
    by: Sequence[str] = (),
    kpis: Sequence[str] | None = None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per group and KPI: n, mean, std, the confidence interval, p50, p95."""
    kpis = list(kpis) if kpis is not None else kpi_columns_of(table, by)
    groups = table.groupby(list(by), sort=False, dropna=False) if by else [((), table)]
    rows = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        for kpi in kpis:
            x = part[kpi].to_numpy(dtype=float)
            x = x[~np.isnan(x)]
            ci = mean_ci(x, confidence)
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "kpi": kpi,
                    "n": ci.n,
                    "mean": ci.mean,
                    "std": float(x.std(ddof=1)) if x.size > 1 else math.nan,
                    "ci_low": ci.low,
                    "ci_high": ci.high,
                    "ci_half_width": ci.half_width,
                    "p50": float(np.percentile(x, 50)) if x.size else math.nan,
                    "p95": float(np.percentile(x, 95)) if x.size else math.nan,
                }
            )
    return pd.DataFrame(
        rows,
        columns=list(by)
        + ["kpi", "n", "mean", "std", "ci_low", "ci_high", "ci_half_width", "p50", "p95"],
    )


def paired_differences(
    table: pd.DataFrame,
    labels: tuple[str, str],
    kpis: Sequence[str],
    confidence: float = CONFIDENCE,
    side_column: str = "scenario",
) -> pd.DataFrame:
    """Per KPI: each side's mean and interval, and the mean of the per-seed
    differences B - A with its interval (seeds where both sides finished)."""
    a = table[table[side_column] == labels[0]].set_index("seed")
    b = table[table[side_column] == labels[1]].set_index("seed")
    seeds = a.index.intersection(b.index)
    rows = []
    for kpi in kpis:
        ca, cb = mean_ci(a[kpi], confidence), mean_ci(b[kpi], confidence)
        d = mean_ci((b.loc[seeds, kpi] - a.loc[seeds, kpi]).to_numpy(dtype=float), confidence)
        rows.append(
            {
                "kpi": kpi,
                "a_mean": ca.mean,
                "a_ci_low": ca.low,
                "a_ci_high": ca.high,
                "b_mean": cb.mean,
                "b_ci_low": cb.low,
                "b_ci_high": cb.high,
                "pairs": d.n,
                "diff_mean": d.mean,
                "diff_ci_low": d.low,
                "diff_ci_high": d.high,
                # The interval excludes zero: the difference is not the seeds' noise.
                "significant": bool(d.low > 0 or d.high < 0) if d.n > 1 else False,
            }
        )
    # Named columns even with no row (every run failed): compare.csv keeps its header.
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def kpi_columns_of(table: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """The numeric columns of a runs table other than ``exclude``, seed and scenario."""
    skip = set(exclude) | {"seed", "scenario"}
    return [c for c in table.columns if c not in skip and pd.api.types.is_numeric_dtype(table[c])]


def varying(table: pd.DataFrame, kpis: Sequence[str]) -> list[str]:
    """KPIs that take more than one value across the runs."""
    return [k for k in kpis if table[k].nunique(dropna=True) > 1]


DIFFERENCE_COLUMNS = [
    "kpi",
    "a_mean",
    "a_ci_low",
    "a_ci_high",
    "b_mean",
    "b_ci_low",
    "b_ci_high",
    "pairs",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "significant",
]
