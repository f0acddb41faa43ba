"""Restores of guest data sources (hvsim.model.restore with the GuestReplica of
hvsim.model.dpm): a SQL or Exchange database to its latest point (the express full
before it and every log synchronization since, then the log replayed), a mailbox
by way of a recovery database, a SharePoint item (needs the catalog), files from a
guest volume, and the fallbacks when the protection cannot serve the request.
Every expected value is worked out by hand in the test's comment.

The estate (tests.model.test_guest_jobs.estate): one standalone host and one DPM
server on a 10 GbE link, 1 GB/s after DPM's 80 % efficiency; the pool reads at
10 GB/s and the host's storage writes at 10 GB/s, so a restore crosses the link at
1 GB/s. Replicas arrive by removable media at 00:00 of day 0 (an initial_replica
point then); express fulls at 20:00. Day 0 is Monday 2026-01-05."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hvsim.cli import main
from hvsim.model.guest import SKIPPED_RESTORING
from hvsim.scenario.loader import ScenarioError, scenario_from_dict
from tests.builders import where
from tests.model.test_guest_jobs import estate, run

DAY = 86400.0
H = 3600.0
SETUP = 300.0  # the kinds' default setup
REPLAY_BPS = 50e6  # the database kinds' default replay rate
LINK_BPS = 1e9


def with_restores(doc: dict[str, Any], *events: dict[str, Any], **kinds: Any) -> dict[str, Any]:
    doc["restores"] = {"events": list(events)}
    if kinds:
        doc["restores"]["kinds"] = kinds
    return doc


def sql_estate(**vm: Any) -> dict[str, Any]:
    """sql-1: one 200 GB database in the full recovery model writing 9.6 GB of log a
    day (100 MB a quarter hour), 15-min syncs."""
    db = {"size": "200 GB", "log_per_day": "9.6 GB"}
    return estate([{"name": "sql-1", "sql": db, **vm}], [{"name": "pg", "members": ["sql-1"]}])


def event(vm: str, kind: str, day: int, time: str, **more: Any) -> dict[str, Any]:
    return {"vm": vm, "kind": kind, "day": day, "time": time, **more}


# -- SQL ---------------------------------------------------------------------------
def test_a_sql_database_restored_to_latest_reads_the_express_full_and_the_logs_since():
    # Requested on day 1 at 21:05. Day 1's express full at 20:00, then syncs at
    # 20:15, 20:30, 20:45, 21:00, each done within a second (100 MB at the pool's
    # 100 MB/s write). The 20:15 sync sends the log since the last sync, 19:45
    # (an express full does not take SQL's log): 200 MB; the others 100 MB each.
    # Bytes: the whole database (200 GB) + 500 MB of log = 200.5 GB at 1 GB/s =
    # 200.5 s; replay: 500 MB at 50 MB/s = 10 s; setup 300 s. RTO 510.5 s. The point
    # restored is the 21:00 sync: 300 s old, within the 900 s sync interval.
    doc = with_restores(
        sql_estate(), event("sql-1", "sql_database", 1, "21:05", data_source="sql-1/sql1")
    )
    (row,) = run(doc).restores.itertuples()
    assert row.outcome == "succeeded" and row.restored_as == "sql_database"
    assert row.data_source == "sql-1/sql1" and row.fallback == ""
    assert row.target_host == "h1" and row.target_storage == "h1/local"
    assert row.bytes == pytest.approx(200.5e9, rel=1e-9)
    assert row.rto_s == pytest.approx(SETUP + 200.5e9 / LINK_BPS + 500e6 / REPLAY_BPS, rel=1e-9)
    assert row.recovery_point_s == DAY + 21 * H
    assert row.recovery_point_age_s == 300.0 <= 900.0


def test_with_one_day_retention_a_morning_restore_uses_yesterdays_full_and_todays_log():
    # Retention 1 day: day 2's first sync (00:00) makes day 2 the one retained day,
    # so day 1's 20:00 express full expires; its data is in every later point (each a
    # shadow copy of the replica: DPM's points expire one by one). Requested on day 2
    # at 10:05: the 10:00 sync, restored from day 1's full and the log since, which
    # syncs at 20:15 (200 MB: the log since 19:45) and 20:30 ... 10:00 (55 x 100 MB)
    # sent: 5.7 GB. Bytes 200 GB + 5.7 GB at 1 GB/s = 205.7 s; replay 5.7 GB at
    # 50 MB/s = 114 s; setup 300 s.
    doc = sql_estate()
    doc["horizon_days"] = 3
    doc["protection_groups"][0]["retention_days"] = 1
    doc = with_restores(doc, event("sql-1", "sql_database", 2, "10:05", data_source="sql-1/sql1"))
    (row,) = run(doc).restores.itertuples()
    assert row.outcome == "succeeded" and row.restored_as == "sql_database"
    assert row.recovery_point_s == 2 * DAY + 10 * H
    assert row.bytes == pytest.approx(205.7e9, rel=1e-9)
    assert row.rto_s == pytest.approx(SETUP + 205.7e9 / LINK_BPS + 5.7e9 / REPLAY_BPS, rel=1e-9)


def test_the_replay_rate_sets_the_replay_time():
    # The same restore with a 10 MB/s replay: 500 MB take 50 s instead of 10 s.
    doc = with_restores(
        sql_estate(),
        event("sql-1", "sql_database", 1, "21:05", data_source="sql1"),
        sql_database={"replay_rate": "10 MB/s", "setup": "0 s"},
    )
    (row,) = run(doc).restores.itertuples()
    assert row.rto_s == pytest.approx(200.5e9 / LINK_BPS + 500e6 / 10e6, rel=1e-9)


def test_a_sql_database_restore_cancels_its_syncs_while_it_runs():
    # With a 1 h setup the restore of 21:05 runs to 22:08:30: the syncs of 21:15 to
    # 22:00 (4) are cancelled and recorded as skipped; the one of 22:15 runs.
    doc = with_restores(
        sql_estate(),
        event("sql-1", "sql_database", 1, "21:05", data_source="sql1"),
        sql_database={"setup": "1 h"},
    )
    res = run(doc)
    jobs = res.jobs[(res.jobs["kind"] == "log_sync") & (res.jobs["scheduled_s"] > DAY + 21 * H)]
    skipped = jobs[jobs["outcome"] == "skipped"]
    assert skipped["scheduled_s"].tolist() == [DAY + (21.25 + 0.25 * i) * H for i in range(4)]
    assert (skipped["failure_reason"] == SKIPPED_RESTORING).all()
    after = jobs[jobs["scheduled_s"] == DAY + 22.25 * H]
    assert after["outcome"].tolist() == ["succeeded"]


# -- Exchange ----------------------------------------------------------------------
def exchange_estate() -> dict[str, Any]:
    """exch-1: one 100 GB database writing 2.4 GB of log a day (100 MB an hour), no
    eseutil; the group syncs every 2 h (Exchange's default)."""
    db = {"size": "100 GB", "log_per_day": "2.4 GB", "eseutil": False}
    return estate(
        [{"name": "exch-1", "exchange": db}],
        [{"name": "pg", "members": ["exch-1"]}],
        horizon_days=3,
    )


def test_an_exchange_database_restore_cancels_its_syncs_which_resume_after():
    # Requested on day 1 at 21:00 with a 5 h setup: it runs from 21:00 to about
    # 02:02 on day 2 (5 h + 100 GB at 1 GB/s + the replay). The syncs due at 22:00,
    # 00:00 and 02:00 are cancelled (skipped, with the reason); the one at 04:00 runs.
    doc = with_restores(
        exchange_estate(),
        event("exch-1", "exchange_database", 1, "21:00", data_source="exch-1/exchange1"),
        exchange_database={"setup": "5 h"},
    )
    res = run(doc)
    (row,) = res.restores.itertuples()
    assert row.outcome == "succeeded" and row.end_s > 2 * DAY + 2 * H
    syncs = res.jobs[res.jobs["kind"] == "log_sync"].set_index("scheduled_s")
    for t in (DAY + 22 * H, 2 * DAY, 2 * DAY + 2 * H):
        assert syncs.loc[t, "outcome"] == "skipped"
        assert syncs.loc[t, "failure_reason"] == SKIPPED_RESTORING
    assert syncs.loc[2 * DAY + 4 * H, "outcome"] == "succeeded"
    assert syncs.loc[DAY + 20 * H - 2 * H, "outcome"] == "succeeded"  # before it: ran


def test_a_mailbox_restore_is_the_database_restore_then_the_mailbox_copy():
    # Requested on day 1 at 23:00. The database's chain: the express full of 20:00
    # and the sync of 22:00 (the log since the express full, which took the log:
    # 2 h x 100 MB = 200 MB). Database restore: 300 s + 100.2 GB at 1 GB/s + 200 MB
    # replayed at 50 MB/s (4 s) = 404.2 s. Then Exchange copies the 2 GB mailbox at
    # its 10 MB/s (the host's storage reads and writes at 10 GB/s): 200 s. The point
    # is the 22:00 sync, 1 h old.
    base = event("exch-1", "exchange_database", 1, "23:00", data_source="exchange1")
    mailbox = {**base, "kind": "exchange_mailbox"}
    (db,) = run(with_restores(exchange_estate(), base)).restores.itertuples()
    (mb,) = run(with_restores(exchange_estate(), mailbox)).restores.itertuples()
    database_s = SETUP + 100.2e9 / LINK_BPS + 200e6 / REPLAY_BPS
    assert db.rto_s == pytest.approx(database_s, rel=1e-9)
    assert mb.rto_s == pytest.approx(database_s + 2e9 / 10e6, rel=1e-9)
    assert mb.bytes == db.bytes == pytest.approx(100.2e9, rel=1e-9)
    assert mb.recovery_point_age_s == db.recovery_point_age_s == H
    assert mb.restored_as == "exchange_mailbox" and mb.fallback == ""


# -- SharePoint and files -----------------------------------------------------------
def sharepoint_estate() -> dict[str, Any]:
    """sp-1: one farm of two 50 GB content databases, 10 million items (a 2 GB
    catalog: 20 s at the pool's 100 MB/s); express full at 20:00, catalog 60 min
    after it."""
    farm = {"content_databases": 2, "size": "50 GB", "items": 10_000_000}
    return estate([{"name": "sp-1", "sharepoint": farm}], [{"name": "pg", "members": ["sp-1"]}])


def test_a_sharepoint_item_before_the_first_catalog_falls_back_to_a_content_database():
    # At 20:30 on day 0 the farm has points (the replica at 00:00, the express full
    # of 20:00, 2.5 GB sent in 25 s) but no catalog (due at 21:00): one content
    # database (50 GB) from the 20:00 point: 300 s + 50 s. At 22:00 the catalog of
    # 21:00 lists the 20:00 point: the item (100 MB, 0.1 s) from it, 2 h old.
    doc = with_restores(
        sharepoint_estate(),
        event("sp-1", "sharepoint_item", 0, "20:30", data_source="sharepoint1"),
        event("sp-1", "sharepoint_item", 0, "22:00", data_source="sharepoint1"),
    )
    before, after = run(doc).restores.itertuples()
    assert before.outcome == "succeeded" and before.restored_as == "content_database"
    assert "no catalog" in before.fallback and "sp-1/sharepoint1" in before.fallback
    assert before.bytes == 50e9
    assert before.rto_s == pytest.approx(SETUP + 50.0, rel=1e-9)
    assert before.recovery_point_s == 20 * H
    assert after.restored_as == "sharepoint_item" and after.fallback == ""
    assert after.bytes == 100e6 and after.recovery_point_age_s == 2 * H
    assert after.rto_s == pytest.approx(SETUP + 0.1, rel=1e-9)
    kpis = run(doc).kpis()["restores"]
    assert kpis["degraded"] == 1 and kpis["per_kind"]["sharepoint_item"]["count"] == 2


def test_files_from_a_guest_volume_come_from_its_latest_file_point():
    # A 500 GB volume with file points at 20:00: at 10:00 on day 1 the latest is
    # day 0's 20:00 (14 h old); 1 GB of files at 1 GB/s after the setup.
    doc = estate(
        [{"name": "fs-1", "files": {"size": "500 GB"}}],
        [{"name": "pg", "members": ["fs-1"], "sync_frequency": "60 min"}],
    )
    with_restores(doc, event("fs-1", "guest_file", 1, "10:00", data_source="fs-1/files1"))
    (row,) = run(doc).restores.itertuples()
    assert row.outcome == "succeeded" and row.restored_as == "guest_file"
    assert row.recovery_point_s == 20 * H and row.recovery_point_age_s == 14 * H
    assert row.rto_s == pytest.approx(SETUP + 1.0, rel=1e-9)


# -- fallbacks ------------------------------------------------------------------------
def host_only_sql_estate(**dpm: Any) -> dict[str, Any]:
    """sql-1 (a 400 GB disk, all in use, holding a 200 GB database) protected at host
    level only, express full at 20:00."""
    doc = sql_estate(protection="host", disks=[{"size": "400 GB"}])
    doc["protection_groups"][0]["level"] = "host"
    doc["dpm_servers"][0].update(dpm)
    return doc


def test_a_sql_database_of_a_host_only_vm_falls_back_to_the_whole_vm_and_says_so():
    # No guest replica: the host level restores the whole VM (400 GB at 1 GB/s after
    # the whole_vm setup) beside the running one, not in place; counted as degraded.
    doc = with_restores(
        host_only_sql_estate(), event("sql-1", "sql_database", 1, "10:00", data_source="sql1")
    )
    res = run(doc)
    (row,) = res.restores.itertuples()
    assert row.outcome == "succeeded"
    assert row.kind == "sql_database" and row.restored_as == "whole_vm"
    assert row.data_source == "sql-1/sql1" and not row.original_location
    assert "not protected at guest level" in row.fallback and "whole VM" in row.fallback
    assert row.bytes == 400e9
    assert row.rto_s == pytest.approx(SETUP + 400.0, rel=1e-9)
    assert row.vm_unavailable_s == 0.0
    kpis = res.kpis()["restores"]
    assert kpis["degraded"] == 1
    assert kpis["per_kind"]["sql_database"]["rto_p50_s"] == pytest.approx(700.0)


def test_files_of_a_host_only_vm_fall_back_to_item_level_recovery_with_the_hyper_v_role():
    doc = estate(
        [{"name": "fs-1", "files": {"size": "50 GB"}, "protection": "host"}],
        [{"name": "pg", "members": ["fs-1"], "level": "host"}],
        hyper_v_role=True,
    )
    with_restores(doc, event("fs-1", "guest_file", 1, "10:00", data_source="files1"))
    (row,) = run(doc).restores.itertuples()
    assert row.restored_as == "item_level" and "item-level recovery" in row.fallback
    assert row.bytes == 1e9  # guest_file's item_bytes


def test_a_whole_vm_of_a_guest_only_vm_fails_with_the_reason():
    doc = with_restores(sql_estate(), event("sql-1", "whole_vm", 1, "10:00"))
    (row,) = run(doc).restores.itertuples()
    assert row.outcome == "failed"
    assert row.failure_reason == (
        "no host-level recovery point: the VM is protected at guest level only"
    )


def test_drills_and_poisson_take_data_source_patterns():
    # Two VMs of 2 databases each; a drill at 10:00 on day 1 of '*/sql1' restores
    # sql-1/sql1 and sql-2/sql1.
    doc = estate(
        [{"name": "sql-{i}", "count": 2, "sql": {"databases": 2, "size": "10 GB"}}],
        [{"name": "pg", "members": ["sql-*"]}],
    )
    doc["restores"] = {
        "drills": [
            {"kind": "sql_database", "data_sources": ["*/sql1"], "times": ["10:00"], "first_day": 1}
        ]
    }
    rows = run(doc).restores
    assert rows["data_source"].tolist() == ["sql-1/sql1", "sql-2/sql1"]
    assert (rows["outcome"] == "succeeded").all()


# -- bad references --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("restore", "line"),
    [
        (
            event("sql-1", "sql_database", 1, "10:00", data_source="sql9"),
            "restores.events[0].data_source: unknown data source of VM sql-1 ('sql9')",
        ),
        (
            event("sql-1", "sql_database", 1, "10:00"),
            "restores.events[0].data_source: required for a guest kind: the sql data source "
            "of VM sql-1 restored ('sql_database')",
        ),
        (
            event("sql-1", "exchange_database", 1, "10:00", data_source="sql1"),
            "restores.events[0].data_source: a data source of workload sql; exchange_database "
            "restores workload exchange ('sql1')",
        ),
        (
            event("sql-1", "whole_vm", 1, "10:00", data_source="sql1"),
            "restores.events[0].data_source: only for a guest kind, sql_database, "
            "exchange_database, exchange_mailbox, sharepoint_item, guest_file ('sql1')",
        ),
        (
            event("sql-1", "sql_database", 1, "10:00", data_source="sql1", target_host="h1"),
            "restores.events[0].target_host: a guest kind restores into its VM ('h1')",
        ),
    ],
)
def test_bad_guest_restore_references_are_one_line_with_their_path(restore, line):
    doc = with_restores(sql_estate(), restore)
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(doc, "f.yaml")
    assert caught.value.problems == [f"f.yaml: {line}"]


