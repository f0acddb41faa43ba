"""Nothing starts at or after the horizon; what started before it finishes.

A 1-day run once reported a live migration, a 24 h protection break and 400 GB of
consistency-check reads from days 30 to 40: explicit events, drains and the checks
they trigger were carried out whenever they were due and counted in the KPIs."""

from __future__ import annotations

import pytest

import hvsim
from hvsim.overrun import DAY_S, overrun_limit
from tests.builders import INSTANT_WRITERS, base_scenario, run

VMM_READY = {"vmm_server": "vmm1", "console_installed": True, "helper_service_running": True}


def _cluster(**overrides) -> dict:
    """base_scenario with one VM on c1-n1 (no VMM configured, so a live migration breaks
    protection: DPM cannot follow it), and standalone hosts h1, h2 (local storage 500
    MB/s, 10 Gbps links) with a 100 GB VM 'loc' on h1."""
    doc = base_scenario(vss=INSTANT_WRITERS, **overrides)
    storage = {"capacity": "10 TB", "read": "500 MB/s", "write": "500 MB/s"}
    doc["hosts"] = [{"name": h, "os": "2012", "storage": storage} for h in ("h1", "h2")]
    doc["links"] += [{"between": [h, "sw"], "bandwidth": "10 Gbps"} for h in ("h1", "h2")]
    doc["vms"] = [
        {"name": "vm1", "cluster": "c1", "csv": "csv1", "node": "c1-n1"},
        {"name": "loc", "host": "h1"},
    ]
    return doc


def test_events_and_drains_due_after_the_horizon_are_not_carried_out_or_counted():
    at = {"time": "12:00"}
    doc = _cluster(
        migrations={
            "events": [
                dict(at, vm="vm1", day=30, kind="live", target="c1-n2"),
                dict(at, vm="loc", day=32, kind="shared_nothing", target="h2"),
                dict(at, vm="vm1", day=34, kind="consistency_check"),
                # Exactly at the horizon is after it too: [0, horizon) is the run.
                dict(vm="vm1", day=1, time="00:00", kind="live", target="c1-n2"),
            ],
            "drains": [{"node": "c1-n1", "day": 36, "time": "12:00", "duration": "4 d"}],
        }
    )
    res = run(doc)
    assert res.migrations.empty
    assert res.protection_breaks.empty
    assert res.consistency_checks.empty
    k = res.kpis()
    assert k["migrations"]["live"] == 0
    assert k["migrations"]["protection_breaks"] == 0
    assert k["migrations"]["unprotected_s"] == 0
    assert k["consistency_checks"]["count"] == 0
    assert k["consistency_checks"]["bytes_read"] == 0
    # The run ends with its last job (the 22:00 initial replica), not on day 40.
    assert res.counters["end_s"] == pytest.approx(res.jobs["end_s"].max())
    assert res.counters["end_s"] < DAY_S
    assert res.vms["host"].tolist() == ["c1-n1", "h1"]


def test_a_repair_after_the_horizon_starts_no_consistency_check():
    # A live migration at 12:00 breaks protection; the 24 h repair would come on day 1
    # 12:00, after the 1-day horizon: the break is recorded (it began before the
    # horizon), the check that the repair would trigger is not started.
    doc = _cluster(
        migrations={
            "events": [{"vm": "vm1", "day": 0, "time": "12:00", "kind": "live", "target": "c1-n2"}]
        }
    )
    res = run(doc)
    assert len(res.migrations) == 1
    assert len(res.protection_breaks) == 1
    assert res.consistency_checks.empty
    # No event waits for the repair: the run ends with the last job of the night (the
    # 22:00 backup fails at once, its re-run at 23:00 too).
    assert res.counters["end_s"] == pytest.approx(res.jobs["end_s"].max())
    assert res.jobs.loc[res.jobs["vm"] == "vm1", "end_s"].max() == pytest.approx(23 * 3600)


def test_a_storage_move_ending_after_the_horizon_leaves_the_replica_unchecked():
    # At 23:59 the 100 GB VM 'loc' moves from h1 to h2 with its storage (local volumes
    # read and write 500 MB/s): at least 200 s of copying, so it ends after the 1-day
    # horizon. It finishes (it started before), but the consistency check that the
    # storage move calls for would start after the horizon: not started, the replica
    # stays inconsistent.
    doc = _cluster(
        migrations={
            "events": [
                {"vm": "loc", "day": 0, "time": "23:59", "kind": "shared_nothing", "target": "h2"}
            ]
        }
    )
    doc["dpm_servers"][0]["vmm"] = VMM_READY
    doc["vmm_servers"] = [{"name": "vmm1", "manages": ["c1", "h1", "h2"]}]
    res = run(doc)
    mig = res.migrations.iloc[0]
    assert mig["start_s"] < DAY_S < mig["end_s"]
    assert (mig["to_storage"], mig["protection"]) == ("h2/local", "continues")
    assert res.consistency_checks.empty


