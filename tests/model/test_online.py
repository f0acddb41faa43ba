"""Online protection to Azure (hvsim/model/online.py) against hand calculations.

The runs start on Monday 2026-01-05 (base_scenario's default start date). Each VM has
one 100 GB disk (100e9 bytes used) changing 3 % a day, backed up at 22:00 (79,200 s)
over 10 GbE into a 1 GB/s pool: its initial replica ends within minutes, long before
the online jobs at 23:30 (84,600 s). The uplink is '10 Mbps' at the default 0.8
efficiency: 10e6 / 8 x 0.8 = 1e6 B/s.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from pytest import approx

from hvsim.model.online import COMPACT_MIN, SKIPPED_NO_NEW_POINT, Vault, VaultRetention
from hvsim.model.schedule import DAY_S
from tests.builders import base_scenario, run

ONLINE_AT = 84600.0  # 23:30
DISK_POINT = 79200.0  # 22:00, the express full (the initial replica on day 0)
SIZE = 100e9


def online_scenario(
    vms: int = 1,
    horizon_days: float = 3,
    uplink: dict[str, Any] | None = None,
    online: dict[str, Any] | None = None,
    **group: Any,
) -> dict[str, Any]:
    doc = base_scenario(horizon_days=horizon_days)
    doc["dpm_servers"][0]["online"] = {"uplink": "10 Mbps", **(uplink or {})}
    doc["protection_groups"][0]["online"] = {"times": ["23:30"], **(online or {})}
    doc["protection_groups"][0].update(group)
    doc["vms"] = [
        {
            "name": "vm{i}",
            "count": vms,
            "cluster": "c1",
            "csv": "csv1",
            "disks": [{"size": "100 GB"}],
        }
    ]
    return doc


def rows(res, kind=None, outcome=None):
    jobs = res.online_jobs
    if kind is not None:
        jobs = jobs[jobs["kind"] == kind]
    if outcome is not None:
        jobs = jobs[jobs["outcome"] == outcome]
    return jobs


def test_seed_over_a_throttled_uplink_takes_bytes_over_the_rate_in_force_hour_by_hour():
    # Work hours 09:00-18:00 Mon-Fri at 2 Mbps (250,000 B/s); other hours 8 Mbps
    # (1e6 B/s, equal to the uplink x 0.8). The 100 GB seed starts Monday 23:30:
    #   Mon 23:30 -> Tue 09:00   34,200 s x 1e6      = 34.2 GB   (34.2 GB sent)
    #   Tue 09:00 -> Tue 18:00   32,400 s x 250,000  =  8.1 GB   (42.3 GB)
    #   Tue 18:00 -> Wed 09:00   54,000 s x 1e6      = 54.0 GB   (96.3 GB)
    #   Wed 09:00 -> ...          3.7 GB / 250,000    = 14,800 s
    # so it ends Wednesday 09:00 + 14,800 s = 2 x 86,400 + 32,400 + 14,800 = 220,000 s.
    throttling = {"work_hours_rate": "2 Mbps", "non_work_hours_rate": "8 Mbps"}
    res = run(online_scenario(uplink={"throttling": throttling}))
    seed = rows(res, "seed")
    assert len(seed) == 1
    assert seed["outcome"].iloc[0] == "succeeded"
    assert seed["start_s"].iloc[0] == ONLINE_AT
    assert seed["end_s"].iloc[0] == approx(220_000.0)
    assert seed["bytes"].iloc[0] == approx(SIZE)
    assert seed["recovery_point_s"].iloc[0] == DISK_POINT
    k = res.kpis()["online"]
    assert k["days_to_seed"] == approx(220_000.0 / DAY_S, abs=1e-4)
    # Tuesday 23:30 finds the seed still running: skipped. Wednesday 23:30 sends the
    # change from Monday's 22:00 point to Wednesday's: 2 days x 3 % x 100 GB = 6 GB.
    assert list(rows(res, "backup")["outcome"]) == ["skipped", "succeeded"]
    assert rows(res, "backup", "succeeded")["bytes"].iloc[0] == approx(6e9)
    # Backlog at the end of day 1 (midnight): 100 GB less 1,800 s x 1e6 = 98.2 GB.
    days = res.online_days
    assert days["upload_backlog_bytes"].iloc[0] == approx(98.2e9)
    assert k["upload_backlog_max_bytes"] == approx(98.2e9)
    # The seed fills the uplink at whatever rate is in force: its utilisation rows
    # (each load over the capacity then) read 100 % throughout, at 1e6 and 250,000 B/s.
    u = res.utilisation
    up = u[(u["resource"] == "dpm1:uplink") & (u["time_s"] >= ONLINE_AT) & (u["time_s"] < 220_000)]
    assert list(up["capacity_bps"]) == approx([1e6, 250e3, 1e6, 250e3])
    assert list(up["utilisation"]) == approx([1.0] * 4)


def test_without_throttling_a_seed_takes_bytes_over_the_uplink_rate():
    # 100 GB at 1e6 B/s: 100,000 s after 23:30 on day 0.
    res = run(online_scenario())
    seed = rows(res, "seed")
    assert seed["end_s"].iloc[0] == approx(ONLINE_AT + 100_000.0)


def test_two_equal_seeds_share_the_uplink_and_take_twice_as_long():
    # Two 100 GB seeds at once share 1e6 B/s: 500,000 B/s each, 200,000 s.
    res = run(online_scenario(vms=2, horizon_days=4))
    seeds = rows(res, "seed")
    assert len(seeds) == 2
    assert list(seeds["end_s"]) == approx([ONLINE_AT + 200_000.0] * 2)


def test_two_online_times_make_two_online_points_a_day_after_two_disk_points():
    # Express fulls at 08:00 and 14:00, online at 10:00 and 16:00 over a fast uplink:
    # each online time finds a new disk point, so 2 online points a day for 3 days.
    doc = online_scenario(
        uplink={"uplink": "10 Gbps"},
        online={"times": ["10:00", "16:00"]},
        express_full_times=["08:00", "14:00"],
    )
    res = run(doc)
    ok = rows(res, outcome="succeeded")
    per_day = (ok["scheduled_s"] // DAY_S).value_counts().sort_index()
    assert list(per_day) == [2, 2, 2]
    assert res.kpis()["online"]["skipped"] == 0


def test_an_online_time_without_a_new_disk_point_sends_nothing_and_says_why():
    # One express full a day (22:00) and online at 10:00 and 16:00: the 16:00 job
    # finds no point newer than the one 10:00 copied.
    doc = online_scenario(uplink={"uplink": "10 Gbps"}, online={"times": ["10:00", "16:00"]})
    res = run(doc)
    skipped = rows(res, outcome="skipped")
    # Day 0 10:00 and 16:00: no disk point yet (the first is 22:00); days 1 and 2 at
    # 16:00: nothing new since 10:00.
    assert list(skipped["reason"]) == [
        "no disk recovery point yet",
        "no disk recovery point yet",
        SKIPPED_NO_NEW_POINT,
        SKIPPED_NO_NEW_POINT,
    ]
    assert len(rows(res, outcome="succeeded")) == 2


def test_offline_seeding_skips_online_jobs_until_the_disks_arrive():
    # Shipped at Monday 23:30 with 1.5 days in transit: in the vault at
    # 84,600 + 129,600 = 214,200 s, with nothing uploaded. Tuesday 23:30 is skipped
    # (in transit); Wednesday 23:30 sends 2 days of change, 6 GB.
    res = run(online_scenario(online={"seeding": "offline", "offline_transit": "1.5 d"}))
    seed = rows(res, "offline_seed")
    assert seed["outcome"].iloc[0] == "succeeded"
    assert seed["end_s"].iloc[0] == approx(214_200.0)
    backups = rows(res, "backup")
    assert list(backups["outcome"]) == ["skipped", "succeeded"]
    assert backups["reason"].iloc[0].startswith("offline seed in transit")
    k = res.kpis()["online"]
    assert k["bytes_shipped"] == approx(SIZE)
    assert k["bytes_uploaded"] == approx(6e9)
    assert k["days_to_seed"] == approx(214_200.0 / DAY_S, abs=1e-4)


def test_an_offline_seed_arriving_after_the_horizon_leaves_days_to_seed_null():
    res = run(online_scenario(online={"seeding": "offline", "offline_transit": "10 d"}))
    seed = rows(res, "offline_seed")
    assert seed["outcome"].iloc[0] == "skipped"
    k = res.kpis()["online"]
    assert k["days_to_seed"] is None
    assert k["data_sources_seeded"] == 0
    assert k["vault_bytes_end"] == 0


def test_the_cache_holds_5_percent_of_what_it_protects():
    # Two 100 GB VMs need 2 x 5 GB of cache. A 5 GB cache takes the first seed's
    # 5 GB; the second fails "Azure cache volume full" at every online time.
    res = run(online_scenario(vms=2, horizon_days=2, uplink={"cache_volume": "5 GB"}))
    seeds = rows(res, "seed")
    failed = seeds[seeds["outcome"] == "failed"]
    assert set(seeds.loc[seeds["outcome"] == "succeeded", "vm"]) == {"vm1"}
    assert list(failed["vm"]) == ["vm2", "vm2"]
    assert failed["reason"].str.startswith("Azure cache volume full").all()
    res = run(online_scenario(vms=2, horizon_days=2, uplink={"cache_volume": "10 GB"}))
    assert (rows(res, "seed")["outcome"] == "succeeded").all()


def test_guest_data_sources_are_protected_online_too():
    # A guest-level group with one 10 GB SQL database: its initial replica at 00:00 of
    # day 0 (the first sync), its express full at 22:00; the seed at 23:30 uploads
    # 10 GB at 1e6 B/s: 10,000 s.
    doc = online_scenario(level="guest", sync_frequency="60 min")
    doc["vms"] = [
        {
            "name": "sql1",
            "cluster": "c1",
            "csv": "csv1",
            "protection": "guest",
            "sql": {"databases": 1, "size": "10 GB"},
        }
    ]
    res = run(doc)
    seed = rows(res, "seed")
    assert list(seed["data_source"]) == ["sql1/sql1"]
    assert seed["end_s"].iloc[0] == approx(ONLINE_AT + 10_000.0)


def test_online_rpo_counts_gaps_over_the_target():
    # Online once a day at 23:30 with a 12 h target: the seed at 184,600 s, then
    # points at about 257,400 + 6 GB / 1e6 = 263,400 s; horizon 3 d = 259,200 s.
    # Gaps: 184,600 -> 263,400 = 78,800 s (over 43,200); tail none (the last point is
    # after the horizon). One violation, worst gap 78,800 s.
    res = run(online_scenario(online={"rpo": "12 h"}))
    k = res.kpis()["online"]
    assert k["rpo_violations"] == 1
    assert k["worst_gap_s"] == approx(78_800.0)


def test_a_run_without_online_protection_has_the_online_kpis_at_zero():
    k = run(base_scenario()).kpis()["online"]
    assert k["data_sources"] == 0 and k["jobs"] == 0
    assert k["days_to_seed"] is None and k["worst_gap_s"] is None
    assert k["vault_bytes_end"] == 0 and k["upload_backlog_max_bytes"] == 0


# --- the vault's retention ---------------------------------------------------------


def test_vault_keeps_daily_weekly_and_monthly_points_as_worked_by_hand():
    # One point a day at noon, days 0..9 (Mon 5 Jan .. Wed 14 Jan 2026), day d's point
    # holding d + 1 bytes. Keep 2 days, 2 weeks, 1 month, no year.
    # Weeks: days 0-6 (week 0), 7-13 (week 1); all in January.
    # After day 9's point: daily keeps days 8 and 9; weekly keeps each week's last
    # point, day 6 (until the start of week 2, day 14) and day 9; monthly keeps the
    # month's latest, day 9. Kept: days 6, 8, 9 = 7 + 9 + 10 = 26 bytes, 3 points.
    vault = Vault(dt.date(2026, 1, 5))
    keep = VaultRetention(daily=2, weekly=2, monthly=1, yearly=0)
    previous = None
    for day in range(10):
        previous = vault.add(day * DAY_S + 43200.0, day + 1.0, 0.0, previous, keep)
    assert (vault.points, vault.bytes) == (3, 26.0)
    # The most ever kept was just then: days 6, 7, 8 after day 8 (24), then 26.
    assert vault.peak_bytes == 26.0
    # Day 14 at midnight: day 6 (last of week 0) goes with the start of week 2; day 8
    # went at day 10; day 9 stays (last of week 1 and of January).
    vault.purge(14 * DAY_S)
    assert (vault.points, vault.bytes) == (1, 10.0)


def test_a_year_end_point_kept_by_the_yearly_rule_is_deleted_once():
    # One 1-byte point a day at noon from Monday 28 Dec 2026 (day 0) to Wed 6 Jan 2027
    # (day 9); keep 1 day and 2 years. Thu 31 Dec (day 3) and Fri 1 Jan share a week
    # but not a year: the Jan 1 point leaves day 3's yearly keep (until 2028-01-01) as
    # it was. After day 9: day 9 (daily, and the last of 2027 so far) and day 3 (last
    # of 2026): 2 points, 2 bytes.
    vault = Vault(dt.date(2026, 12, 28))
    keep = VaultRetention(daily=1, weekly=0, monthly=0, yearly=2)
    previous = None
    for day in range(10):
        previous = vault.add(day * DAY_S + 43200.0, 1.0, 0.0, previous, keep)
    assert (vault.points, vault.bytes) == (2, 2.0)
    # Day 1,098 is in late 2029, past both years' keeps (2028-01-01, 2029-01-01): the
    # vault is empty, each point deleted once (not -1 point and -1 byte).
    vault.purge(1098 * DAY_S)
    assert (vault.points, vault.bytes) == (0, 0.0)


def test_the_vault_heap_holds_the_points_kept_not_every_point_made():
    # A point a day for 3,000 days from 2026-01-05 (to 2034-03-23), kept 1 day and 10
    # years: each day's point is first kept by the yearly rule, then only until the
    # next day's point replaces it as its year's last. Kept at the end: the last point
    # of each of 2026..2033 and day 2,999's: 9 points. Without dropping stale entries
    # the heap would hold all 3,000 points' first entries.
    vault = Vault(dt.date(2026, 1, 5))
    keep = VaultRetention(daily=1, weekly=0, monthly=0, yearly=10)
    previous = None
    for day in range(3000):
        previous = vault.add(day * DAY_S + 43200.0, 1.0, 0.0, previous, keep)
    assert (vault.points, vault.bytes) == (9, 9.0)
    assert len(vault._heap) <= 2 * 9 + COMPACT_MIN


def test_a_seed_stays_in_the_vault_after_its_point_expires():
    vault = Vault(dt.date(2026, 1, 5))
    keep = VaultRetention(daily=1, weekly=0, monthly=0, yearly=0)
    vault.add(0.0, 0.0, 50.0, None, keep)
    vault.purge(5 * DAY_S)
    assert (vault.points, vault.bytes) == (0, 50.0)


@pytest.mark.parametrize("yearly", [1, 9999])
def test_yearly_points_far_ahead_never_overflow_the_calendar(yearly):
    vault = Vault(dt.date(2026, 1, 5))
    keep = VaultRetention(daily=1, weekly=0, monthly=0, yearly=yearly)
    vault.add(0.0, 1.0, 0.0, None, keep)
    vault.purge(300 * DAY_S)
    assert vault.points == 1
    assert not math.isnan(vault.bytes)


def test_an_uplink_too_slow_for_the_seed_stops_the_run_naming_the_uplink():
    # 4 TB at 512 kbps (64,000 B/s) takes 62.5e6 s, some 720 days: far past the
    # horizon + 30 days the run may take (hvsim.overrun).
    # The field to change is the throttling rate that holds the uplink back (both
    # rates are equal: the work-hour one is named).
    from hvsim.overrun import RunawayError

    slow = {"work_hours_rate": "512 kbps", "non_work_hours_rate": "512 kbps"}
    doc = online_scenario(uplink={"throttling": slow})
    doc["vms"][0]["disks"] = [{"size": "4 TB"}]
    with pytest.raises(RunawayError) as err:
        run(doc)
    assert err.value.path == "dpm_servers[0].online.throttling.work_hours_rate"


def test_offline_seeds_beyond_80_tb_a_group_go_over_the_uplink():
    # Two 41 TB VMs seeded offline: the first ships (41 TB), the second would make
    # 82 TB > 80 TB a protection group, so it is seeded online: 41e12 B over a 10 Gbps
    # uplink (x 0.8 = 1e9 B/s, as fast as the pool reads) takes 41,000 s.
    doc = online_scenario(
        vms=2,
        uplink={"uplink": "10 Gbps"},
        online={"seeding": "offline"},
        initial_replica="removable_media",
        express_full_times=["20:00"],
    )
    doc["clusters"][0]["csvs"][0]["capacity"] = "200 TB"
    doc["vms"][0]["disks"] = [{"size": "41 TB"}]
    # Thin: both 41 TB replicas fit the 100 TB pool (DPM's default allocation, 1.5 x
    # 41 TB each, would refuse the second VM's volumes: not what this test is about).
    doc["dpm_servers"][0]["pool"]["allocation"] = "thin"
    res = run(doc)
    shipped = rows(res, "offline_seed")
    assert list(zip(shipped["vm"], shipped["outcome"], strict=True)) == [
        ("vm1", "skipped"),  # 14 days in transit: after the 3-day horizon
        ("vm2", "failed"),
    ]
    assert "at most 80 TB per protection group" in shipped["reason"].iloc[1]
    seed = rows(res, "seed")
    assert list(seed["vm"]) == ["vm2"]
    assert seed["end_s"].iloc[0] - seed["start_s"].iloc[0] == approx(41_000.0)