def test_a_drill_pattern_naming_no_data_source_is_an_error():
    doc = sql_estate()
    doc["restores"] = {
        "drills": [{"kind": "sql_database", "data_sources": ["*/sql7"], "times": ["10:00"]}]
    }
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(doc, "f.yaml")
    assert caught.value.problems == [
        "f.yaml: restores.drills[0].data_sources[0]: names no sql data source of the VMs "
        "restored ('*/sql7')"
    ]


def test_an_unknown_data_source_exits_2_from_the_command_line(tmp_path, capsys):
    doc = with_restores(
        sql_estate(), event("sql-1", "sql_database", 1, "10:00", data_source="sql-1/sql9")
    )
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"{where(path, 'data_source: sql-1/sql9')}: restores.events[0].data_source: unknown "
        "data source of VM sql-1 ('sql-1/sql9')"
    )
    assert not out.exists()


def test_the_run_estimate_counts_each_data_source_a_guest_drill_or_stream_restores():
    # Three VMs of 2 SQL databases each over 2 days. A drill of '*/sql1' on days 0
    # and 1 at one time: 2 x 3 = 6; a Poisson stream of 0.5 a day on every SQL
    # database of sql-1: 0.5 x 2 days x 2 = 2; one event: 9 restores.
    from hvsim.estimate import estimate_run

    doc = estate(
        [{"name": "sql-{i}", "count": 3, "sql": {"databases": 2, "size": "10 GB"}}],
        [{"name": "pg", "members": ["sql-*"]}],
    )
    doc["restores"] = {
        "drills": [{"kind": "sql_database", "data_sources": ["*/sql1"], "times": ["10:00"]}],
        "poisson": [{"kind": "sql_database", "members": ["sql-1"], "per_vm_per_day": 0.5}],
        "events": [event("sql-2", "sql_database", 1, "10:00", data_source="sql2")],
    }
    assert estimate_run(scenario_from_dict(doc)).restores == 9


