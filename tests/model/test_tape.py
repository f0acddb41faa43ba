"""Long-term protection to tape (hvsim.model.tape): drives as slots and bandwidth,
the pool's read shared, DPM's tape count, the calendar of long-term backups and the
overlap with the backup window. Every expected value is worked out in the test."""

from __future__ import annotations

import pytest

from hvsim.model.tape import fulls_kept, tapes_in_rotation, tapes_per_full, window_overlap_s
from tests.builders import base_scenario, run, tape_doc

TB = 1e12
H = 3600.0
DAY = 86400.0


# --- DPM's tape count ---------------------------------------------------------------


def test_weekly_fulls_kept_12_weeks_with_two_data_sources_need_24_tapes() -> None:
    # DPM: frequency x retention range = 52 fulls a year x 12/52 year = 12 fulls kept
    # per data source, a tape for each full (1 TB fits on a 1.5 TB tape): 2 x 12 = 24.
    # (The rule itself: DPM's long-term goals take 1-4 weeks, so a scenario writes
    # 12 weeks as 3 months, see the next test.)
    assert fulls_kept("weekly", "weeks", 12) == 12
    assert tapes_in_rotation("weekly", "weeks", 12, [1 * TB, 1 * TB], 1.5 * TB) == 24


def test_frequency_times_retention_in_months_and_years() -> None:
    # weekly kept 3 months: 52 x 3/12 = 13; monthly kept 7 years: 12 x 7 = 84;
    # yearly kept 10 years: 10; weekly kept 11 months: 52 x 11/12 = 47.67 -> 48.
    assert fulls_kept("weekly", "months", 3) == 13
    assert fulls_kept("monthly", "years", 7) == 84
    assert fulls_kept("yearly", "years", 10) == 10
    assert fulls_kept("weekly", "months", 11) == 48


def test_a_full_larger_than_a_tape_takes_as_many_tapes_as_it_needs() -> None:
    # 4 TB on 1.5 TB tapes: ceil(2.67) = 3; exactly 3 TB: 2; 1 byte: still one tape.
    assert tapes_per_full(4 * TB, 1.5 * TB) == 3
    assert tapes_per_full(3 * TB, 1.5 * TB) == 2
    assert tapes_per_full(1.0, 1.5 * TB) == 1
    # Two data sources of 4 TB, weekly kept 4 weeks: 2 x 4 fulls x 3 tapes = 24.
    assert tapes_in_rotation("weekly", "weeks", 4, [4 * TB, 4 * TB], 1.5 * TB) == 24


def test_a_run_reports_the_tapes_of_weekly_fulls_kept_3_months() -> None:
    # Two VMs of 1 TB, weekly kept 3 months: 13 fulls each (above), one LTO-5 tape of
    # 1.5 TB a full: 26 tapes in rotation; 52 fulls a year: 2 x 52 = 104 tapes a year.
    res = run(tape_doc(retention_weeks=None, retention_months=3))
    k = res.kpis()["tape"]
    assert k["tapes_in_rotation"] == 26
    assert k["tapes_per_year"] == 104
    assert list(res.tape_plan["fulls_kept"]) == [13, 13]


# --- drives, the pool's read and the flow network ------------------------------------


def test_two_data_sources_on_one_drive_run_back_to_back() -> None:
    # 1 TB at 100 MB/s = 10,000 s each; one drive: the second waits for the first.
    # Monday 10:00 = 36,000 s: 36,000-46,000 and 46,000-56,000.
    res = run(tape_doc(drives=1))
    jobs = res.tape_jobs
    assert list(jobs["start_s"]) == pytest.approx([36000.0, 46000.0])
    assert list(jobs["end_s"]) == pytest.approx([46000.0, 56000.0])
    assert set(jobs["drive"]) == {"dpm1:drive1"}
    k = res.kpis()["tape"]
    assert k["session_makespan_max_s"] == pytest.approx(20000.0)
    assert k["tapes_written"] == 2
    # Busy 20,000 drive-seconds over 1 drive x 20,000 s from first start to last end.
    assert k["drive_utilisation"] == pytest.approx(1.0)
    # ... and over 1 drive x the horizon of one day: 20,000 / 86,400 = 0.2315.
    assert k["drive_utilisation_horizon"] == pytest.approx(0.2315, abs=1e-4)


