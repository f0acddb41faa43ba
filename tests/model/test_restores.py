"""Restores (hvsim.model.restore): a restore reads the recovery point from the DPM
pool, crosses the network from the DPM server to the target host and writes the
target storage, sharing every resource max-min with the other jobs, after its fixed
steps. Expected values are worked out by hand in each test."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

import hvsim
from hvsim.results import _restore_kpis
from hvsim.scenario.loader import ScenarioError
from tests.builders import base_scenario, run, where

DAY = 86400.0
USED = 100e9  # the base scenario's VM: one 100 GB disk, all of it in use


def restore_doc(events: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """The base scenario (one VM on a 2-node cluster's CSV, 10 GbE, one DPM server,
    express full at 22:00) over two days, with the restore events given."""
    doc = base_scenario(**{"horizon_days": 2, **overrides})
    doc["restores"] = {"events": events}
    return doc


def restores(doc: dict[str, Any]) -> pd.DataFrame:
    return run(doc).restores


@pytest.mark.parametrize(
    ("changes", "rate_bps"),
    [
        # The DPM server's 10 GbE link at DPM's 80 % efficiency: 1.25 GB/s x 0.8.
        ({"csv_write": "2 GB/s", "pool_read": "2 GB/s"}, 1e9),
        # The pool's read side.
        ({"csv_write": "2 GB/s", "pool_read": "400 MB/s"}, 400e6),
        # The CSV's write side.
        ({"csv_write": "300 MB/s", "pool_read": "2 GB/s"}, 300e6),
    ],
)
def test_a_whole_vm_restore_alone_takes_used_bytes_over_its_bottleneck_plus_setup(
    changes, rate_bps
):
    # Requested on day 1 at 10:00, long after the night's only job (the initial
    # replica at 22:00 on day 0): nothing else moves. Path: pool read, dpm1->sw,
    # sw->node, CSV write; the slowest of these sets the rate.
    doc = restore_doc([{"vm": "vm1", "day": 1, "time": "10:00", "kind": "whole_vm"}])
    doc["clusters"][0]["csvs"][0]["write"] = changes["csv_write"]
    doc["dpm_servers"][0]["pool"]["read"] = changes["pool_read"]
    doc["restores"]["kinds"] = {"whole_vm": {"setup": "7 min"}}
    (row,) = restores(doc).itertuples()
    requested = DAY + 10 * 3600
    assert row.outcome == "succeeded" and row.restored_as == "whole_vm"
    assert row.original_location and row.target_storage == "c1/csv1"
    assert row.requested_s == row.start_s == requested
    assert row.bytes == USED
    assert row.rto_s == pytest.approx(420 + USED / rate_bps, rel=1e-9)
    assert row.end_s - row.requested_s == pytest.approx(row.rto_s, rel=1e-12)
    # In place, the VM is unavailable from the restore's start to its end.
    assert row.vm_unavailable_s == pytest.approx(row.rto_s, rel=1e-9)


def _uplink_doc(restore: bool) -> dict[str, Any]:
    """Two sites joined by a 1 Gbps uplink swA-swB (0.8 x 125 MB/s = 100 MB/s each
    way); 10 GbE everywhere else. vm1 (100 GB, cluster c1 at site A) is protected by
    dpm1 at site B: its initial replica at 22:00 crosses swA->swB. vm2 (200 GB, host
    h2 at site B) is protected by dpm2 at site A (initial replica at 20:00, over by
    about 20:34); restoring it at 22:00 goes dpm2 -> swA -> swB -> h2, the same
    direction of the uplink as vm1's backup."""
    doc = base_scenario(horizon_days=1)
    doc["hosts"] = [
        {
            "name": "h2",
            "os": "2012",
            "storage": {"capacity": "2 TB", "read": "2 GB/s", "write": "2 GB/s"},
        }
    ]
    doc["clusters"][0]["csvs"][0].update(read="2 GB/s", write="2 GB/s")
    doc["switches"] = ["swA", "swB"]
    doc["links"] = [
        {"between": ["c1-n1", "swA"], "bandwidth": "10 Gbps"},
        {"between": ["c1-n2", "swA"], "bandwidth": "10 Gbps"},
        {"between": ["dpm2", "swA"], "bandwidth": "10 Gbps"},
        {"between": ["swA", "swB"], "bandwidth": "1 Gbps"},
        {"between": ["dpm1", "swB"], "bandwidth": "10 Gbps"},
        {"between": ["h2", "swB"], "bandwidth": "10 Gbps"},
    ]
    pool = {"capacity": "100 TB", "write": "2 GB/s"}
    doc["dpm_servers"] = [
        {"name": "dpm1", "version": "2012SP1", "pool": pool},
        {"name": "dpm2", "version": "2012SP1", "pool": pool},
    ]
    doc["protection_groups"] = [
        {"name": "pg1", "dpm_server": "dpm1", "members": ["vm1"]},
        {"name": "pg2", "dpm_server": "dpm2", "members": ["vm2"], "express_full_times": ["20:00"]},
    ]
    doc["vms"] = [
        {"name": "vm1", "cluster": "c1", "csv": "csv1", "node": "c1-n1"},
        {"name": "vm2", "host": "h2", "disks": [{"size": "200 GB"}]},
    ]
    doc["restores"] = {
        "kinds": {"whole_vm": {"setup": "0 s"}},
        "events": [{"vm": "vm2", "day": 0, "time": "22:00", "kind": "whole_vm"}] if restore else [],
    }
    return doc