def test_a_vm_protected_both_ways_restores_a_database_from_guest_and_the_vm_from_host():
    # sql-1 in a guest-level group (pg) and a host-level one (pgh, express full at
    # 23:00, replica by removable media): at 21:05 on day 1 the database comes from
    # the guest level as alone (510.5 s, see the first test) and the whole VM from
    # the host level (its 400 GB disk in place: 300 s + 400 s).
    doc = sql_estate(protection="both", disks=[{"size": "400 GB"}])
    doc["protection_groups"].append(
        {
            "name": "pgh",
            "dpm_server": "dpm1",
            "members": ["sql-1"],
            "express_full_times": ["23:00"],
            "initial_replica": "removable_media",
        }
    )
    with_restores(
        doc,
        event("sql-1", "sql_database", 1, "21:05", data_source="sql1"),
        event("sql-1", "whole_vm", 1, "10:00"),
    )
    vm, database = run(doc).restores.itertuples()  # in order of request
    assert (database.restored_as, database.protection_group) == ("sql_database", "pg")
    assert database.rto_s == pytest.approx(510.5, rel=1e-9)
    assert (vm.restored_as, vm.protection_group, vm.data_source) == ("whole_vm", "pgh", "sql-1")
    assert vm.original_location and vm.rto_s == pytest.approx(700.0, rel=1e-9)


