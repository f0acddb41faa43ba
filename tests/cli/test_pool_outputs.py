"""The issue's new user: a protection group kept 14 days run for the default 7 days,
on a pool too small. The run no longer under-reports silently: a warning names the
group, the console and summary lead with the pool-full line and what the range needs,
and storage.steady_state_bytes projects the full range."""

from __future__ import annotations

import json

import pytest

from tests.builders import base_scenario, cli, write_scenario

C = 1600 * 2**20  # DPM's formula constant, 1600 MB


def test_a_14_day_range_run_for_7_days_on_a_small_pool_says_so(capsys, tmp_path):
    doc = base_scenario(
        horizon_days=7,
        vms=[{"name": "vm{i}", "count": 2, "cluster": "c1", "csv": "csv1"}],
    )
    doc["protection_groups"][0]["retention_days"] = 14
    doc["dpm_servers"][0]["pool"]["capacity"] = "400 GB"
    out = tmp_path / "out"
    code, stdout, err = cli(capsys, "run", str(write_scenario(tmp_path, doc)), "--out", str(out))
    assert code == 0
    assert err == [
        f"{tmp_path / 'scenario.yaml'}: protection_groups[0].retention_days: warning: group pg "
        "keeps 14 days of recovery points but the horizon is 7 days: the pool peak "
        "under-estimates the pool its retention range needs; storage.steady_state_bytes "
        "is the projection"
    ]
    # Each VM (100 GB, 3 % a day) gets 150 GB of replica and 100 GB x 14 x 0.1 + 1600 MB
    # of recovery point volume: 291.68 GB. vm0's fits the 400 GB pool, vm1's does not:
    # its 7 nights fail at protection start's "pool full" (day 0), each with its
    # re-run: 14 jobs. The range needs 2 x 291.68 GB = 583.4 GB allocated.
    line = (
        "DPM pool full on dpm1 from day 0: 14 jobs failed; the retention range needs "
        "583.4 GB allocated (have 400.0 GB)"
    )
    assert line in stdout.splitlines()
    assert f"**{line}**" in (out / "summary.md").read_text(encoding="utf-8").splitlines()
    s = json.loads((out / "kpis.json").read_text(encoding="utf-8"))["storage"]
    assert s["days_until_full"] == 0 and s["pool_full_failures"] == 14
    assert s["needed_bytes"] == pytest.approx(2 * (150e9 + 140e9 + C), abs=1)
    # vm0 holds its replica and 6 nights of 3 GB at the end (days 1..6); the steady
    # state of both: 2 x (100 GB + 14 x 3 GB) = 284 GB, beside the 118 GB peak.
    assert s["pool_peak_bytes"] == pytest.approx(100e9 + 6 * 3e9, abs=1)
    assert s["steady_state_bytes"] == pytest.approx(2 * (100e9 + 14 * 3e9), abs=1)
    # The storage table: 7 days x 1 group x 2 volume kinds.
    rows = (out / "storage.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == (
        "day,dpm_server,protection_group,volume_kind,used_bytes,allocated_bytes,capacity_bytes"
    )
    assert len(rows) == 1 + 7 * 2