def test_a_restore_sharing_a_saturated_link_with_a_backup_halves_its_rate_by_max_min():
    # Alone, vm1's 100 GB initial replica crosses the 100 MB/s uplink in 1000 s.
    # The restore of vm2 (200 GB, no setup) starts moving at 22:00, the backup a few
    # seconds later (writer freeze, snapshot); from then on both share the uplink,
    # 50 MB/s each, until the backup's 100 GB are across: 2000 s, 1000 s longer.
    # Everything else in the job (VSS, snapshot release) draws the same random
    # numbers in both runs. The restore, which outlasts the backup, ends when the
    # uplink has carried both: (200 + 100) GB / 100 MB/s = 3000 s after 22:00,
    # whatever the backup's offset (work conservation).
    alone, shared = run(_uplink_doc(False)), run(_uplink_doc(True))
    jobs = [r.jobs.set_index("vm").loc["vm1"] for r in (alone, shared)]
    durations = [j["end_s"] - j["start_s"] for j in jobs]
    assert durations[0] == pytest.approx(1000.0, abs=30.0)  # transfer + VSS seconds
    assert durations[1] - durations[0] == pytest.approx(1000.0, rel=1e-9)
    (row,) = shared.restores.itertuples()
    assert row.bytes == 200e9 and row.start_s == 22 * 3600
    assert row.rto_s == pytest.approx(3000.0, rel=1e-9)


def test_a_restore_and_a_backup_of_one_dpm_server_cross_its_full_duplex_link_apart():
    # A backup goes to the DPM server, a restore comes from it: opposite directions
    # of each full-duplex link, so with the link the bottleneck of both neither
    # slows the other (the base scenario's VM on node 1, a second VM on node 2).
    def doc(restore: bool) -> dict[str, Any]:
        d = base_scenario(horizon_days=2)
        d["clusters"][0]["csvs"][0].update(read="5 GB/s", write="5 GB/s")
        d["dpm_servers"][0]["pool"].update(write="5 GB/s", read="5 GB/s")
        d["vms"] = [
            {"name": "vm1", "cluster": "c1", "csv": "csv1", "node": "c1-n1"},
            {"name": "vm2", "cluster": "c1", "csv": "csv1", "node": "c1-n2"},
        ]
        # vm2's 22:00 express full on day 1 carries its changes since day 0 (3 %):
        # restore vm1 to node 2 over the same link meanwhile.
        d["restores"] = {
            "kinds": {"whole_vm": {"setup": "0 s"}},
            "events": [
                {"vm": "vm1", "day": 1, "time": "22:00", "kind": "whole_vm", "target_host": "c1-n2"}
            ]
            if restore
            else [],
        }
        return d

    alone, shared = run(doc(False)), run(doc(True))
    assert alone.jobs[["vm", "start_s", "end_s"]].equals(shared.jobs[["vm", "start_s", "end_s"]])
    (row,) = shared.restores.itertuples()
    # dpm1 -> sw -> c1-n2 at 1 GB/s (10 GbE x 0.8): 100 s for 100 GB.
    assert row.rto_s == pytest.approx(100.0, rel=1e-9)