def test_two_drives_write_two_data_sources_in_parallel() -> None:
    # Two drives allocated: both 10,000 s at once (the pool reads 1 GB/s, 200 MB/s used).
    res = run(tape_doc(drives=2, drives_allocated=2))
    jobs = res.tape_jobs
    assert list(jobs["start_s"]) == pytest.approx([36000.0, 36000.0])
    assert list(jobs["end_s"]) == pytest.approx([46000.0, 46000.0])
    assert sorted(jobs["drive"]) == ["dpm1:drive1", "dpm1:drive2"]
    k = res.kpis()["tape"]
    assert k["session_makespan_max_s"] == pytest.approx(10000.0)
    # 20,000 drive-seconds over 2 drives x 10,000 s.
    assert k["drive_utilisation"] == pytest.approx(1.0)


def test_the_groups_allocated_drives_limit_its_jobs_in_a_larger_library() -> None:
    # Library of 2 drives, but the group may use 1: back to back as on one drive.
    res = run(tape_doc(drives=2, drives_allocated=1))
    assert list(res.tape_jobs["end_s"]) == pytest.approx([46000.0, 56000.0])


def test_the_pools_read_bottleneck_sets_the_rate_of_parallel_tape_jobs() -> None:
    # Two drives of 100 MB/s, but the pool reads 150 MB/s: each job gets 75 MB/s, so
    # 2 TB / 150 MB/s = 13,333.3 s for both, ending at 36,000 + 13,333.3 = 49,333.3 s.
    res = run(tape_doc(drives=2, drives_allocated=2, pool_read="150 MB/s"))
    assert list(res.tape_jobs["end_s"]) == pytest.approx([49333.333, 49333.333])
    assert res.kpis()["tape"]["session_makespan_max_s"] == pytest.approx(13333.333, abs=1e-3)


def test_a_consistency_check_shares_the_pools_read_with_a_tape_job() -> None:
    # One 1 TB VM, one 100 MB/s drive, the pool reads 150 MB/s. At Monday 10:00 a
    # requested consistency check reads the 1 TB replica from the pool too: max-min
    # fair, 75 MB/s each (the drive's 100 MB/s is not reached), so both reads of 1 TB
    # take 1e12 / 75e6 = 13,333.3 s: the tape job ends at 36,000 + 13,333.3 s
    # (alone it would take 10,000 s).
    doc = tape_doc(vms=1, pool_read="150 MB/s")
    doc["migrations"] = {
        "events": [{"vm": "vm1", "day": 0, "time": "10:00", "kind": "consistency_check"}]
    }
    res = run(doc)
    assert list(res.tape_jobs["end_s"]) == pytest.approx([49333.333])
    assert len(res.consistency_checks) == 1


def test_hardware_compression_multiplies_the_drive_rate_and_the_tape_capacity() -> None:
    # Compression 2: a 100 MB/s drive takes 200 MB/s of the replica, 1 TB in 5,000 s;
    # a 1.5 TB tape holds 3 TB, so a 2 TB data source needs 1 tape, not 2.
    doc = tape_doc(vms=1, size="2 TB", drive_rate="100 MB/s")
    doc["dpm_servers"][0]["tape_library"]["compression"] = 2
    res = run(doc)
    jobs = res.tape_jobs
    assert list(jobs["end_s"] - jobs["start_s"]) == pytest.approx([10000.0])
    assert list(jobs["tapes"]) == [1]


def test_a_data_source_without_a_replica_is_skipped_with_a_reason() -> None:
    # Initial replica over the network at 22:00 (the default express full time): at
    # the Monday 10:00 long-term time no replica exists yet.
    doc = tape_doc(vms=1)
    doc["protection_groups"][0]["initial_replica"] = "network"
    res = run(doc)
    jobs = res.tape_jobs
    assert list(jobs["outcome"]) == ["skipped"]
    assert list(jobs["reason"]) == ["no replica on the DPM server yet"]
    k = res.kpis()["tape"]
    assert (k["jobs"], k["skipped"], k["tapes_written"]) == (0, 1, 0)


def test_guest_data_sources_go_to_tape_from_their_replicas() -> None:
    # A guest-level group of one VM with two 200 GB SQL databases (removable media:
    # replicas from t = 0), one 100 MB/s drive: 2,000 s each, back to back from 10:00.
    doc = tape_doc(vms=1, size="500 GB")
    doc["vms"][0].update(protection="guest", sql={"databases": 2, "size": "200 GB"})
    doc["protection_groups"][0]["level"] = "guest"
    res = run(doc)
    jobs = res.tape_jobs
    assert list(jobs["data_source"]) == ["vm1/sql1", "vm1/sql2"]
    assert list(jobs["workload"]) == ["sql", "sql"]
    assert list(jobs["end_s"]) == pytest.approx([38000.0, 40000.0])


# --- the calendar and the horizon ----------------------------------------------------


