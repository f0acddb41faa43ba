"""Protection-group and migration members ('web-*') over many VMs: the same VMs as
fnmatch.filter, found without trying every name against every pattern."""

from __future__ import annotations

import fnmatch
import gc
import time

from hypothesis import given, settings
from hypothesis import strategies as st

import hvsim
from hvsim.scenario.patterns import VmNames, is_pattern
from hvsim.simulation import start_migrations
from hvsim.world import build_world
from tests.builders import base_scenario

name_chars = st.sampled_from("abAB01-_.:")
pattern_chars = st.sampled_from("abAB01-_.:*?[]!")
vm_names = st.lists(st.text(name_chars, min_size=1, max_size=6), max_size=40)


@settings(max_examples=300, deadline=None)
@given(names=vm_names, members=st.lists(st.text(pattern_chars, max_size=6), max_size=6))
def test_members_match_the_names_fnmatch_filter_does_in_the_same_order(names, members):
    index = VmNames(names)
    for m in members + names[:3]:
        expected = fnmatch.filter(names, m) if is_pattern(m) else ([m] if m in names else [])
        assert index.matching(m) == expected
        assert index.matching(m) == expected  # and again, from the cache


def test_member_patterns_keep_names_in_their_order_with_duplicates_and_classes():
    index = VmNames(["web-2", "db-1", "web-10", "web-1", "web-2", "w[eb]-1"])
    assert index.matching("web-*") == ["web-2", "web-10", "web-1", "web-2"]
    assert index.matching("web-[!2]*") == ["web-10", "web-1"]
    assert index.matching("?eb-1") == ["web-1"]
    assert index.matching("w[[]eb]-1") == ["w[eb]-1"]
    assert index.matching("db-1") == ["db-1"] and index.matching("db-2") == []


def _estate(entries: int, per_entry: int, patterns: bool) -> dict:
    """entries x per_entry VMs named appNNN-MMMM over four protection groups, with one
    member pattern per entry in the groups and in a Poisson stream (or, without
    patterns, members that match everything)."""
    doc = base_scenario()
    # 25,000 VMs of a 100 GB disk and 4 GiB of memory need 2.6 PB of their CSV.
    doc["clusters"][0]["csvs"][0]["capacity"] = "5 PB"
    doc["vms"] = [
        {"name": f"app{j:03d}-{{i:04d}}", "count": per_entry, "cluster": "c1", "csv": "csv1"}
        for j in range(entries)
    ]
    doc["protection_groups"] = [
        {
            "name": f"pg{g}",
            "dpm_server": "dpm1",
            "members": [f"app{j:03d}-*" for j in range(entries) if j % 4 == g]
            if patterns
            else [f"app??[{g}{g + 4}]-*"],
        }
        for g in range(4)
    ]
    moved = [f"app{j:03d}-00[0-4]?" for j in range(entries)] if patterns else ["*"]
    doc["migrations"] = {"poisson": [{"members": moved, "per_vm_per_day": 0.1}]}
    return doc


def _validation_s(doc: dict) -> float:
    """The best of three validations (a collection of the suite's garbage in one of
    them is no part of the cost)."""
    best = float("inf")
    for _ in range(3):
        gc.collect()
        started = time.perf_counter()
        hvsim.scenario_from_dict(doc)
        best = min(best, time.perf_counter() - started)
    return best


def test_hundreds_of_member_patterns_over_many_vms_cost_little_more_than_a_few():
    # 1,000 patterns (500 in the groups, 500 in the Poisson stream) over 25,000 VMs:
    # validation tried every name against every pattern, three times (75 million
    # matches, 5 s); now each pattern tries only the 50 names that start like it.
    many, few = _estate(500, 50, patterns=True), _estate(500, 50, patterns=False)
    took_few, took_many = _validation_s(few), _validation_s(many)
    assert took_many < 1.5 * took_few + 0.1, (took_many, took_few)


def test_the_world_puts_each_vm_in_the_group_and_the_stream_its_members_name():
    world = build_world(hvsim.scenario_from_dict(_estate(40, 60, patterns=True)), 1)
    groups = {vm.name: replica.plan.name for vm, replica in world.replicas.items()}
    assert len(groups) == 2400
    assert all(groups[f"app{j:03d}-{i:04d}"] == f"pg{j % 4}" for j in range(40) for i in (1, 60))
    moved = []

    def poisson(vms, *args):
        moved.append([vm.name for vm in vms])
        yield from ()

    world.migrations.poisson = poisson
    start_migrations(world)
    world.env.run()
    # 'appNNN-00[0-4]?': the VMs numbered 1 to 49 of each entry, in the estate's order.
    assert moved == [[f"app{j:03d}-{i:04d}" for j in range(40) for i in range(1, 50)]]
