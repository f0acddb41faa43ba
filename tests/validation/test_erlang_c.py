"""Job-slot queueing through the full simulator against queueing theory: on-demand
jobs arriving as a Poisson stream with exponential durations on a DPM server with
c job slots and nothing else to wait for form an M/M/c queue, whose mean wait is
Erlang C's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import hvsim


def erlang_c_wait_s(c: int, per_hour: float, mean_duration_s: float) -> float:
    """Mean wait in queue of M/M/c: Wq = C(c, a) / (c mu - lambda), a = lambda / mu."""
    lam = per_hour / 3600.0
    mu = 1.0 / mean_duration_s
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def _replication_means(c, per_hour, mean_duration, days, warmup_days, seeds):
    doc = {
        "name": "mmc",
        "horizon_days": days,
        "dpm_servers": [
            {
                "name": "dpm",
                "version": "2012SP1",
                "pool": {"capacity": "1 TB", "write": "100 MB/s"},
                "max_parallel_jobs": c,
            }
        ],
        "on_demand": [{"dpm_server": "dpm", "per_hour": per_hour, "mean_duration": mean_duration}],
    }
    scenario = hvsim.scenario_from_dict(doc)
    means = []
    for seed in seeds:
        jobs = hvsim.simulate(scenario, seed=seed).on_demand
        steady = jobs[jobs["arrival_s"] >= warmup_days * 86400.0]
        means.append(steady["wait_s"].mean())
    return np.array(means)


def test_erlang_c_formula_matches_a_hand_value():
    # c = 2, a = 1: C = (1/2 x 2) / (1 + 1 + 1) = 1/3; Wq = (1/3) / (2 - 1) x 10 min = 200 s.
    assert erlang_c_wait_s(2, 6.0, 600.0) == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("c", "per_hour", "days", "reps"),
    [
        (2, 6.0, 40, 12),  # utilisation 0.5
        (2, 10.8, 120, 16),  # utilisation 0.9
        (4, 21.6, 60, 12),  # utilisation 0.9 with four slots
    ],
)
def test_mean_wait_for_dpm_job_slots_lies_in_the_ci_of_erlang_c(c, per_hour, days, reps):
    mean_duration_s = 600.0
    expected = erlang_c_wait_s(c, per_hour, mean_duration_s)
    means = _replication_means(c, per_hour, "10 min", days, 2, range(1, reps + 1))
    half = stats.t.ppf(0.975, reps - 1) * means.std(ddof=1) / math.sqrt(reps)
    assert abs(means.mean() - expected) <= half, (means.mean(), half, expected)
    # And the interval is informative: narrower than the value itself.
    assert half < 0.35 * expected
