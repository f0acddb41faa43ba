"""Redirected I/O on a Windows Server 2008 R2 CSV: what a software snapshot costs
the VMs on it, through the same bandwidth sharing as every transfer."""

from __future__ import annotations

import pytest

from tests.builders import INSTANT_WRITERS, base_scenario, run


def _old_csv(provider: str = "software", **kw) -> dict:
    """2008 R2 cluster: 'bk' on n1 is backed up; 'busy1', 'busy2' on n2 (100 MB/s of
    I/O each) share its CSV but are not protected."""
    doc = base_scenario(
        vss=INSTANT_WRITERS,
        vms=[
            {
                "name": "bk",
                "cluster": "c1",
                "csv": "csv1",
                "node": "c1-n1",
                "disks": [{"size": "50 GB", "used": "37.5 GB"}],
                "io_rate": "0 MB/s",
            },
            {
                "name": "busy{i}",
                "count": 2,
                "cluster": "c1",
                "csv": "csv1",
                "node": "c1-n2",
                "io_rate": "100 MB/s",
            },
        ],
        **kw,
    )
    doc["clusters"][0]["os"] = "2008R2"
    doc["clusters"][0]["csvs"][0]["vss_provider"] = provider
    doc["protection_groups"][0]["members"] = ["bk"]
    return doc


def test_redirected_vms_get_the_cluster_network_and_the_backup_gets_the_rest_of_the_csv():
    # n2's VMs want 200 MB/s through n2 -> coordinator (n1) over a 1 Gbps cluster
    # network: they get 125 MB/s (ratio 0.625). The backup reads the same CSV
    # (500 MB/s): max-min leaves it 500 - 125 = 375 MB/s (its link and the pool are
    # faster). Job: snapshot 5 s (software) + 37.5 GB / 375 MB/s = 100 s + release 1 s.
    res = run(_old_csv())
    red = res.redirected_io.iloc[0]
    assert red["demand_bps"] == pytest.approx(200e6)
    assert red["achieved_bps"] == pytest.approx(125e6, rel=1e-9)
    job = res.jobs.iloc[0]
    assert job["end_s"] - job["start_s"] == pytest.approx(5 + 100 + 1, rel=1e-9)
    # The cluster network carried the redirected I/O: 125 MB/s for 106 s.
    nets = res.resources.set_index("resource")
    assert nets.loc["clusternet:c1-n2->c1", "bytes"] == pytest.approx(125e6 * 106, rel=1e-9)


def test_degraded_minutes_of_a_vm_on_a_redirected_csv_equal_the_snapshot_lifetime():
    res = run(_old_csv(horizon_days=2))
    jobs = res.jobs
    # Writers are instant, so each snapshot lives from job start to job end.
    lifetime = float((jobs["end_s"] - jobs["start_s"]).sum())
    deg = res.degraded_io.set_index("vm")
    for vm in ("bk", "busy1", "busy2"):
        assert deg.loc[vm, "degraded_s"] == pytest.approx(lifetime, rel=1e-12)
    assert res.kpis()["redirected_io"]["degraded_vm_minutes"] == pytest.approx(
        3 * lifetime / 60, abs=1e-3
    )


def test_hardware_provider_redirects_only_while_the_snapshot_is_taken():
    # Hardware snapshot: 1 s redirected, then 37.5 GB at the full 500 MB/s = 75 s.
    res = run(_old_csv("hardware"))
    assert res.redirected_io["seconds"].tolist() == pytest.approx([1.0])
    job = res.jobs.iloc[0]
    assert job["end_s"] - job["start_s"] == pytest.approx(1 + 75 + 1, rel=1e-9)


def test_a_ws2012_csv_takes_distributed_snapshots_and_redirects_nothing():
    doc = _old_csv()
    doc["clusters"][0]["os"] = "2012"
    res = run(doc)
    assert res.redirected_io.empty
    assert (res.degraded_io["degraded_s"] == 0).all()
    assert res.kpis()["redirected_io"]["throughput_ratio"] == 1.0
