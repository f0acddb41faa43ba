"""scenarios/azure-online.yaml: its online KPIs, each worked out by hand from the
scenario (its header gives the seeding arithmetic)."""

from __future__ import annotations

import pytest
from pytest import approx

import hvsim
from tests.builders import ROOT

DAY = 86400.0


@pytest.fixture(scope="module")
def online():
    scenario = hvsim.load_scenario(ROOT / "scenarios" / "azure-online.yaml")
    res = hvsim.simulate(scenario, seed=1)
    return res, res.kpis()["online"]


def test_the_eight_online_seeds_end_together_on_saturday_evening(online):
    # 1.6 TB over 5 MB/s outside work hours and 1.25 MB/s in them, from Monday 23:00:
    # 500,000 s (the scenario's header).
    res, _ = online
    seeds = res.online_jobs[res.online_jobs["kind"] == "seed"]
    assert len(seeds) == 8
    assert list(seeds["end_s"]) == approx([500_000.0] * 8)


def test_days_to_seed_is_the_shipped_file_servers_arrival(online):
    # Shipped Monday 23:00 (82,800 s) + 7 days = 687,600 s = 7.9583 days, later than
    # the online seeds (5.79 days).
    _, k = online
    assert k["days_to_seed"] == approx(687_600.0 / DAY, abs=1e-4)
    assert k["data_sources_seeded"] == 9
    assert k["bytes_shipped"] == approx(2000e9 / 1.25)


def test_jobs_and_skips(online):
    # 28 online times x 9 data sources = 252. Skipped: each app VM at 23:00 on days 1-4
    # (its seed runs until day 5.79): 32; the file server on days 1-6 (its seed in
    # transit until day 7 23:00): 6.
    _, k = online
    assert (k["jobs"], k["skipped"], k["failed"]) == (214, 38, 0)


def test_bytes_uploaded(online):
    # The seeds 1.6 TB; each app VM then 5 days of change on day 5 (5 x 5 GB / 1.25 =
    # 20 GB) and 4 GB on days 6-27: 20 + 22 x 4 = 108 GB, 864 GB for eight; the file
    # server 7 days on day 7 (7 x 40 GB / 1.25 = 224 GB) and 32 GB on days 8-27:
    # 864 GB. In all 1.6 + 0.864 + 0.864 = 3.328 TB (to 0.1 %: the disk points are a
    # minute or so after 21:00).
    _, k = online
    assert k["bytes_uploaded"] == approx(3.328e12, rel=1e-3)


def test_backlog_and_vault(online):
    _, k = online
    # End of day 1: the seeds less one hour at 5 MB/s, 1.6 TB - 18 GB.
    assert k["upload_backlog_max_bytes"] == approx(1.582e12)
    # At the horizon: both seeds (3.2 TB) and every increment but the last night's,
    # still uploading (8 x 4 + 32 = 64 GB): 3.2 + 1.728 - 0.064 = 4.864 TB; the peak
    # holds the last night's too, 4.928 TB.
    assert k["vault_bytes_end"] == approx(4.864e12, rel=1e-3)
    assert k["vault_bytes_peak"] == approx(4.928e12, rel=1e-3)
    # Points then: each app VM its seed + 22 increments (23), the file server its
    # seed + 20 (21): 8 x 23 + 21 = 205.
    assert k["vault_points_end"] == 205
    # Between 0 and the last night's 64 GB (not all sent by midnight).
    assert 0 < k["upload_backlog_end_bytes"] < 64e9


def test_daily_online_points_keep_within_the_26_hour_target(online):
    # One point a day at 23:00 after the seed: gaps of about 24 h.
    _, k = online
    assert k["rpo_violations"] == 0
    assert k["worst_gap_s"] == approx(DAY, abs=60.0)
