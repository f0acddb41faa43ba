"""Invariants hold on every run, and a broken one fails loudly with its name."""

from __future__ import annotations

import pytest

from hvsim.invariants import InvariantViolation, check_world
from hvsim.scenario.loader import scenario_from_dict
from hvsim.simulation import run_world
from hvsim.world import build_world
from tests.builders import base_scenario


def _world(**kw):
    doc = base_scenario(
        vms=[
            {"name": "v{i}", "count": 4, "cluster": "c1", "csv": "csv1"},
            {"name": "old", "cluster": "c1", "csv": "csv1", "guest_os": "windows2000"},
        ],
        **kw,
    )
    world = build_world(scenario_from_dict(doc), 1)
    run_world(world)
    return world


def test_a_clean_run_passes_every_invariant():
    check_world(_world(horizon_days=2))


def test_a_snapshot_left_behind_is_reported_by_name():
    world = _world()
    world.vss.alive += 1
    with pytest.raises(InvariantViolation, match="no snapshot left behind"):
        check_world(world)


def test_downtime_of_an_online_vm_is_reported_by_name():
    world = _world()
    for replica in world.replicas.values():
        replica.method = "online"
    with pytest.raises(InvariantViolation, match="downtime only for offline VMs"):
        check_world(world)


def test_bytes_lost_in_transit_are_reported_by_name():
    world = _world()
    world.flows.bytes_delivered -= 1e6
    with pytest.raises(InvariantViolation, match="bytes sent equal bytes received"):
        check_world(world)


def test_a_resource_moving_more_than_its_capacity_is_reported_by_name():
    world = _world()
    res = next(iter(world.flows.resources.values()))
    res.bytes_total = res.capacity_bps * res.busy_s * 2 + 10
    with pytest.raises(InvariantViolation, match="no resource above its capacity"):
        check_world(world)


def test_a_job_still_running_is_reported_by_name():
    world = _world()
    world.jobs.running = 1
    with pytest.raises(InvariantViolation, match="every started job ended"):
        check_world(world)


def test_sub_byte_transfers_shorter_than_a_clock_tick_pass_the_capacity_invariant():
    # Found by fuzzing (a VM with memory: 0.5 B, saved and resumed each night): 0.5 B
    # at 1 TB/s lasts 5e-13 s, less than one tick of the clock three days in (5.8e-11
    # s), so twenty such transfers moved 10 B in no busy time at all, and the check's
    # 1 B of slack failed a sound run.
    doc = base_scenario()
    doc["clusters"][0]["csvs"][0]["write"] = "1 TB/s"
    world = build_world(scenario_from_dict(doc), 1)
    write = world.volumes["c1/csv1"].write

    def saves():
        yield world.env.timeout(3 * 86400.0)
        for _ in range(20):
            yield world.flows.transfer(0.5, (write,))

    world.env.process(saves())
    world.env.run()
    world.flows.close_accounting()
    assert (write.bytes_total, write.busy_s) == (10.0, 0.0)
    check_world(world)
    # The slack is a few clock ticks per transfer, not a blanket pass: twice the
    # capacity over the same busy time still fails.
    write.busy_s = 1.0
    write.bytes_total = 2 * write.capacity_bps
    with pytest.raises(InvariantViolation, match="no resource above its capacity"):
        check_world(world)


def test_a_migration_requested_after_the_horizon_is_reported_by_name():
    world = _world(
        migrations={
            "events": [{"vm": "v1", "day": 0, "time": "12:00", "kind": "live", "target": "c1-n2"}]
        }
    )
    rec = world.trace.migrations[0]
    world.trace.migrations[0] = rec._replace(requested_s=world.horizon_s)
    with pytest.raises(InvariantViolation, match="nothing starts at or after the horizon"):
        check_world(world)
