"""Shared builders: small scenarios as dicts, so each test states what it changes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import hvsim

GiB = 2.0**30


def base_scenario(**overrides: Any) -> dict[str, Any]:
    """One 2012 cluster (2 nodes, one CSV), a 10 GbE switch, one DPM server, one VM."""
    doc: dict[str, Any] = {
        "name": "t",
        "horizon_days": 1,
        "clusters": [
            {
                "name": "c1",
                "os": "2012",
                "nodes": 2,
                "csvs": [
                    {
                        "name": "csv1",
                        "capacity": "10 TiB",
                        "read": "500 MB/s",
                        "write": "500 MB/s",
                        "vss_provider": "hardware",
                    }
                ],
            }
        ],
        "switches": ["sw"],
        "links": [
            {"between": ["c1-n1", "sw"], "bandwidth": "10 Gbps"},
            {"between": ["c1-n2", "sw"], "bandwidth": "10 Gbps"},
            {"between": ["dpm1", "sw"], "bandwidth": "10 Gbps"},
        ],
        "dpm_servers": [
            {
                "name": "dpm1",
                "version": "2012SP1",
                "pool": {"capacity": "100 TB", "write": "1 GB/s"},
            }
        ],
        "protection_groups": [{"name": "pg", "dpm_server": "dpm1", "members": ["*"]}],
        "vms": [{"name": "vm1", "cluster": "c1", "csv": "csv1"}],
    }
    doc.update(copy.deepcopy(overrides))
    return doc


def run(doc: dict[str, Any], seed: int = 1) -> hvsim.Results:
    return hvsim.simulate(hvsim.scenario_from_dict(doc), seed=seed)


@pytest.fixture
def scenario_doc() -> dict[str, Any]:
    return base_scenario()
