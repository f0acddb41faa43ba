"""The KPI table's online rows (report/text.py): shown only with online protection."""

from __future__ import annotations

from hvsim.report.text import online_rows

ONLINE = {
    "data_sources": 9,
    "jobs": 214,
    "succeeded": 214,
    "failed": 0,
    "skipped": 38,
    "data_sources_seeded": 9,
    "days_to_seed": 7.9583,
    "rpo_target_s": 93600.0,
    "rpo_violations": 0,
    "worst_gap_s": 86401.2,
    "upload_backlog_max_bytes": 1.582e12,
    "upload_backlog_end_bytes": 46e9,
    "vault_bytes_end": 4.864e12,
    "vault_bytes_peak": 4.928e12,
}


def test_online_rows_say_jobs_seeding_rpo_backlog_and_vault():
    rows = dict(online_rows({"online": ONLINE}))
    assert rows["online jobs (succeeded / failed / skipped)"] == "214 (214 / 0 / 38)"
    assert rows["online seeding (days to seed)"] == "9 of 9 data sources, 7.96 days"
    assert rows["online RPO violations (target, worst gap)"] == "0 (26.00 h, 24.00 h)"
    assert rows["upload backlog max / at end"] == "1.58 TB / 46.00 GB"
    assert rows["vault at end / peak"] == "4.86 TB / 4.93 TB"


def test_a_seed_not_in_the_vault_by_the_horizon_reads_so():
    rows = dict(online_rows({"online": {**ONLINE, "days_to_seed": None}}))
    assert rows["online seeding (days to seed)"].endswith("not within the horizon")


def test_no_online_rows_without_online_protection():
    assert online_rows({"online": {**ONLINE, "data_sources": 0}}) == []
    assert online_rows({}) == []
