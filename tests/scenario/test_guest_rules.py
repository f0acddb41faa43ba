"""Guest-level protection in the scenario: DPM's schedule rules are scenario errors
(exit 2, one line naming the field and the rule's source), never clamped; a DPM
server over one of its published limits gets a warning naming the limit and its
source. Every expected count is worked out in the test's comment."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from hvsim.cli import main
from hvsim.scenario.guest import (
    admission,
    incrementals_between,
    points_in_retention,
    retention_span_days,
    servers_needed,
    sync_frequency_s,
    week_points_s,
)
from hvsim.scenario.loader import ScenarioError, scenario_from_dict
from tests.builders import base_scenario


def guest_doc(vms: int = 1, **group: Any) -> dict[str, Any]:
    """One standalone host, one DPM server on a 10 GbE link, ``vms`` guest-protected
    SQL VMs of one 10 GB full-recovery database each, in one guest-level group."""
    return {
        "name": "guest",
        "horizon_days": 1,
        "hosts": [
            {
                "name": "h1",
                "os": "2012R2",
                "storage": {"capacity": "100 TB", "read": "1 GB/s", "write": "1 GB/s"},
            }
        ],
        "links": [{"between": ["h1", "dpm1"], "bandwidth": "10 Gbps"}],
        "dpm_servers": [
            {"name": "dpm1", "version": "2012R2", "pool": {"capacity": "1 PB", "write": "1 GB/s"}}
        ],
        "protection_groups": [
            {
                "name": "pg",
                "level": "guest",
                "dpm_server": "dpm1",
                "members": ["sql-*"],
                "express_full_times": ["20:00"],
                "initial_replica": "removable_media",
                # Within the 1-day horizon: no short-horizon warning.
                "retention_days": 1,
                **group,
            }
        ],
        "vms": [
            {
                "name": "sql-{i:03d}",
                "count": vms,
                "host": "h1",
                "memory": "1 GiB",
                "disks": [{"size": "20 GiB"}],
                "protection": "guest",
                "sql": {"databases": 1, "size": "10 GB"},
            }
        ],
    }


def run_cli(capsys, tmp_path: Path, doc: dict, command: str = "validate") -> tuple[int, list]:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    code = main([command, str(path)])
    return code, capsys.readouterr().err.splitlines()


def problems(doc: dict) -> list[str]:
    try:
        scenario_from_dict(doc, "s.yaml")
    except ScenarioError as exc:
        return exc.problems
    return []


# -- 96 incrementals per express full -------------------------------------------
# Syncs every 15 min from midnight; express fulls at 00:00 and a late time on every
# day but Tuesday. The longest gap runs from Monday's late express full to Wednesday
# 00:00. From Mon 23:30: syncs at Mon 23:45 and every quarter hour of Tuesday (96),
# 97 strictly between; from Mon 23:45: only Tuesday's 96.
SIX_DAYS = ["mon", "wed", "thu", "fri", "sat", "sun"]


def test_97_syncs_between_express_fulls_is_rejected_with_exit_2_and_the_rules_source(
    capsys, tmp_path
):
    doc = guest_doc(express_full_times=["00:00", "23:30"], express_full_days=SIX_DAYS)
    code, lines = run_cli(capsys, tmp_path, doc)
    assert code == 2
    assert len(lines) == 1
    assert "protection_groups[0].express_full_days: 97 synchronizations" in lines[0]
    assert "96 incrementals per express full" in lines[0]
    assert "(source: dpm-recovery-point-caps)" in lines[0]


def test_96_syncs_between_express_fulls_is_accepted(capsys, tmp_path):
    doc = guest_doc(express_full_times=["00:00", "23:45"], express_full_days=SIX_DAYS)
    code, lines = run_cli(capsys, tmp_path, doc)
    assert (code, lines) == (0, [])


def test_a_weekly_express_full_with_hourly_syncs_is_rejected_not_clamped():
    # One express full a week, syncs every 60 min: 7 x 24 - 1 = 167 between.
    doc = guest_doc(express_full_days=["sun"], sync_frequency="60 min")
    lines = problems(doc)
    assert len(lines) == 1 and "167 synchronizations" in lines[0]


def test_simple_recovery_databases_have_no_incrementals_so_a_weekly_full_is_allowed():
    # Simple recovery: express fulls only (source: dpm-sql-protection), no syncs to count.
    doc = guest_doc(express_full_days=["sun"])
    doc["vms"][0]["sql"]["recovery_model"] = "simple"
    assert problems(doc) == []


def test_incrementals_between_counts_by_hand():
    g = scenario_from_dict(guest_doc(), "s").protection_groups[0]
    # One express full a day at 20:00, syncs every 900 s: 96 a day, one of them at
    # 20:00 is the express full itself, so 95 between.
    assert incrementals_between(week_points_s(g), 900)[0] == 95


# -- 448 express fulls in the retention range -------------------------------------
def test_more_than_448_express_fulls_in_retention_is_rejected():
    # Two express fulls a day kept 225 days: 450 > 448; 224 days: exactly 448.
    doc = guest_doc(express_full_times=["08:00", "20:00"], retention_days=225)
    lines = problems(doc)
    assert len(lines) == 1
    assert lines[0].startswith("s.yaml: protection_groups[0].retention_days: 450 express fulls")
    assert "(source: dpm-recovery-point-caps)" in lines[0]
    doc["protection_groups"][0]["retention_days"] = 224
    assert problems(doc) == []


def test_points_in_retention_by_hand():
    # Express fulls Mon and Thu at 00:00 kept 4 days: the window [Mon, Fri) holds
    # both; [Thu, Mon) holds Thu only. The most: 2.
    assert points_in_retention([0, 3 * 86400], 4) == 2
    # 10 days: one whole week (2) plus the most in 3 days: Mon..Thu exclusive holds Mon
    # only, Thu..Sun holds Thu only: 1. So 3.
    assert points_in_retention([0, 3 * 86400], 10) == 3


def test_points_kept_count_days_with_a_point_when_only_express_fulls_store():
    # Retention counts days with a point (source: dpm-auto-grow). Express fulls Mon and
    # Thu at 00:00 of a data source that stores only then (SQL simple recovery,
    # SharePoint): 4 days with a point are Mon, Thu, Mon, Thu: 4 points; 5 days: 2
    # weeks (4) + 1: 5. Their change: each point holds the days since the one before
    # (Mon: 4 days since Thu, Thu: 3 since Mon), so 4 points hold 2 weeks = 14 days; 5
    # hold 14 + the larger gap, 4: 18 days.
    week = [0, 3 * 86400]
    assert points_in_retention(week, 4, every_day=False) == 4
    assert points_in_retention(week, 5, every_day=False) == 5
    assert retention_span_days(week, 4, every_day=False) == 14
    assert retention_span_days(week, 5, every_day=False) == 18
    # Monday to Friday kept 30 days with a point: 6 weeks (the source's example).
    weekdays = [d * 86400 + 72000 for d in range(5)]
    assert retention_span_days(weekdays, 30, every_day=False) == 42
    # A data source that synchronizes stores every day: the range is calendar days.
    assert retention_span_days(week, 4) == 4


def test_a_simple_recovery_database_with_monday_fulls_keeps_a_monday_per_retention_day():
    # Two express fulls on Mondays only, kept 225 days with a point: 225 Mondays of 2
    # fulls = 450 > 448 (source: dpm-recovery-point-caps). By calendar (32 weeks and a
    # day: 64 + 2) it would have been 66.
    doc = guest_doc(
        express_full_times=["08:00", "20:00"], express_full_days=["mon"], retention_days=225
    )
    doc["vms"][0]["sql"].update(recovery_model="simple", daily_change=0.05)
    lines = problems(doc)
    assert len(lines) == 1
    assert lines[0].startswith("s.yaml: protection_groups[0].retention_days: 450 express fulls")
    # Kept 224 days: 448, allowed. Admission counts 448 disk snapshots and the change
    # of 224 weeks (1,568 days) at 5 % of 10 GB a day: 784 GB.
    doc["protection_groups"][0]["retention_days"] = 224
    assert problems(doc) == []
    (load,) = admission(scenario_from_dict(doc, "s"))
    assert load.disk_snapshots == 448
    assert load.recovery_point_bytes == pytest.approx(0.5e9 * 1568)


# -- files: 64 recovery points, 8 scheduled a day -----------------------------------
def files_doc(times: list[str], retention_days: int) -> dict:
    doc = guest_doc(express_full_times=times, retention_days=retention_days)
    vm = doc["vms"][0]
    del vm["sql"]
    vm["files"] = {"volumes": 2, "size": "500 GB", "daily_change": 0.05}
    return doc


HOURS = [f"{h:02d}:00" for h in range(0, 24, 2)]


def test_nine_file_recovery_points_a_day_is_rejected_with_exit_2_and_the_rules_source(
    capsys, tmp_path
):
    code, lines = run_cli(capsys, tmp_path, files_doc(HOURS[:9], 1))
    assert code == 2
    assert len(lines) == 1
    assert "protection_groups[0].express_full_times: 9 file recovery points a day" in lines[0]
    assert "(source: dpm-recovery-point-caps)" in lines[0]


def test_eight_file_points_a_day_for_8_days_is_accepted_and_9_days_is_not():
    # 8 a day x 8 days = 64, DPM's most; 9 days keep 72.
    assert problems(files_doc(HOURS[:8], 8)) == []
    lines = problems(files_doc(HOURS[:8], 9))
    assert len(lines) == 1 and "72 file recovery points kept" in lines[0]


# -- Exchange: synchronize less often than every 15 min -----------------------------
def exchange_doc(**group: Any) -> dict:
    doc = guest_doc(**group)
    vm = doc["vms"][0]
    del vm["sql"]
    vm["exchange"] = {"databases": 2, "size": "100 GB"}
    return doc


def test_exchange_synced_every_15_min_is_rejected_and_its_default_is_2_hours():
    lines = problems(exchange_doc(sync_frequency="15 min"))
    assert len(lines) == 1
    assert "protection_groups[0].sync_frequency:" in lines[0]
    assert "(source: dpm-exchange-protection)" in lines[0]
    s = scenario_from_dict(exchange_doc(), "s")
    assert sync_frequency_s(s.protection_groups[0], {"exchange"}) == 7200
    assert problems(exchange_doc(sync_frequency="30 min")) == []


# -- protection level and data sources ---------------------------------------------
def test_guest_protection_needs_data_sources_and_data_sources_need_guest_protection():
    doc = guest_doc()
    del doc["vms"][0]["sql"]
    assert any(
        "vms[0].protection: protection guest needs guest data sources" in p for p in problems(doc)
    )
    doc = guest_doc()
    doc["vms"][0]["protection"] = "host"
    found = problems(doc)
    assert any(
        p.startswith("s.yaml: vms[0].sql: guest data sources are protected only") for p in found
    )


def test_a_host_level_pattern_skips_guest_only_vms_and_both_is_in_both_groups():
    doc = guest_doc(vms=2)
    doc["vms"].append(
        {
            "name": "both-1",
            "host": "h1",
            "memory": "1 GiB",
            "disks": [{"size": "20 GiB"}],
            "protection": "both",
            "sql": {"size": "10 GB"},
        }
    )
    doc["protection_groups"][0]["members"] = ["*"]
    doc["protection_groups"].append({"name": "hv", "dpm_server": "dpm1", "members": ["*"]})
    s = scenario_from_dict(doc, "s")
    from hvsim.scenario.patterns import group_membership

    assert group_membership(s) == {"both-1": "hv"}
    assert group_membership(s, level="guest") == {
        "sql-001": "pg",
        "sql-002": "pg",
        "both-1": "pg",
    }


# -- DPM server limits: a named warning, and the servers the design needs -----------
def test_101_guest_protected_vms_on_one_dpm_server_name_the_100_server_limit(capsys, tmp_path):
    # Each VM with DPM's agent in its guest is one protected server; one DPM server
    # protects 100 (source: dpm-server-limits). 101 databases of 10 GB stay under the
    # 300-database, 600-volume and 80 TB limits, so this is the only warning.
    code, lines = run_cli(capsys, tmp_path, guest_doc(vms=101))
    assert code == 0
    assert len(lines) == 1
    assert "dpm_servers[0]: warning: 101 protected servers" in lines[0]
    assert "more than the 100 one DPM server protects (source: dpm-server-limits)" in lines[0]
    assert "the design needs 2 DPM servers" in lines[0]
    need = servers_needed(admission(scenario_from_dict(guest_doc(vms=101), "s")))
    assert (need.dpm_servers_needed, need.decided_by) == (2, "protected_servers")


def test_100_guest_protected_vms_are_within_the_limit(capsys, tmp_path):
    code, lines = run_cli(capsys, tmp_path, guest_doc(vms=100))
    assert (code, lines) == (0, [])


def test_databases_limit_is_300_or_2000_with_colocation():
    # 61 VMs x 5 databases = 305 databases: over 300 without co-location (and 610
    # volumes, two each, over 600); with co-location, SQL databases share one volume
    # pair per protection group and the limit is 2,000 (source: dpm-sql-protection).
    doc = guest_doc(vms=61)
    doc["vms"][0]["sql"]["databases"] = 5
    load = admission(scenario_from_dict(doc, "s"))[0]
    assert (load.databases, load.volumes, load.limit("databases")) == (305, 610, 300)
    doc["dpm_servers"][0]["colocate"] = True
    load = admission(scenario_from_dict(copy.deepcopy(doc), "s"))[0]
    assert (load.databases, load.volumes, load.limit("databases")) == (305, 2, 2000)


def test_host_level_counts_each_cluster_node_as_a_protected_server():
    # A host-level VM on a standalone host: the host is the one protected server.
    doc = guest_doc()
    doc["vms"][0]["protection"] = "both"
    doc["protection_groups"].append({"name": "hv", "dpm_server": "dpm1", "members": ["*"]})
    load = admission(scenario_from_dict(doc, "s"))[0]
    # the host h1 and the VM with its agent
    assert load.protected_servers == 2


@pytest.mark.parametrize("count", [200])
def test_bulk_form_200_vms_x_5_databases_is_1000_sources_in_a_few_lines(count):
    doc = guest_doc(vms=count)
    doc["vms"][0]["sql"] = {"databases": 5, "size": "200 GB"}
    doc["dpm_servers"][0]["colocate"] = True
    s = scenario_from_dict(doc, "s")
    assert sum(v.count * v.guest_sources() for v in s.vms) == 1000
    assert admission(s)[0].databases == 1000


def test_a_host_level_group_keeps_at_most_448_express_fulls():
    # A Hyper-V VM is an application data source: two express fulls a day kept 225
    # days are 450 > 448 (source: dpm-recovery-point-caps); 224 days are 448.
    doc = base_scenario()
    doc["protection_groups"][0].update(express_full_times=["08:00", "20:00"], retention_days=225)
    lines = problems(doc)
    assert lines == [
        "s.yaml: protection_groups[0].retention_days: 450 express fulls kept in the retention "
        "range, more than DPM's 448 (source: dpm-recovery-point-caps) (225)"
    ]
    doc["protection_groups"][0]["retention_days"] = 224
    assert problems(doc) == []


def test_host_level_vms_count_two_volumes_each_or_one_pair_a_group_co_located():
    # The pool allocates a replica and a recovery point volume per host-level VM
    # (hvsim.model.pool): 301 VMs are 602 volumes, over DPM's 600; co-located, the
    # group's VMs share one pair: 2.
    doc = base_scenario(vms=[{"name": "vm{i}", "count": 301, "cluster": "c1", "csv": "csv1"}])
    doc["clusters"][0]["csvs"][0]["capacity"] = "40 TB"
    load = admission(scenario_from_dict(doc, "s"))[0]
    assert (load.volumes, load.limit("volumes")) == (602, 600)
    doc["dpm_servers"][0]["colocate"] = True
    assert admission(scenario_from_dict(doc, "s"))[0].volumes == 2
