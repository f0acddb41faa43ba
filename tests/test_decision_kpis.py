"""The decision KPIs (kpis.json ``decision``): host-level and guest-level protection
in the same terms, so a comparison of a host-only and a guest-only run reads row by
row; and the admission counts as integers, the guest RPOs null without guest data
sources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hvsim.results import kpis_json
from tests.builders import base_scenario, run

DAY = 86400.0


def nightly(horizon_days: float = 3, **doc: Any) -> dict[str, Any]:
    """base_scenario's vm1 (100 GB) with its replica from removable media: one express
    full a night at 22:00, no initial replica over the network."""
    d = base_scenario(horizon_days=horizon_days, **doc)
    d["protection_groups"][0]["initial_replica"] = "removable_media"
    return d


def with_guest(protection: str) -> dict[str, Any]:
    """vm1 with a 100 GB SQL database (full recovery) in a guest-level group syncing
    every 15 min, express full 22:00; and at host level too when ``protection`` is
    both."""
    d = nightly()
    d["vms"][0]["protection"] = protection
    d["vms"][0]["sql"] = {"size": "100 GB", "log_per_day": "4.8 GB"}
    d["protection_groups"].append(
        {
            "name": "dbs",
            "level": "guest",
            "dpm_server": "dpm1",
            "members": ["vm1"],
            "initial_replica": "removable_media",
        }
    )
    if protection == "guest":
        d["protection_groups"] = d["protection_groups"][1:]
    return d


def test_host_level_best_rpo_is_the_nightly_interval_and_the_night_its_express_fulls():
    res = run(nightly())
    d = res.kpis()["decision"]
    # Three nights, one express full each: points a day apart, give or take the
    # difference of the jobs' durations (the same VM, the same 3 % change: equal).
    assert d["best_rpo_s"] == pytest.approx(DAY, abs=1.0)
    assert (d["jobs_per_day"], d["nightly_jobs_per_day"]) == (1.0, 1.0)
    ok = res.jobs[res.jobs["outcome"] == "succeeded"]
    assert d["bytes_per_day"] == pytest.approx(ok["bytes"].sum() / 3, abs=1.0)
    assert d["nightly_window_compliance"] == 1.0
    # With one VM a night's makespan is its job's wait plus duration; the median of 3.
    nights = sorted(res.jobs["end_s"] - res.jobs["scheduled_s"])
    assert len(nights) == 3
    assert d["nightly_makespan_p50_s"] == pytest.approx(nights[1], abs=1e-3)


def test_a_vm_protected_at_both_levels_has_the_guests_15_min_as_its_best_rpo():
    k = run(with_guest("both")).kpis()
    # Host level: 24 h between points; guest level: a log sync (a recovery point of a
    # full-recovery database) every 15 min. The finer one is the VM's best.
    assert k["decision"]["best_rpo_s"] == 900.0
    assert k["guest"]["rpo_p50_s"] == 900.0
    # 96 syncs a day (one of them the 22:00 express full) and the host-level express full.
    assert k["decision"]["jobs_per_day"] == pytest.approx(97.0, abs=1.0)
    assert k["decision"]["nightly_jobs_per_day"] == pytest.approx(2.0, abs=0.34)


def test_the_decision_kpis_repeat_the_admission_storage_and_restore_ones():
    restores = {"events": [{"vm": "vm1", "day": 1, "time": "10:00", "kind": "whole_vm"}]}
    k = run(nightly(restores=restores)).kpis()
    d = k["decision"]
    assert d["dpm_servers_needed"] == k["admission"]["dpm_servers_needed"] == 1
    assert d["pool_peak_bytes"] == k["storage"]["pool_peak_bytes"]
    per_kind = k["restores"]["per_kind"]
    assert d["whole_vm_rto_p95_s"] == per_kind["whole_vm"]["rto_p95_s"] == 500.0
    assert d["item_level_rto_p95_s"] is None  # none requested: n/a, not 0 s


def test_without_any_recovery_point_pair_best_rpo_is_null():
    # A day: one point each, no interval yet.
    assert run(nightly(horizon_days=1)).kpis()["decision"]["best_rpo_s"] is None


def test_admission_counts_are_integers():
    k = run(with_guest("both")).kpis()["admission"]
    # Host level: each node of the 2-node cluster may run vm1 and needs DPM's agent;
    # guest level: vm1 itself. 3 servers, 1 database, 4 volumes (a replica and a
    # recovery point volume each for the VM at host level and its database, not
    # co-located).
    assert (k["protected_servers"], k["databases"], k["volumes"]) == (3, 1, 4)
    for key in ("protected_servers", "databases", "volumes", "disk_snapshots"):
        assert type(k[key]) is int, key
    assert '"protected_servers": 3,' in kpis_json({"admission": k})


def test_guest_rpos_are_null_without_guest_data_sources():
    k = run(nightly()).kpis()
    for key in ("rpo_p50_s", "rpo_max_s", "worst_gap_s"):
        assert k["guest"][key] is None, key
    assert json.loads(kpis_json(k))["guest"]["rpo_p50_s"] is None
