"""The job-slot log (res.slot_queues) against the jobs that held and waited for the
slots. Whatever the queueing, two identities hold over any period [a, b]
(work conservation, as Little's law is derived):

- the time-average of slots in use equals the sum of the jobs' held time in the
  period divided by its length;
- the integral of the queue length equals the sum of the jobs' waits in the period.

They hold exactly (to float rounding), run by run, so no confidence interval is
needed. The log was once written only at requests and releases: at a hand-over it
showed the slot free and the next job still queued, so the queue was overstated and
the slots in use understated (by about a fifth on the M/M/2 stream below)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hvsim
from tests.builders import base_scenario, run


def _integral(log: pd.DataFrame, column: str, a: float, b: float) -> float:
    """Integral over [a, b] of a step series: from each row's time_s on, the value of
    its last row at that time (rows at equal times: the last one holds)."""
    t = log["time_s"].to_numpy(dtype=float)
    v = log[column].to_numpy(dtype=float)
    keep = np.append(t[1:] != t[:-1], True)  # last row of each time
    t, v = t[keep], v[keep]
    ends = np.append(t[1:], np.inf)
    lo, hi = np.clip(t, a, b), np.clip(ends, a, b)
    return float(((hi - lo) * v).sum())


def _overlap(start: pd.Series, end: pd.Series, a: float, b: float) -> float:
    """Sum over intervals [start, end] of their length inside [a, b]."""
    lo = np.clip(start.to_numpy(dtype=float), a, b)
    hi = np.clip(end.to_numpy(dtype=float), a, b)
    return float((hi - lo).sum())


def _periods(end_s: float) -> list[tuple[float, float]]:
    # The whole run and two cuts through it, so intervals cross the period's edges.
    return [(0.0, end_s), (end_s / 3, end_s / 2), (0.1 * end_s, 0.9 * end_s)]


def test_slot_log_of_an_mm2_queue_matches_the_on_demand_jobs_held_and_waiting_time():
    # On-demand jobs on a DPM server with 2 slots and nothing else: an M/M/2 queue at
    # utilisation 0.9 (10.8 jobs/h x 10 min / 2 slots), so most grants are hand-overs.
    doc = {
        "name": "mm2",
        "horizon_days": 5,
        "dpm_servers": [
            {
                "name": "dpm",
                "version": "2012SP1",
                "pool": {"capacity": "1 TB", "write": "100 MB/s"},
                "max_parallel_jobs": 2,
            }
        ],
        "on_demand": [{"dpm_server": "dpm", "per_hour": 10.8, "mean_duration": "10 min"}],
    }
    res = hvsim.simulate(hvsim.scenario_from_dict(doc), seed=3)
    jobs, log = res.on_demand, res.slot_queues
    log = log[log["slot"] == "dpm"]
    assert len(jobs) > 500 and (jobs["wait_s"] > 0).sum() > 200
    for a, b in _periods(float(jobs["end_s"].max())):
        held = _overlap(jobs["start_s"], jobs["end_s"], a, b)
        waited = _overlap(jobs["arrival_s"], jobs["start_s"], a, b)
        assert _integral(log, "in_use", a, b) / (b - a) == pytest.approx(held / (b - a), rel=1e-9)
        assert _integral(log, "queued", a, b) == pytest.approx(waited, rel=1e-9)
    # Never more in use than slots, never a queue beside a free slot.
    assert log["in_use"].max() == 2
    last = log.groupby("time_s").tail(1)
    assert not ((last["in_use"] < 2) & (last["queued"] > 0)).any()


def test_slot_log_of_a_backup_night_matches_the_jobs_table():
    # Eight VMs on one node with one backup slot (MaxAllowedParallelBackups = 1) and 8
    # DPM slots: jobs queue only for the host slot, then take a DPM slot at once, and
    # hold both from start_s to end_s. So over any period the host slot's queue
    # integrates to the jobs' waits and both logs' in-use to their running time.
    doc = base_scenario(
        horizon_days=2,
        vms=[{"name": "v{i}", "count": 8, "cluster": "c1", "csv": "csv1", "node": "c1-n1"}],
    )
    doc["clusters"][0]["max_parallel_backups_per_node"] = 1
    res = run(doc)
    jobs = res.jobs[res.jobs["outcome"] != "skipped"]
    assert (jobs["wait_s"] > 0).sum() >= 7
    host = res.slot_queues[res.slot_queues["slot"] == "c1-n1"]
    host = host[host["kind"] == "host"]
    dpm = res.slot_queues[res.slot_queues["slot"] == "dpm1"]
    for a, b in _periods(float(jobs["end_s"].max())):
        held = _overlap(jobs["start_s"], jobs["end_s"], a, b)
        waited = _overlap(jobs["queued_s"], jobs["start_s"], a, b)
        assert _integral(host, "in_use", a, b) == pytest.approx(held, rel=1e-9)
        assert _integral(dpm, "in_use", a, b) == pytest.approx(held, rel=1e-9)
        assert _integral(host, "queued", a, b) == pytest.approx(waited, rel=1e-9)
        assert _integral(dpm, "queued", a, b) == pytest.approx(0.0, abs=1e-9)
