"""Protection scans: durations worked out by hand, missed VMs, growth, calibration."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import hvsim
from hvsim.model.scan import ScanCosts
from hvsim.scan_table import scan_duration_s
from tests.builders import ROOT, base_scenario, run

COSTS = {
    "per_vm_query": "10 s",
    "per_writer_metadata": "1 s",
    "per_node_overhead": "5 s",
    "per_csv_coordination": "2 s",
    "discovery_time": None,
}


def _two_csv_cluster(serialized: bool, agent_on_n2: bool = True) -> dict:
    doc = base_scenario(
        scan=COSTS,
        vms=[
            {"name": "a{i}", "count": 3, "cluster": "c1", "csv": "csv1"},
            {"name": "b1", "cluster": "c1", "csv": "csv2"},
        ],
    )
    c = doc["clusters"][0]
    c["csvs"].append(dict(c["csvs"][0], name="csv2"))
    c["scan_serialized"] = serialized
    c["nodes"] = ["c1-n1", {"name": "c1-n2", "dpm_agent": agent_on_n2}]
    return doc


def test_serialized_scan_takes_each_csv_one_node_at_a_time():
    # Each VM costs 10 + 1 writer x 1 = 11 s. Both nodes start after 5 s overhead.
    # n1 takes csv1 first: 2 + 3 x 11 = 35 s -> 5..40; n2 takes csv2: 2 + 11 = 13 s -> 5..18.
    # n2 then waits for csv1 until 40: 40..75; n1 takes csv2 at 40: 40..53. Scan = 75 s.
    scans = run(_two_csv_cluster(serialized=True)).scans
    assert scans["kind"].tolist() == ["initial"]
    assert scans.loc[0, "mode"] == "serialized"
    assert scans.loc[0, "duration_s"] == 75.0
    assert scans.loc[0, "vms_found"] == 4


def test_a_serialized_scan_queues_for_each_csv_in_the_slot_log():
    # The timeline above: n1 holds csv1 5..40 while n2 asks for it at 18 and waits
    # until 40; n2 holds csv2 5..18, n1 40..53. Rows (time, in use, queued) at each
    # request, grant and release; at 40 the release's row, then the hand-over's grant.
    q = run(_two_csv_cluster(serialized=True)).slot_queues
    scan = q[q["kind"] == "csv-scan"]
    rows = {
        slot: list(zip(g["time_s"], g["in_use"], g["queued"], strict=True))
        for slot, g in scan.groupby("slot")
    }
    assert rows == {
        "c1/csv1": [(5.0, 1, 0), (18.0, 1, 1), (40.0, 0, 1), (40.0, 1, 0), (75.0, 0, 0)],
        "c1/csv2": [(5.0, 1, 0), (18.0, 0, 0), (40.0, 1, 0), (53.0, 0, 0)],
    }


def test_parallel_scan_has_each_node_enumerate_its_own_vms_at_once():
    # Round-robin owners: a1 -> n1, a2 -> n2, a3 -> n1, b1 -> n2. Each node: 5 + 2 x 11 = 27 s.
    scans = run(_two_csv_cluster(serialized=False)).scans
    assert scans.loc[0, "mode"] == "parallel"
    assert scans.loc[0, "duration_s"] == 27.0


def test_a_node_without_the_agent_contributes_nothing_and_its_vms_are_missed():
    res = run(_two_csv_cluster(serialized=False, agent_on_n2=False))
    scan = res.scans.iloc[0]
    assert scan["vms_found"] == 2
    assert scan["vms_missed"] == 2
    assert "no DPM agent on node c1-n2" in scan["missed_reason"]
    assert scan["duration_s"] == 27.0  # n1 alone: 5 + 2 x 11
    # Its VMs' backups fail with the same reason.
    failed = res.jobs[res.jobs["host"] == "c1-n2"]
    assert set(failed["failure_reason"]) == {"no DPM agent on host c1-n2"}


def test_scan_mode_follows_os_and_dpm_version():
    doc = base_scenario()
    assert run(doc).scans.loc[0, "mode"] == "parallel"  # WS2012 + DPM 2012 SP1
    doc["dpm_servers"][0]["version"] = "2012"
    assert run(doc).scans.loc[0, "mode"] == "serialized"
    doc = base_scenario()
    doc["clusters"][0]["os"] = "2008R2"
    assert run(doc).scans.loc[0, "mode"] == "serialized"


def test_discovery_scans_run_daily_at_the_configured_time():
    doc = base_scenario(horizon_days=3, scan={"discovery_time": "01:30"})
    scans = run(doc).scans
    assert scans["kind"].tolist() == ["initial", "discovery", "discovery", "discovery"]
    assert scans["start_s"].tolist()[1:] == [5400.0, 86400 + 5400.0, 2 * 86400 + 5400.0]


@settings(max_examples=30, deadline=None)
@given(
    nodes=st.integers(1, 10),
    vms=st.integers(1, 60),
    csvs=st.integers(1, 5),
)
def test_serialized_scan_grows_with_nodes_and_vms(nodes, vms, csvs):
    costs = ScanCosts(8.0, 1.0, 30.0, 20.0)
    base = scan_duration_s(costs, nodes, vms, csvs, True, [("system",)])
    assert scan_duration_s(costs, nodes + 1, vms, csvs, True, [("system",)]) >= base
    assert scan_duration_s(costs, nodes, vms + 1, csvs, True, [("system",)]) >= base
    # One more VM on every CSV lengthens every CSV's work, so the scan strictly grows.
    assert scan_duration_s(costs, nodes, vms + csvs, csvs, True, [("system",)]) > base
    # Every node enumerates every VM and a CSV's work is one node at a time, so the
    # scan lasts at least nodes x (the busiest CSV's work).
    per_csv = -(-vms // csvs) * 9.0 + 20.0
    assert base >= nodes * per_csv + 30.0 - 1e-9


def test_article_case_takes_hours_serialized_and_minutes_on_ws2012_sp1():
    # Calibration target (source: seed-article): 8 nodes x 400 VMs on CSVs, serialized: 2-4 h.
    s = hvsim.load_scenario(ROOT / "scenarios" / "csv-8node-400vm.yaml")
    old = hvsim.simulate(s, seed=1).kpis()["scan"]["prod"]["duration_s"]
    assert 2 * 3600 <= old <= 4 * 3600
    c = s.clusters[0].model_copy(update={"scan_serialized": False})
    new = hvsim.simulate(s.model_copy(update={"clusters": [c]}), seed=1).kpis()["scan"]["prod"]
    assert new["duration_s"] < 15 * 60