def test_the_restored_point_is_the_latest_complete_at_the_request_and_its_age_is_data_lost():
    # Express fulls at 22:00 (the initial replica on day 0). Requested on day 2 at
    # 22:00, when that night's express full has just started and is not complete: the
    # point of day 1 (22:00) is restored, 24 h old. At 23:00 the day-2 point exists
    # (a 3 GB express full takes seconds): 1 h old.
    events = [
        {"vm": "vm1", "day": 2, "time": "22:00", "kind": "item_level"},
        {"vm": "vm1", "day": 2, "time": "23:00", "kind": "item_level"},
        {"vm": "vm1", "day": 1, "time": "12:00", "kind": "item_level"},
    ]
    doc = restore_doc(events, horizon_days=3)
    doc["dpm_servers"][0]["hyper_v_role"] = True
    rows = restores(doc).set_index("requested_s")
    points = run(doc).recovery_points["time_s"].tolist()
    assert points == [22 * 3600.0, DAY + 22 * 3600, 2 * DAY + 22 * 3600]
    at_2200, at_2300, noon = 2 * DAY + 22 * 3600, 2 * DAY + 23 * 3600, DAY + 12 * 3600
    assert rows.loc[at_2200, "recovery_point_s"] == DAY + 22 * 3600
    assert rows.loc[at_2200, "recovery_point_age_s"] == DAY
    assert rows.loc[at_2300, "recovery_point_s"] == 2 * DAY + 22 * 3600
    assert rows.loc[at_2300, "recovery_point_age_s"] == 3600.0
    assert rows.loc[noon, "recovery_point_age_s"] == 14 * 3600.0


def test_item_level_restores_the_items_with_the_hyper_v_role_and_falls_back_without_it():
    # With the role: 1 GB (the default item_bytes) at the CSV's 500 MB/s write: 2 s,
    # after the default 5 min setup. Without it: the whole VM (100 GB) to an alternate
    # location (a copy beside the running VM on its own host and storage), 200 s at
    # 500 MB/s after the whole-VM setup, and the record says why.
    events = [{"vm": "vm1", "day": 1, "time": "10:00", "kind": "item_level"}]
    with_role = restore_doc(events)
    with_role["dpm_servers"][0]["hyper_v_role"] = True
    (row,) = restores(with_role).itertuples()
    assert (row.restored_as, row.bytes, row.fallback) == ("item_level", 1e9, "")
    assert row.rto_s == pytest.approx(300 + 2.0, rel=1e-9)
    assert not row.original_location and row.vm_unavailable_s == 0.0

    (row,) = restores(restore_doc(events)).itertuples()
    assert row.kind == "item_level" and row.restored_as == "whole_vm"
    assert row.bytes == USED and row.target_storage == "c1/csv1"
    assert not row.original_location and row.vm_unavailable_s == 0.0
    assert "Hyper-V role on DPM server dpm1" in row.fallback
    assert "alternate location" in row.fallback
    assert row.rto_s == pytest.approx(300 + 200.0, rel=1e-9)
    assert run(restore_doc(events)).kpis()["restores"]["degraded"] == 1


def test_a_restore_of_an_unprotected_vm_or_before_the_first_point_is_recorded_as_failed():
    doc = restore_doc(
        [
            {"vm": "vm2", "day": 1, "time": "10:00", "kind": "whole_vm"},
            {"vm": "vm1", "day": 0, "time": "10:00", "kind": "whole_vm"},  # before 22:00
        ]
    )
    doc["vms"].append({"name": "vm2", "cluster": "c1", "csv": "csv1"})
    doc["protection_groups"][0]["members"] = ["vm1"]
    res = run(doc)
    rows = res.restores.set_index("vm")
    assert list(rows["outcome"]) == ["failed", "failed"]
    assert "in no protection group" in rows.loc["vm2", "failure_reason"]
    assert "no recovery point yet" in rows.loc["vm1", "failure_reason"]
    assert rows["bytes"].tolist() == [0.0, 0.0]
    assert rows["rto_s"].isna().all() and rows["recovery_point_s"].isna().all()
    kpis = res.kpis()["restores"]
    assert (kpis["count"], kpis["failed"], kpis["succeeded"]) == (2, 2, 0)
    assert kpis["per_kind"]["whole_vm"] == {
        "count": 2,
        "rto_p50_s": None,
        "rto_p95_s": None,
        "rto_max_s": None,
    }