def test_a_drain_whose_return_falls_after_the_horizon_leaves_the_vms_on_the_other_nodes():
    # Drained at 12:00 for 24 h in a 1-day run: the moves happen, the return (day 1
    # 12:00) would be new migrations after the horizon, so at the end the VMs are on
    # c1-n2 and the node is still drained, as it is at the horizon.
    doc = _cluster(
        migrations={"drains": [{"node": "c1-n1", "day": 0, "time": "12:00", "duration": "24 h"}]}
    )
    doc["dpm_servers"][0]["vmm"] = VMM_READY
    doc["vmm_servers"] = [{"name": "vmm1", "manages": ["c1"]}]
    res = run(doc)
    assert res.migrations["trigger"].tolist() == ["drain"]
    assert res.vms["host"].tolist() == ["c1-n2", "h1"]
    assert res.counters["end_s"] < DAY_S


def test_a_failed_backups_rerun_after_the_horizon_still_runs():
    # The decision for re-runs: the 22:00 express full finds the VM migrating (a 64 GiB
    # VM moving from 21:59 over the 1 Gbps cluster network takes over 9 min) and fails;
    # the horizon is 22:30; DPM re-runs it 60 min later (source: dpm-auto-rerun), at
    # 23:00 + a little, after the horizon. It runs: it finishes the 22:00 occurrence,
    # which started before.
    doc = _cluster(
        horizon_days=22.5 / 24,
        migrations={
            "events": [{"vm": "vm1", "day": 0, "time": "21:59", "kind": "live", "target": "c1-n2"}]
        },
    )
    doc["vms"][0]["memory"] = "64 GiB"
    doc["dpm_servers"][0]["vmm"] = VMM_READY
    doc["vmm_servers"] = [{"name": "vmm1", "manages": ["c1"]}]
    jobs = run(doc).jobs
    jobs = jobs[jobs["vm"] == "vm1"]
    assert jobs["outcome"].tolist() == ["failed", "succeeded"]
    assert jobs["start_s"].iloc[1] > 22.5 * 3600


def test_events_after_the_horizon_no_longer_lengthen_the_allowed_overrun():
    # They are not carried out, so the run need not wait for them: 1 day + 30 days +
    # the longest re-run wait (one re-run after 60 min, source: dpm-auto-rerun).
    doc = base_scenario(
        migrations={
            "events": [{"vm": "vm1", "day": 3000, "time": "00:00", "kind": "consistency_check"}],
            "drains": [{"node": "c1-n1", "day": 0, "time": "12:00", "duration": "3000 d"}],
        }
    )
    assert overrun_limit(hvsim.scenario_from_dict(doc)) == (1 + 30) * DAY_S + 3600


def test_progress_reports_never_tick_past_a_fractional_horizon():
    # hvsim.simulate(progress=...) ticks once a day; with a 1.5-day horizon it ticked at
    # day 2, half a day after the horizon, and the run's end moved there.
    doc = base_scenario(horizon_days=1.5, protection_groups=[])
    days: list[float] = []
    res = hvsim.simulate(hvsim.scenario_from_dict(doc), seed=1, progress=days.append)
    assert days == [1.0, 1.5]
    assert res.counters["end_s"] <= 1.5 * DAY_S


@pytest.mark.parametrize("horizon", [1e-6, 0.0004, 0.0123456, 7.0])
def test_kpis_json_gives_the_horizon_as_the_scenario_does(horizon):
    # Rounded to 3 places, a horizon of 1e-6 days (0.0864 s; the schema takes any
    # horizon above 0) read 0 days in kpis.json and the console, and 0.0123456 days
    # read 0.012 (found by whole-command fuzzing).
    kpis = run(base_scenario(horizon_days=horizon)).kpis()
    assert kpis["horizon_days"] == horizon


def test_unprotected_time_counts_only_the_part_of_a_break_before_the_horizon():
    # A live migration at 20:00 of a 1-day run breaks protection (no VMM console on the
    # DPM server); the break lasts until the repair 24 h later, long after the horizon.
    # Unprotected time inside the run: from the break's start to 24:00, about 4 h, not
    # the 24 h of the whole break (4 such breaks once read 138 h in a 1-day run).
    doc = base_scenario(
        migrations={
            "events": [{"vm": "vm1", "day": 0, "time": "20:00", "kind": "live", "target": "c1-n2"}]
        }
    )
    doc["vms"][0]["node"] = "c1-n1"
    res = run(doc)
    (brk,) = res.protection_breaks.itertuples()
    assert brk.duration_s == pytest.approx(86400.0)
    assert 20 * 3600 < brk.start_s < 20 * 3600 + 60
    assert res.kpis()["migrations"]["unprotected_s"] == round(86400.0 - brk.start_s, 3)
