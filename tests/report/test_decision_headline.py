"""The headline of many runs (console, summary.md, report) leads with the decision
KPIs when some run protects data sources in the guest, and is unchanged otherwise."""

from __future__ import annotations

import pandas as pd

from hvsim.report.text import format_kpi, headline

COLUMNS = [
    "backups.makespan_p50_s",
    "storage.pool_peak_bytes",
    "restores.per_kind.whole_vm.rto_p95_s",
    "guest.data_sources",
    "decision.best_rpo_s",
    "decision.jobs_per_day",
    "decision.dpm_servers_needed",
    "decision.whole_vm_rto_p95_s",
    "decision.item_level_rto_p95_s",
]


def table(guest_sources: list[int]) -> pd.DataFrame:
    # Two runs, host-only then another; item-level RTO n/a in both (no restore).
    return pd.DataFrame(
        {
            "backups.makespan_p50_s": [550.0, 0.0],
            "storage.pool_peak_bytes": [18e12, 19e12],
            "restores.per_kind.whole_vm.rto_p95_s": [922.0, None],
            "guest.data_sources": guest_sources,
            "decision.best_rpo_s": [86400.0, 900.0],
            "decision.jobs_per_day": [40.0, 15000.0],
            "decision.dpm_servers_needed": [1, 1],
            "decision.whole_vm_rto_p95_s": [922.0, None],
            "decision.item_level_rto_p95_s": [None, None],
        }
    )


def test_a_comparison_with_a_guest_level_run_leads_with_the_decision_kpis():
    # ... and shows the pool peak and the per-kind RTOs once, as decision KPIs.
    assert headline(COLUMNS, table([0, 160])) == [
        "decision.best_rpo_s",
        "decision.jobs_per_day",
        "decision.dpm_servers_needed",
        "decision.whole_vm_rto_p95_s",
        "backups.makespan_p50_s",
    ]


def test_without_guest_data_sources_the_headline_is_as_before():
    before = [
        "backups.makespan_p50_s",
        "restores.per_kind.whole_vm.rto_p95_s",
        "storage.pool_peak_bytes",
    ]
    assert headline(COLUMNS, table([0, 0])) == before
    assert headline(COLUMNS) == before


def test_a_per_kind_rto_reads_in_time_units():
    assert format_kpi("decision.whole_vm_rto_p95_s", 922.0) == "15.4 min"
