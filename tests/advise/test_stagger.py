"""The advisor staggers two protection groups on a saturated pool (issue 16 §3).

Two VMs, one per group, each moving 240 GB (its initial replica, over the network)
at 22:00, the groups' time; the DPM pool writes 100 MB/s and is the only
bottleneck (CSV 500 MB/s, links 10 GbE), so it is shared equally while both run:
- web: 240 GB alone takes 2.4e11 / 1e8 = 2400 s = 40 min; its window ends 23:00.
- db: 40 min alone too; its window ends 00:00.
With db offset by o minutes (o < 40), web runs alone for o minutes (o x 6 GB), then
at 50 MB/s: it ends at o + 2 (40 - o) = 80 - o minutes; the pool is busy throughout,
so db ends at 80 min. With o >= 40, web ends at 40 and db at o + 40.
  o =  0: web ends 80 > 60, misses       o = 45: night 85 min
  o = 15: web ends 65 > 60, misses       o = 60: night 100 min
  o = 30: web 50, db 80: night 80 min    o = 90: db ends 130 > 120, misses
The optimum is o = 30 min (the only offset with the shortest night that meets both
windows), found within 6 trials (every offset once)."""

from __future__ import annotations

import pandas as pd

from tests.builders import INSTANT_WRITERS, base_scenario, cli, write_scenario

OFFSETS = "protection_groups[1].start_offset=0 min,15 min,30 min,45 min,60 min,90 min"
SNAPSHOT_S = 60.0


def two_groups() -> dict:
    vm = {"cluster": "c1", "csv": "csv1", "disks": [{"size": "240 GB", "used": "240 GB"}]}
    doc = base_scenario(
        vms=[{"name": "web1", **vm}, {"name": "db1", **vm}],
        protection_groups=[
            {
                "name": "web",
                "dpm_server": "dpm1",
                "members": ["web1"],
                "retention_days": 1,
                "backup_window": {"start": "22:00", "end": "23:00"},
            },
            {
                "name": "db",
                "dpm_server": "dpm1",
                "members": ["db1"],
                "retention_days": 1,
                "backup_window": {"start": "22:00", "end": "00:00"},
            },
        ],
        vss=INSTANT_WRITERS,
    )
    doc["dpm_servers"][0]["pool"]["write"] = "100 MB/s"
    return doc


def test_the_advisor_offsets_the_second_group_by_30_min(tmp_path, capsys):
    path = write_scenario(tmp_path, two_groups())
    out = tmp_path / "adv"
    status, stdout, _ = cli(
        capsys, "advise", str(path), "--knob", OFFSETS, "--target", "window",
        "--minimize", "night", "--trials", "6", "--replications", "1",
        "--out", str(out), "--workers", "1",
    )  # fmt: skip
    assert status == 0, stdout
    assert "Setting protection_groups[1].start_offset to 30 min (input: 0 min)" in stdout
    trials = pd.read_csv(out / "trials.csv").set_index(OFFSETS.split("=")[0])
    night = trials.loc[~trials["design"].eq("input"), "night"]
    for offset, minutes in (("15 min", None), ("30 min", 80), ("45 min", 85), ("60 min", 100)):
        if minutes is not None:
            assert minutes * 60 <= night[offset] <= minutes * 60 + SNAPSHOT_S, offset
    meets = trials.loc[~trials["design"].eq("input"), "meets_targets"]
    assert meets.to_dict() == {
        "0 min": False,
        "15 min": False,
        "30 min": True,
        "45 min": True,
        "60 min": True,
        "90 min": False,
    }


def test_the_advisor_orders_longest_first_where_it_shortens_the_night(tmp_path, capsys):
    # The instance (tests/model/test_job_order.py): two slots, jobs of 2, 2, 3,
    # 3 and 4 h queued in that order. DPM's order: 9 h (+ 3 s of snapshots), longest
    # first: 8 h (+ 3 s). A night of at most 8.5 h needs longest_first.
    from tests.model.test_job_order import two_two_three_three_four

    path = write_scenario(tmp_path, two_two_three_three_four(2, "dpm"))
    out = tmp_path / "adv"
    status, stdout, _ = cli(
        capsys, "advise", str(path), "--knob", "dpm_servers[0].job_order=dpm,longest_first",
        "--target", "backups.night_span_max_s<=8.5 h", "--replications", "1",
        "--out", str(out), "--workers", "1",
    )  # fmt: skip
    assert status == 0, stdout
    assert "Setting dpm_servers[0].job_order to longest_first (input: dpm)" in stdout
    assert "from 9.00 h to 8.00 h (now met)" in stdout
    trials = pd.read_csv(out / "trials.csv").set_index("design")
    assert trials.loc["input", "backups.night_span_max_s<=8.5 h"] == 9 * 3600 + 3
    assert trials.loc["proposal", "backups.night_span_max_s<=8.5 h"] == 8 * 3600 + 3
