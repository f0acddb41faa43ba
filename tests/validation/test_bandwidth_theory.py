"""Bandwidth sharing through the whole simulator (scenario -> jobs), against work
conservation and max-min fairness worked out by hand. The single-VM formulas
(saved-state downtime, consistency-check duration) are validated in
tests/model/test_backups.py and tests/model/test_mobility.py."""

from __future__ import annotations

import pytest

from tests.builders import INSTANT_WRITERS, base_scenario, run


@pytest.mark.parametrize("n", [1, 3, 8])
def test_n_initial_replicas_over_a_saturated_link_end_at_n_bytes_over_bandwidth(n):
    # All n jobs start at 22:00 (n host slots, n DPM slots), take 1 s hardware
    # snapshots together, then share the 1 Gbps DPM link, 100 MB/s at its default 80 %
    # efficiency (CSV 500 MB/s and pool 1 GB/s are faster): the link is never idle, so
    # all transfers end at 1 + n x 10 GB / 100 MB/s, and the releases 1 s later.
    doc = base_scenario(
        vss=INSTANT_WRITERS,
        vms=[
            {
                "name": "v{i}",
                "count": n,
                "cluster": "c1",
                "csv": "csv1",
                "node": "c1-n1",
                "disks": [{"size": "20 GB", "used": "10 GB"}],
            }
        ],
    )
    doc["clusters"][0]["max_parallel_backups_per_node"] = n
    doc["dpm_servers"][0]["max_parallel_jobs"] = n
    doc["links"][2]["bandwidth"] = "1 Gbps"
    jobs = run(doc).jobs
    assert (jobs["start_s"] == 22 * 3600).all()
    assert jobs["end_s"].max() - 22 * 3600 == pytest.approx(1 + n * 10e9 / 100e6 + 1, rel=1e-9)


def test_two_hosts_share_the_dpm_link_max_min_fair():
    # Links at their default 80 % efficiency: h1's 1 Gbps uplink caps its flow at
    # 100 MB/s; the 3 Gbps DPM link (300 MB/s) leaves 200 MB/s to h2. h1's 10 GB take
    # 100 s; h2 moves 20 of its 50 GB meanwhile, then gets the whole 300 MB/s:
    # 30 GB / 300 MB/s = 100 s more.
    storage = {"capacity": "10 TB", "read": "2 GB/s", "write": "2 GB/s", "vss_provider": "hardware"}
    doc = base_scenario(
        clusters=[],
        hosts=[
            {"name": "h1", "os": "2012", "storage": storage},
            {"name": "h2", "os": "2012", "storage": storage},
        ],
        links=[
            {"between": ["h1", "sw"], "bandwidth": "1 Gbps"},
            {"between": ["h2", "sw"], "bandwidth": "10 Gbps"},
            {"between": ["dpm1", "sw"], "bandwidth": "3 Gbps"},
        ],
        vms=[
            {"name": "a", "host": "h1", "disks": [{"size": "20 GB", "used": "10 GB"}]},
            {"name": "b", "host": "h2", "disks": [{"size": "60 GB", "used": "50 GB"}]},
        ],
        vss=INSTANT_WRITERS,
    )
    doc["dpm_servers"][0]["pool"]["write"] = "10 GB/s"
    jobs = run(doc).jobs.set_index("vm")
    transfer = jobs["end_s"] - jobs["start_s"] - 2  # minus snapshot and release
    assert transfer["a"] == pytest.approx(100.0, rel=1e-9)
    assert transfer["b"] == pytest.approx(100.0 + 30e9 / 300e6, rel=1e-9)
