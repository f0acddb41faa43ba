"""Online protection's rules (schema.OnlineProtection, OnlineUplink, Throttling) are
scenario errors naming the field and, for published limits, their source."""

from __future__ import annotations

from typing import Any

from tests.builders import base_scenario, problems_of


def doc(online: dict[str, Any] | None = None, uplink: dict[str, Any] | None = None) -> dict:
    d = base_scenario()
    d["dpm_servers"][0]["online"] = {"uplink": "100 Mbps", **(uplink or {})}
    d["protection_groups"][0]["online"] = online or {}
    return d


def test_a_valid_online_block_is_accepted():
    assert problems_of(doc()) == []


def test_a_third_online_time_a_day_is_an_error_citing_the_limit():
    (line,) = problems_of(doc({"times": ["08:00", "12:00", "20:00"]}))
    assert line.startswith("f.yaml: protection_groups[0].online.times: ")
    assert "at most 2 times a day, not 3 (source: azure-backup-support-matrix)" in line


def test_the_same_online_time_twice_is_an_error():
    (line,) = problems_of(doc({"times": ["20:00", "20:00"]}))
    assert "online times must differ" in line


def test_more_than_9999_vault_points_is_an_error():
    # 5,000 days x 2 a day = 10,000 daily points alone.
    (line,) = problems_of(doc({"times": ["08:00", "20:00"], "retention": {"daily": 5000}}))
    assert "protection_groups[0].online" in line
    assert "at most 9,999 (source: azure-backup-support-matrix)" in line
    # 4,000 x 2 + 104 + 60 + 10 = 8,174: accepted.
    assert problems_of(doc({"times": ["08:00", "20:00"], "retention": {"daily": 4000}})) == []


def test_online_jobs_at_once_are_at_most_12():
    (line,) = problems_of(doc(uplink={"max_parallel_jobs": 13}))
    assert "dpm_servers[0].online.max_parallel_jobs" in line
    assert problems_of(doc(uplink={"max_parallel_jobs": 12})) == []


def test_throttling_rates_lie_between_512_kbps_and_1023_MBps():
    low = {"work_hours_rate": "256 kbps", "non_work_hours_rate": "2 Mbps"}
    (line,) = problems_of(doc(uplink={"throttling": low}))
    assert "online.throttling.work_hours_rate" in line
    assert "from 512 kbps (64 kB/s) to 1,023 MB/s" in line
    high = {"work_hours_rate": "2 Mbps", "non_work_hours_rate": "2 GB/s"}
    (line,) = problems_of(doc(uplink={"throttling": high}))
    assert "non_work_hours_rate" in line
    ok = {"work_hours_rate": "512 kbps", "non_work_hours_rate": "1023 MB/s"}
    assert problems_of(doc(uplink={"throttling": ok})) == []


def test_work_hours_end_after_they_start():
    bad = {
        "work_hours_start": "18:00",
        "work_hours_end": "09:00",
        "work_hours_rate": "2 Mbps",
        "non_work_hours_rate": "8 Mbps",
    }
    (line,) = problems_of(doc(uplink={"throttling": bad}))
    assert "work_hours_end must come after work_hours_start" in line


def test_an_online_group_needs_its_dpm_servers_uplink():
    d = doc()
    del d["dpm_servers"][0]["online"]
    (line,) = problems_of(d)
    assert line == (
        "f.yaml: protection_groups[0].online: DPM server dpm1 has no online uplink "
        "(give dpm_servers[0].online)"
    )


def test_compression_factor_and_transit_have_bounds():
    (line,) = problems_of(doc({"compression_factor": 0.5}))
    assert "compression_factor" in line
    (line,) = problems_of(doc({"seeding": "offline", "offline_transit": "400 d"}))
    assert "offline_transit must be at most 365 d" in line
