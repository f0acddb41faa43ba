"""Host, guest or both per VM (hvsim.recommend): the planner's restore needs against
DPM's recovery granularity (host level: whole VM and files; database, mailbox and
item: guest level; source: dpm-hyperv-restore), the RPO each level gives in the
scenario and the run's restore RTO."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import base_scenario, problems_of, run

DAY = 86400.0


def host_vm(*needs: dict[str, Any], sql: bool = True, **doc: Any) -> dict[str, Any]:
    """base_scenario's vm1 at host level (one express full a night, 22:00), holding a
    100 GB SQL database when ``sql``, with ``needs`` as its restore_needs."""
    d = base_scenario(restore_needs=list(needs), **doc)
    if sql:
        d["vms"][0]["sql"] = {"size": "100 GB"}
    return d


def only_row(doc: dict[str, Any]) -> dict[str, Any]:
    rec = run(doc).recommendations
    assert len(rec) == 1
    return rec.iloc[0].to_dict()


def test_a_database_need_on_a_host_only_vm_recommends_guest_and_says_why():
    row = only_row(host_vm({"members": ["vm1"], "finest_unit": "database"}))
    assert (row["vm"], row["protection"], row["recommended"]) == ("vm1", "host", "guest")
    assert not row["matches"]
    assert "database restores need guest level" in row["reason"]
    assert "protected at host level now, recommended guest" in row["reason"]
    # Host level: one express full a night, a recovery point every 24 h; guest level by
    # DPM's defaults (the VM is in no guest-level group): a sync every 15 min.
    assert (row["host_rpo_s"], row["guest_rpo_s"]) == (DAY, 900.0)


def test_an_rpo_of_1_h_for_a_whole_vm_on_nightly_express_fulls_needs_both_levels():
    row = only_row(host_vm({"members": ["*"], "finest_unit": "vm", "rpo": "1 h"}))
    # The VM needs host level (guest level restores data sources, not the VM); 24 h
    # between host-level points misses 1 h, the guest's 15-min syncs meet it: both.
    assert row["recommended"] == "both"
    assert "RPO 1 h: host level gives 24 h" in row["reason"]
    assert "guest level for the data" in row["reason"]


def test_an_rpo_no_level_can_give_is_said_so():
    # No data sources declared: guest level has no RPO to give (n/a); host 24 h > 1 h.
    row = only_row(host_vm({"finest_unit": "vm", "rpo": "1 h"}, sql=False))
    assert row["recommended"] == "host"
    assert "no level meets it as scheduled" in row["reason"]
    assert "n/a (no data sources declared)" in row["reason"]


def test_a_whole_vm_need_with_a_24_h_rpo_is_met_by_host_level():
    row = only_row(host_vm({"members": ["vm1"], "finest_unit": "vm", "rpo": "24 h"}))
    assert (row["recommended"], row["matches"]) == ("host", True)
    assert "RPO 24 h: host level gives 24 h" in row["reason"]
    assert "met at host level" in row["reason"]


def test_two_express_fulls_a_day_give_host_level_a_12_h_rpo():
    doc = host_vm({"finest_unit": "vm", "rpo": "12 h"})
    doc["protection_groups"][0]["express_full_times"] = ["10:00", "22:00"]
    row = only_row(doc)
    # 10:00 -> 22:00 and 22:00 -> 10:00: 12 h each.
    assert (row["host_rpo_s"], row["recommended"]) == (12 * 3600.0, "host")


def test_a_file_need_is_served_by_host_level_item_level_recovery():
    row = only_row(host_vm({"finest_unit": "file"}, sql=False))
    assert row["recommended"] == "host"
    assert "item-level recovery" in row["reason"]


def test_the_runs_restores_rto_p95_is_checked_against_the_target():
    # One whole-VM restore of vm1 (100 GB in use) on day 1 at 10:00, after the first
    # night's point: 5 min setup (restores.kinds.whole_vm default) + 100 GB at the
    # CSV's 500 MB/s write (the bottleneck: 10 GbE at 80 % is 1 GB/s), 200 s:
    # 500 s in all, within 1 h, over 5 min.
    restores = {"events": [{"vm": "vm1", "day": 1, "time": "10:00", "kind": "whole_vm"}]}
    for target, verdict in (("1 h", "within the 1 h target"), ("5 min", "over the 5 min")):
        doc = host_vm({"finest_unit": "vm", "rto": target}, horizon_days=2, restores=restores)
        row = only_row(doc)
        assert row["restores"] == 1
        assert row["rto_p95_s"] == pytest.approx(500.0, rel=1e-9)
        assert verdict in row["reason"], row["reason"]


def test_without_restores_of_the_group_the_rto_is_not_checked_and_said_so():
    row = only_row(host_vm({"finest_unit": "vm", "rto": "4 h"}))
    assert row["restores"] == 0
    assert "no restore of the group in this run: RTO 4 h not checked" in row["reason"]


def test_a_vm_takes_the_first_need_that_names_it_and_unnamed_vms_have_no_row():
    doc = host_vm(
        {"members": ["vm1"], "finest_unit": "database"},
        {"members": ["*"], "finest_unit": "vm"},
    )
    doc["vms"].append({"name": "other", "cluster": "c1", "csv": "csv1"})
    doc["restore_needs"] = doc["restore_needs"][:1]
    rec = run(doc).recommendations
    assert list(rec["vm"]) == ["vm1"]
    doc["restore_needs"] = [
        {"members": ["vm1"], "finest_unit": "database"},
        {"members": ["*"], "finest_unit": "vm"},
    ]
    rec = run(doc).recommendations.set_index("vm")
    assert rec.loc["vm1", "finest_unit"] == "database"
    assert rec.loc["other", "finest_unit"] == "vm"


def test_no_restore_needs_no_recommendations():
    assert run(base_scenario()).recommendations.empty


def test_a_restore_need_naming_no_vm_is_a_scenario_error():
    doc = host_vm({"members": ["sql-*"], "finest_unit": "database"})
    assert problems_of(doc) == ["f.yaml: restore_needs[0].members[0]: names no VM ('sql-*')"]