def test_nothing_is_requested_at_or_after_the_horizon_and_a_restore_started_before_it_ends():
    # Horizon 2 days. The event at day 2 00:00 (the horizon) and the drill's day-2
    # occurrence never start; the event at day 1 23:59 runs past the horizon to its
    # end (5 min setup + 200 s at the CSV's 500 MB/s).
    doc = restore_doc(
        [
            {"vm": "vm1", "day": 2, "time": "00:00", "kind": "whole_vm"},
            {"vm": "vm1", "day": 1, "time": "23:59", "kind": "whole_vm", "target_host": "c1-n2"},
        ]
    )
    doc["restores"]["drills"] = [
        {"members": ["vm*"], "kind": "item_level", "times": ["12:00"], "first_day": 1}
    ]
    doc["restores"]["poisson"] = [{"kind": "item_level", "per_vm_per_day": 20}]
    rows = restores(doc)
    assert (rows["requested_s"] < 2 * DAY).all()
    assert (rows["trigger"] == "drill").sum() == 1
    assert (rows["trigger"] == "poisson").sum() > 10  # about 40 expected
    last = rows[rows["requested_s"] == DAY + 23 * 3600 + 59 * 60].iloc[0]
    assert last["end_s"] == pytest.approx(DAY + 23 * 3600 + 59 * 60 + 500.0, rel=1e-12)
    assert last["end_s"] > 2 * DAY


def test_drills_restore_every_member_each_nth_day_at_their_times():
    # Days 1, 3, 5 (every 2 days from day 1) at 09:00 and 15:00, two VMs each time:
    # 12 restores over a 6-day horizon.
    doc = base_scenario(horizon_days=6)
    doc["vms"].append({"name": "vm2", "cluster": "c1", "csv": "csv1"})
    doc["dpm_servers"][0]["hyper_v_role"] = True
    doc["restores"] = {
        "drills": [
            {
                "members": ["vm*"],
                "kind": "item_level",
                "times": ["15:00", "09:00"],
                "every_days": 2,
                "first_day": 1,
            }
        ]
    }
    rows = restores(doc)
    expected = sorted(d * DAY + t * 3600 for d in (1, 3, 5) for t in (9, 15))
    assert sorted(set(rows["requested_s"])) == expected
    assert rows.groupby("requested_s")["vm"].apply(sorted).tolist() == [["vm1", "vm2"]] * 6
    assert (rows["outcome"] == "succeeded").all()


def test_a_whole_vm_restored_in_place_makes_its_backups_fail_until_it_ends():
    # Requested on day 1 at 21:58: 5 min setup + 200 s (100 GB at the CSV's 500 MB/s)
    # ends at 22:06:20. The 22:00 express full finds the VM being restored and fails;
    # DPM re-runs it an hour later (source: dpm-auto-rerun), and that one succeeds.
    doc = restore_doc([{"vm": "vm1", "day": 1, "time": "21:58", "kind": "whole_vm"}])
    res = run(doc)
    night = res.jobs[res.jobs["scheduled_s"] == DAY + 22 * 3600]
    assert night["outcome"].tolist() == ["failed", "succeeded"]
    assert night["failure_reason"].iloc[0] == "VM is being restored to its original location"
    (row,) = res.restores.itertuples()
    assert row.end_s == pytest.approx(DAY + 21 * 3600 + 58 * 60 + 500.0, rel=1e-12)