def test_weekly_monthly_and_yearly_times_follow_the_calendar() -> None:
    # Start Monday 2026-01-05, 70 days (to 2026-03-16). Weekly on Saturday at 10:00:
    # days 5, 12, ..., 68 (Sat 2026-03-14): 10 backups.
    res = run(tape_doc(vms=1, horizon_days=70, weekday="sat"))
    days = list((res.tape_jobs["scheduled_s"] - 36000.0) / DAY)
    assert days == [5, 12, 19, 26, 33, 40, 47, 54, 61, 68]
    # Monthly on the 31st, kept 3 months: 2026-01-31 (day 26), 2026-02-28 (day 54,
    # February's last day); 2026-03-31 is past the horizon.
    res = run(
        tape_doc(
            vms=1,
            horizon_days=70,
            frequency="monthly",
            weekday=None,
            day_of_month=31,
            retention_weeks=None,
            retention_months=3,
        )
    )
    assert list((res.tape_jobs["scheduled_s"] - 36000.0) / DAY) == [26, 54]
    # Yearly on March 1st, kept 7 years: 2026-03-01 is day 55.
    res = run(
        tape_doc(
            vms=1,
            horizon_days=70,
            frequency="yearly",
            weekday=None,
            month="mar",
            retention_weeks=None,
            retention_years=7,
        )
    )
    assert list((res.tape_jobs["scheduled_s"] - 36000.0) / DAY) == [55]


def test_nothing_starts_at_or_after_the_horizon() -> None:
    # A horizon of 10:00 exactly (36,000 s = 0.41667 days): the Monday 10:00 backup
    # is due at the horizon, so it does not start.
    res = run(tape_doc(horizon_days=36000.0 / DAY))
    assert res.tape_jobs.empty
    assert res.kpis()["tape"]["sessions"] == 0


# --- overlap with the backup window --------------------------------------------------


def test_window_overlap_by_hand() -> None:
    # Window 20:00-06:00. A session 04:00-08:00 on day 1 overlaps 04:00-06:00: 2 h.
    assert window_overlap_s(DAY + 4 * H, DAY + 8 * H, 20 * H, 6 * H) == pytest.approx(2 * H)
    # 10:00-23:00: only 20:00-23:00, 3 h.
    assert window_overlap_s(10 * H, 23 * H, 20 * H, 6 * H) == pytest.approx(3 * H)
    # 10:00 day 0 to 10:00 day 2 (48 h): day 0's 20:00-06:00 and day 1's, 2 x 10 h.
    assert window_overlap_s(10 * H, 2 * DAY + 10 * H, 20 * H, 6 * H) == pytest.approx(20 * H)
    # Inside a day window 08:00-18:00 from 12:00 to 13:00: 1 h; 18:00-19:00: none.
    assert window_overlap_s(12 * H, 13 * H, 8 * H, 18 * H) == pytest.approx(H)
    assert window_overlap_s(18 * H, 19 * H, 8 * H, 18 * H) == 0.0


def test_a_tape_session_running_into_the_window_reports_the_overlap() -> None:
    # Tape at 17:00 Monday, two 1 TB data sources on one 100 MB/s drive: 17:00 to
    # 17:00 + 20,000 s = 22:33:20. The group's window 20:00-06:00: 2 h 33 min 20 s =
    # 2.5556 h of overlap, one session overlapping.
    res = run(tape_doc(time="17:00"))
    k = res.kpis()["tape"]
    assert k["sessions"] == 1
    assert k["sessions_overlapping_window"] == 1
    assert k["window_overlap_h"] == pytest.approx(9200.0 / 3600.0, abs=1e-3)


def test_without_tape_the_tape_section_is_zeros() -> None:
    k = run(base_scenario()).kpis()["tape"]
    assert k["groups"] == 0 and k["jobs"] == 0 and k["drives"] == 0
    assert k["tapes_per_year"] == 0 and k["session_makespan_max_s"] == 0.0


def test_the_tape_plan_projects_tapes_from_the_data_grown_by_the_horizon():
    # Two VMs of 1.2 TB growing 50 % a year: at the 365-day horizon 1.8 TB each, so a
    # long-term full takes ceil(1.8 / 1.5) = 2 LTO-5 tapes (1 without growth). Weekly
    # kept 4 weeks: 4 fulls x 2 tapes x 2 VMs = 16 in rotation; 52 x 2 x 2 = 208 a year.
    doc = tape_doc(size="1.2 TB", horizon_days=365)
    doc["vms"][0]["growth_per_year"] = 0.5
    plan = run(doc).tape_plan
    assert list(plan["protected_bytes"]) == pytest.approx([1.8e12, 1.8e12])
    assert list(plan["tapes_per_full"]) == [2, 2]
    assert plan["tapes_in_rotation"].sum() == 16
    assert plan["tapes_per_year"].sum() == 208
