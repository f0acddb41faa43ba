"""RPO KPIs (hvsim/results.py::_rpo_kpis) on a hand-made table: gaps between a VM's
consecutive recovery points and from its last one to the end of the run."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from hvsim.results import _rpo_kpis

DAY = 86400.0


def test_gaps_violations_worst_gap_and_missed_points_by_hand():
    # Horizon 4 days, target 26 h. VM a: points at days 0, 1, 3 -> gaps 1 d, 2 d and
    # 1 d to the end: one violation. VM b (protected, no point): the whole run, 4 d,
    # is one gap: one violation, and the worst. VM c is unprotected: not counted.
    # Jobs: a's day-2 occurrence failed twice (one missed point); b's failed once.
    res = SimpleNamespace(
        horizon_days=4,
        rpo_s={"g": 26 * 3600.0},
        vms=pd.DataFrame({"vm": ["a", "b", "c"], "protection_group": ["g", "g", ""]}),
        recovery_points=pd.DataFrame(
            {"vm": ["a", "a", "a"], "protection_group": ["g"] * 3, "time_s": [DAY, 0.0, 3 * DAY]}
        ),
        jobs=pd.DataFrame(
            {
                "vm": ["a", "a", "a", "a", "a", "b"],
                "scheduled_s": [0.0, DAY, 2 * DAY, 2 * DAY, 3 * DAY, 0.0],
                "outcome": ["succeeded", "succeeded", "failed", "failed", "succeeded", "failed"],
            }
        ),
    )
    k = _rpo_kpis(res)
    assert k == {
        "target_s": 26 * 3600.0,
        "violations": 2,
        "worst_gap_s": 4 * DAY,
        "recovery_points": 3,
        "recovery_points_missed": 2,
    }
