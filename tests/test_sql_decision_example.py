"""The host-or-guest example pair, scenarios/sql-host-level.yaml and
sql-guest-level.yaml: the same 40 SQL Server VMs (4 databases each), cluster,
network, DPM server, seeds and horizon (14 days), protected at host level and at
guest level. Their decision KPIs pinned (seed 1), checked by hand where they can be,
their recommendations, and the comparison's headline reading row by row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hvsim
from hvsim.report.text import headline
from hvsim.results import flatten_kpis
from tests.builders import ROOT

DAY = 86400.0


@pytest.fixture(scope="module")
def host() -> hvsim.Results:
    return hvsim.simulate(hvsim.load_scenario(ROOT / "scenarios" / "sql-host-level.yaml"), 1)


@pytest.fixture(scope="module")
def guest() -> hvsim.Results:
    return hvsim.simulate(hvsim.load_scenario(ROOT / "scenarios" / "sql-guest-level.yaml"), 1)


# Pinned from seed 1. A model change that moves them must say why in its commit.
PINNED_HOST = {
    "best_rpo_s": 86400.029,
    "jobs_per_day": 40.0,
    "bytes_per_day": 529811287589.0,
    "nightly_jobs_per_day": 40.0,
    "nightly_makespan_p50_s": 672.546,
    "nightly_window_compliance": 1.0,
    "dpm_servers_needed": 1,
    "pool_peak_bytes": 18977249888467.0,
    "whole_vm_rto_p95_s": 960.346,
    "item_level_rto_p95_s": 683.333,
    "sql_database_rto_p95_s": 967.482,
}
PINNED_GUEST = {
    "best_rpo_s": 900.0,
    "jobs_per_day": 15348.071,
    "bytes_per_day": 869479704304.0,
    "nightly_jobs_per_day": 160.0,
    "nightly_makespan_p50_s": 465.0,
    "nightly_window_compliance": 1.0,
    "dpm_servers_needed": 1,
    "pool_peak_bytes": 18504074370024.0,
    "whole_vm_rto_p95_s": None,
    "item_level_rto_p95_s": None,
    "sql_database_rto_p95_s": 754.035,
}


def test_the_host_level_example_keeps_its_decision_kpis(host):
    d = host.kpis()["decision"]
    for key, expected in PINNED_HOST.items():
        assert d[key] == pytest.approx(expected, rel=1e-9), key
    # By hand: one express full per VM a night, 40 VMs: 40 jobs a day and a point
    # every 24 h. A whole VM restored in place by day: 5 min setup + its bytes in use
    # at the CSV's 600 MB/s write (the bottleneck: the pool reads 1000 MB/s, 10 GbE
    # gives 1 GB/s); a database's files (50 GB) by item-level recovery: 10 min + 50 GB
    # / 600 MB/s = 683.33 s.
    ok = host.restores[host.restores["outcome"] == "succeeded"]
    used = host.vms.set_index("vm")["used_bytes"]
    whole = ok[ok["kind"] == "whole_vm"]
    assert len(whole) == 5
    expected = 300 + whole["vm"].map(used) / 600e6
    assert whole["rto_s"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-3)
    assert d["item_level_rto_p95_s"] == pytest.approx(600 + 50e9 / 600e6, abs=1e-3)


def test_the_guest_level_example_keeps_its_decision_kpis(guest):
    d = guest.kpis()["decision"]
    for key, expected in PINNED_GUEST.items():
        if expected is None:  # n/a: no restore of that kind
            assert d[key] is None, key
        else:
            assert d[key] == pytest.approx(expected, rel=1e-9), key
    g = guest.kpis()["guest"]
    # By hand: 160 databases, an express full each a night for 14 days: 2,240, 160 a
    # day; a recovery point every 15 min (DPM's default sync of full-recovery SQL).
    assert (g["data_sources"], g["express_full_jobs"], g["rpo_p50_s"]) == (160, 2240, 900.0)
    # A database restored to its latest point, by hand: its wait for a DPM slot, 5 min
    # setup, the database as of the last express full (200 GB) plus the log syncs
    # since at the CSV's 600 MB/s write (the bottleneck of pool read 1000 MB/s, 10 GbE
    # x 0.8, CSV write), then that log replayed at the default 50 MB/s.
    rs = guest.restores
    assert set(rs["kind"]) == {"sql_database"} and (rs["outcome"] == "succeeded").all()
    log = rs["bytes"] - 200e9
    assert (log > 0).all()
    expected = (rs["start_s"] - rs["requested_s"]) + 300 + rs["bytes"] / 600e6 + log / 50e6
    assert rs["rto_s"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-3)
    # The point restored is the last 15-min sync that had ended at the request: at
    # most one sync interval old, plus the sync still running when the request came.
    syncs = guest.jobs[guest.jobs["kind"] == "log_sync"]
    longest_sync_s = float((syncs["end_s"] - syncs["start_s"]).max())
    assert (rs["recovery_point_age_s"] <= 900.0 + longest_sync_s).all()
    assert (rs["recovery_point_age_s"] > 0).all()


def test_the_pair_differs_in_what_dpm_is_asked_to_protect(host, guest):
    a, b = host.kpis()["admission"], guest.kpis()["admission"]
    # Host level: the agent on the 4 nodes, no databases; 40 VMs x 7 express fulls kept.
    assert (a["protected_servers"], a["databases"], a["disk_snapshots"]) == (4, 0, 280)
    # Guest level: each VM a protected server, 160 databases with a replica and a
    # recovery point volume each, 160 x 7 express fulls kept; databases decide (160 of
    # 300 without co-location): one DPM server still holds it.
    assert (b["protected_servers"], b["databases"], b["volumes"]) == (40, 160, 320)
    assert (b["disk_snapshots"], b["decided_by"]) == (1120, "databases")


def test_the_host_level_examples_failed_restores_ask_before_the_first_point(host):
    # Replicas from removable media: the first point is the first night's express full
    # (22:00 of day 0); the two requests before it that day (a database at 10:05, a
    # whole VM at 10:27) find none.
    failed = host.restores[host.restores["outcome"] == "failed"]
    assert len(failed) == 2
    assert (failed["requested_s"] < 22 * 3600).all()
    assert failed["failure_reason"].str.startswith("no recovery point yet").all()


def test_at_host_level_a_database_request_restores_the_whole_vm_and_says_so(host):
    # DPM restores a database only from guest-level protection: at host level each
    # sql_database request that can be served restores the whole VM beside it, at
    # the same rate as a whole-VM restore (bytes in use / the CSV's 600 MB/s + 5 min).
    rs = host.restores[
        (host.restores["kind"] == "sql_database") & (host.restores["outcome"] == "succeeded")
    ]
    assert len(rs) == 10 and (rs["restored_as"] == "whole_vm").all()
    assert rs["fallback"].str.contains("not protected at guest level").all()
    assert host.kpis()["restores"]["degraded"] == 10
    used = host.vms.set_index("vm")["used_bytes"]
    expected = (rs["start_s"] - rs["requested_s"]) + 300 + rs["vm"].map(used) / 600e6
    assert rs["rto_s"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-3)


def test_the_recommendations_say_which_vms_are_protected_at_the_wrong_level(host, guest):
    # restore_needs: sql-01 .. sql-19 need database restores to 15 min (guest level);
    # the other 21 whole VMs to 24 h (host level).
    for res, wrong in ((host, "database"), (guest, "vm")):
        rec = res.recommendations
        assert len(rec) == 40
        assert set(rec.loc[~rec["matches"], "finest_unit"]) == {wrong}
    h = host.recommendations.set_index("vm")
    assert (h.loc["sql-01", "recommended"], h.loc["sql-20", "recommended"]) == ("guest", "host")
    assert h.loc["sql-01", "host_rpo_s"] == DAY and h.loc["sql-01", "guest_rpo_s"] == 900.0


def test_the_comparison_headline_leads_with_the_decision_kpis_on_both_sides(host, guest):
    import pandas as pd

    table = pd.DataFrame([flatten_kpis(host.kpis()), flatten_kpis(guest.kpis())])
    heads = headline(list(table.columns), table)
    assert heads[:8] == [
        "decision.best_rpo_s",
        "decision.jobs_per_day",
        "decision.bytes_per_day",
        "decision.nightly_jobs_per_day",
        "decision.nightly_makespan_p50_s",
        "decision.nightly_window_compliance",
        "decision.dpm_servers_needed",
        "decision.pool_peak_bytes",
    ]
    assert {"decision.whole_vm_rto_p95_s", "decision.item_level_rto_p95_s"} <= set(heads)


def test_a_needs_rto_counts_only_restores_of_its_unit(host, guest):
    # The whole-VM need (sql-20 .. sql-40) on the guest side: the run restores only
    # databases there (sql_database), so its RTO is not checked (none of its unit);
    # the database need's RTO on the host side counts its database requests, served
    # as whole VMs (restored_as whole_vm), at their whole-VM time.
    g = guest.recommendations.set_index("vm")
    assert g.loc["sql-20", "restores"] == 0 and pd.isna(g.loc["sql-20", "rto_p95_s"])
    assert "not checked" in g.loc["sql-20", "reason"]
    h = host.recommendations.set_index("vm")
    ok = host.restores[host.restores["outcome"] == "succeeded"]
    db_need = h.index[h["finest_unit"] == "database"]
    asked = ok[ok["vm"].isin(db_need) & (ok["kind"] == "sql_database")]
    assert h.loc["sql-01", "restores"] == len(asked) > 0
    assert h.loc["sql-01", "rto_p95_s"] == pytest.approx(np.percentile(asked["rto_s"], 95))