def test_the_scenario_names_data_sources_as_the_model_does():
    # The names requests are checked against (hvsim.scenario.guest.data_source_names)
    # are those of the model's data sources, numbered per workload across entries.
    from hvsim.model.guest import GuestDataSource
    from hvsim.scenario.guest import data_source_names
    from hvsim.world import build_world

    vm = {
        "name": "mix",
        "sql": [{"databases": 2, "size": "10 GB"}, {"size": "5 GB", "recovery_model": "simple"}],
        "exchange": {"databases": 2, "size": "10 GB"},
        "sharepoint": {"farms": 2, "size": "10 GB"},
        "files": {"volumes": 3, "size": "10 GB"},
    }
    doc = estate([vm], [{"name": "pg", "members": ["mix"], "sync_frequency": "60 min"}])
    world = build_world(scenario_from_dict(doc), seed=1)
    spec = world.scenario.vms[0]
    model = [(s.name, s.kind) for s in GuestDataSource.for_vm(spec, world.vms[0])]
    assert data_source_names(spec, "mix") == model
    assert [n for n, _ in model] == [
        "mix/sql1", "mix/sql2", "mix/sql3", "mix/exchange1", "mix/exchange2",
        "mix/sharepoint1", "mix/sharepoint2", "mix/files1", "mix/files2", "mix/files3",
    ]  # fmt: skip