def test_restore_kpis_count_dpm_duration_buckets_targets_and_point_age():
    # DPM's report buckets: under 6 h, 6 to 24 h (both ends in), over 24 h.
    h = 3600.0
    rto = [1 * h, 6 * h, 7 * h, 24 * h, 25 * h]
    table = pd.DataFrame(
        {
            "kind": ["whole_vm"] * 4 + ["item_level"],
            "outcome": ["succeeded"] * 5,
            "rto_s": rto,
            "rto_target_s": [2 * h, 5 * h, math.nan, 30 * h, 24 * h],
            "recovery_point_age_s": [0.0, 10.0, 20.0, 30.0, 40.0],
            "fallback": ["", "", "", "", "item-level recovery needs ..."],
            "bytes": [1.0] * 5,
        }
    )
    k = _restore_kpis(table)
    assert (k["under_6h"], k["from_6h_to_24h"], k["over_24h"]) == (1, 3, 1)
    # Over target: 6 h > 5 h and 25 h > 24 h; no target (NaN) never counts.
    assert k["over_rto_target"] == 2
    assert k["degraded"] == 1
    assert k["recovery_point_age_p95_s"] == pytest.approx(38.0)  # numpy's linear p95
    assert k["per_kind"]["whole_vm"]["rto_max_s"] == 24 * h
    assert k["per_kind"]["item_level"]["rto_p50_s"] == 25 * h


@pytest.mark.parametrize(
    ("restores_spec", "line"),
    [
        (
            {"events": [{"vm": "nope", "day": 1, "time": "10:00", "kind": "whole_vm"}]},
            "restores.events[0].vm: unknown VM ('nope')",
        ),
        (
            {"events": [{"vm": "vm1", "day": 1, "time": "10:00", "kind": "mailbox"}]},
            "restores.events[0].kind: Input should be 'whole_vm', 'item_level', 'sql_database', "
            "'exchange_database', 'exchange_mailbox', 'sharepoint_item' or 'guest_file' "
            "('mailbox')",
        ),
        (
            {
                "events": [
                    {"vm": "vm1", "day": 1, "time": "10:00", "kind": "whole_vm", "target_host": "x"}
                ]
            },
            "restores.events[0].target_host: unknown host or node ('x')",
        ),
        (
            {"kinds": {"item_level": {"item_bytes": "-5 GB"}}},
            "restores.kinds.item_level.item_bytes: item_bytes must be a size from 1 MiB to 1 EB "
            "(1e18 bytes) ('-5 GB')",
        ),
        (
            {"drills": [{"members": ["web-*"], "kind": "whole_vm", "times": ["10:00"]}]},
            "restores.drills[0].members[0]: names no VM ('web-*')",
        ),
        (
            {"poisson": [{"kind": "whole_vm", "per_vm_per_day": -1}]},
            "restores.poisson[0].per_vm_per_day: per_vm_per_day must be a number greater "
            "than 0 and at most 100 (-1)",
        ),
    ],
)
def test_bad_restore_input_is_one_line_naming_its_field(restores_spec, line):
    doc = base_scenario()
    doc["restores"] = restores_spec
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(doc, "f.yaml")
    assert caught.value.problems == [f"f.yaml: {line}"]


