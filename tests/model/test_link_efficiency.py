"""links[].efficiency: transfers over a link reach bandwidth x efficiency (DPM's
planning guide: about 80 % at best, source: dpm-network-efficiency); a cluster's own
network and storage are not links. The published initial-replica times are checked
in tests/validation/test_published_figures.py."""

from __future__ import annotations

import pytest

import hvsim
from hvsim.scenario.loader import ScenarioError
from tests.builders import base_scenario, run


def test_only_links_carry_the_efficiency_cluster_network_and_storage_keep_their_rates():
    doc = base_scenario()
    doc["links"][0]["efficiency"] = 0.5
    cap = run(doc).resources.set_index("resource")["capacity_bps"]
    assert cap["link0:c1-n1->sw"] == cap["link0:sw->c1-n1"] == 10e9 / 8 * 0.5
    assert cap["link2:dpm1->sw"] == 10e9 / 8 * 0.8  # the default
    assert cap["clusternet:c1-n1->c1"] == 1e9 / 8  # the default cluster network, line rate
    assert cap["c1/csv1:read"] == 500e6
    assert cap["dpm1:pool-write"] == 1e9


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "efficiency must be a number from 0.1 to 1"),
        (1.5, "efficiency must be a number from 0.1 to 1"),
        (-0.2, "efficiency must be a number from 0.1 to 1"),
        (0.008, "efficiency must be a number from 0.1 to 1"),  # 0.8 slipped by 100
        (True, "expected a number, not true or false"),
        ("80 %", "efficiency must be a number from 0.1 to 1"),
    ],
)
def test_an_efficiency_outside_0_to_1_is_refused_with_one_line(value, message):
    doc = base_scenario()
    doc["links"][1]["efficiency"] = value
    with pytest.raises(ScenarioError) as caught:
        hvsim.scenario_from_dict(doc, "f.yaml")
    assert caught.value.problems == [f"f.yaml: links[1].efficiency: {message} ({value!r})"]