def test_a_sql_database_restores_friday_s_full_on_monday_that_calendar_retention_drops():
    # sql-1 in the simple recovery model (express fulls only), Monday to Friday at
    # 20:00, kept 2 days. Day 0 is a Monday: points on days 0 (the replica at 00:00 and
    # the full) to 4 (Friday); the weekend (days 5, 6) has none. Retention counts days
    # with a successful point (source: dpm-auto-grow), so on Monday (day 7) at 19:00 the
    # pool keeps Thursday and Friday. The restore chain is Friday's full alone: 200 GB
    # at 1 GB/s = 200 s + the 300 s setup, no log to replay. The point is
    # 7 d 19 h - 4 d 20 h = 2 d 23 h = 255,600 s old; calendar retention (points made
    # after day 5, 19:00) would have kept none.
    doc = estate(
        [{"name": "sql-1", "sql": {"size": "200 GB", "recovery_model": "simple"}}],
        [
            {
                "name": "pg",
                "members": ["sql-1"],
                "retention_days": 2,
                "express_full_days": ["mon", "tue", "wed", "thu", "fri"],
            }
        ],
        horizon_days=8,
    )
    with_restores(doc, event("sql-1", "sql_database", 7, "19:00", data_source="sql-1/sql1"))
    res = run(doc)
    fulls = res.jobs[res.jobs["kind"] == "express_full"]
    # Monday's (day 7) full at 20:00 comes after the restore.
    assert list(fulls["scheduled_s"]) == [d * DAY + 20 * H for d in (0, 1, 2, 3, 4, 7)]
    (row,) = res.restores.itertuples()
    assert row.outcome == "succeeded" and row.restored_as == "sql_database"
    assert row.recovery_point_s == 4 * DAY + 20 * H
    assert row.recovery_point_age_s == 7 * DAY + 19 * H - (4 * DAY + 20 * H) == 255600.0
    assert row.bytes == pytest.approx(200e9, rel=1e-9)
    assert row.rto_s == pytest.approx(SETUP + 200e9 / LINK_BPS, rel=1e-9)