def test_bad_restore_input_exits_2_from_the_command_line(tmp_path, capsys):
    import yaml

    from hvsim.cli import main

    doc = base_scenario()
    doc["restores"] = {"events": [{"vm": "nope", "day": 1, "time": "10:00", "kind": "whole_vm"}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    # safe_dump sorts the keys: the event's 'vm' is written after day, kind and time.
    assert err.strip() == f"{where(path, 'vm: nope')}: restores.events[0].vm: unknown VM ('nope')"
    assert not out.exists()


def test_the_run_estimate_counts_the_restores_a_run_will_request():
    # Two VMs over 6 days: a drill on days 1, 3, 5 at two times restoring both VMs
    # (3 x 2 x 2 = 12), a Poisson stream of 0.5 per VM per day (0.5 x 6 x 2 = 6), one
    # event: 19 restores.
    from hvsim.estimate import estimate_run

    doc = base_scenario(horizon_days=6)
    doc["vms"].append({"name": "vm2", "cluster": "c1", "csv": "csv1"})
    doc["restores"] = {
        "drills": [
            {
                "members": ["vm*"],
                "kind": "whole_vm",
                "times": ["09:00", "15:00"],
                "every_days": 2,
                "first_day": 1,
            }
        ],
        "poisson": [{"kind": "item_level", "per_vm_per_day": 0.5}],
        "events": [{"vm": "vm1", "day": 2, "time": "10:00", "kind": "whole_vm"}],
    }
    e = estimate_run(hvsim.scenario_from_dict(doc))
    assert e.restores == 19
    assert e.jobs == e.express_fulls + e.reruns + 19


def test_a_restore_that_cannot_end_is_named_with_its_setup_field():
    # A setup of 3000 days never ends within the run's overrun limit: exit 2 naming
    # the field, not the RTO target (a target makes nothing wait).
    from hvsim.overrun import RunawayError

    doc = restore_doc([{"vm": "vm1", "day": 1, "time": "10:00", "kind": "whole_vm"}])
    doc["restores"]["kinds"] = {"whole_vm": {"setup": "3000 d", "rto_target": "3600 d"}}
    with pytest.raises(RunawayError) as caught:
        run(doc)
    assert "restores.kinds.whole_vm.setup" in caught.value.problem("f.yaml")
    assert "1 restore(s)" in caught.value.problem("f.yaml")


def test_a_restore_to_a_host_without_the_dpm_agent_fails_and_says_so():
    # DPM writes the restored VM through its agent on the target host.
    doc = restore_doc(
        [{"vm": "vm1", "day": 1, "time": "10:00", "kind": "whole_vm", "target_host": "c1-n2"}]
    )
    doc["clusters"][0]["nodes"] = ["c1-n1", {"name": "c1-n2", "dpm_agent": False}]
    doc["vms"][0]["node"] = "c1-n1"
    (row,) = restores(doc).itertuples()
    assert (row.outcome, row.failure_reason) == ("failed", "no DPM agent on host c1-n2")
    assert row.bytes == 0.0 and math.isnan(row.rto_s)


def test_after_failed_nights_a_restore_gets_the_point_the_pool_keeps_past_calendar_retention():
    # Retention 3 days, no re-runs. Points: the initial replica (day 0, 22:00) and day
    # 1's express full (22:00). A consistency check requested at 21:58 on days 2, 3 and
    # 4 reads 100 GB at the CSV's 500 MB/s (200 s), so each night's 22:00 express full
    # finds the replica inconsistent and fails: days 2-4 have no point. The pool keeps
    # the days with a point, 0 and 1 (retention counts days with a successful point).
    # Restores on day 4 at 23:00 get day 1's point, 3 days + 1 h = 262,800 s old;
    # calendar retention (points made after day 1, 23:00) would have kept none.
    requested = 4 * DAY + 23 * 3600
    kinds = ("item_level", "whole_vm")
    events = [{"vm": "vm1", "day": 4, "time": "23:00", "kind": kind} for kind in kinds]
    doc = restore_doc(events, horizon_days=5)
    doc["protection_groups"][0]["retention_days"] = 3
    doc["dpm_servers"][0]["auto_rerun_attempts"] = 0
    doc["dpm_servers"][0]["hyper_v_role"] = True
    doc["migrations"] = {
        "events": [
            {"vm": "vm1", "day": d, "time": "21:58", "kind": "consistency_check"} for d in (2, 3, 4)
        ]
    }
    res = run(doc)
    nights = res.jobs[res.jobs["kind"].isin(["initial_replica", "express_full"])]
    assert list(nights["outcome"]) == ["succeeded"] * 2 + ["failed"] * 3
    # Day 1's 3 GB express full (a day of 3 % of 100 GB) is still in the pool.
    assert res.kpis()["storage"]["recovery_point_bytes"] == pytest.approx(3e9)
    rows = res.restores.set_index("kind")
    for kind in kinds:
        assert rows.loc[kind, "outcome"] == "succeeded"
        assert rows.loc[kind, "recovery_point_s"] == DAY + 22 * 3600
        assert rows.loc[kind, "recovery_point_age_s"] == requested - (DAY + 22 * 3600) == 262800.0
    assert rows.loc["whole_vm", "bytes"] == USED
