"""build_world assembles the estate as a tree (cluster -> node -> CSV; DPM server ->
pool), and every part knows its place in the scenario: a message names the field
from the object, never by taking a name apart."""

from __future__ import annotations

import re

import pytest

import hvsim
from hvsim.model.infrastructure import CsvVolume, LocalVolume, SmbShareVolume
from hvsim.world import build_world
from tests.builders import EXAMPLES


def _at(scenario, path: str):
    """The value at a scenario path such as 'clusters[0].csvs[1].read'."""
    value = scenario
    for name, index in re.findall(r"([a-z_]+)(?:\[(\d+)\])?", path):
        value = getattr(value, name)
        if index:
            value = value[int(index)]
    return value


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_bandwidth_resource_names_the_field_that_sets_its_capacity(path):
    scenario = hvsim.load_scenario(path)
    world = build_world(scenario, 1)
    for res in world.flows.resources.values():
        link = world.network.link_of(res)
        # A link carries its line rate times its protocol efficiency (schema.Link).
        scale = link.efficiency if link is not None else 1.0
        if res.path.endswith(".online.uplink"):
            # A DPM server's uplink to Azure, likewise (schema.OnlineUplink).
            scale = _at(scenario, res.path.rsplit(".", 1)[0]).efficiency
        assert _at(scenario, res.path) * scale == res.capacity_bps, res.name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_estate_is_a_tree_whose_parts_know_their_place_in_the_scenario(path):
    scenario = hvsim.load_scenario(path)
    world = build_world(scenario, 1)
    for cluster, spec in zip(world.clusters, scenario.clusters, strict=True):
        assert _at(scenario, cluster.path) is spec
        assert [n.name for n in cluster.nodes] == [n.name for n in spec.node_list()]
        assert all(n.cluster is cluster for n in cluster.nodes)
        for csv, csv_spec in zip(cluster.csvs, spec.csvs, strict=True):
            assert csv.cluster is cluster and _at(scenario, csv.path) is csv_spec
            assert world.volumes[csv.name] is csv
    for volume in world.volumes.values():
        assert isinstance(volume, CsvVolume | LocalVolume | SmbShareVolume)
        assert _at(scenario, volume.path).capacity == volume.capacity_bytes
    for i, dpm in enumerate(scenario.dpm_servers):
        assert world.dpm_servers[dpm.name].path == f"dpm_servers[{i}]"
    for od in world.on_demand:
        assert _at(scenario, od.path).per_hour == od.rate_per_s * 3600
