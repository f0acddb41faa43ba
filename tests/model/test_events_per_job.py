"""How many SimPy events a backup job costs: the run's cost per unit of work, which
issue 18 cut (no busy event nobody waits on, no grant event nobody needs, writers'
flush and snapshot in one wait). A change that adds an event to a job fails here."""

from __future__ import annotations

import simpy

import hvsim
from hvsim.simulation import run_world
from hvsim.world import build_world
from tests.builders import base_scenario


def _processed_events(doc: dict) -> tuple[list[tuple[float, str]], hvsim.Results]:
    """Every event the run of ``doc`` processes, as (time, event class), in order, and
    its results."""
    from hvsim.results import collect

    scenario = hvsim.scenario_from_dict(doc)
    world = build_world(scenario, 1)
    env = world.env
    seen: list[tuple[float, str]] = []
    step = simpy.Environment.step

    def recording_step() -> None:
        seen.append((env._queue[0][0], type(env._queue[0][3]).__name__))
        step(env)

    env.step = recording_step  # run_world steps with env.step
    run_world(world)
    return seen, collect(world, scenario.name, 1, scenario.start_date)


def test_an_uncontended_host_level_backup_is_five_events():
    # base_scenario: one VM on a 2012 cluster's CSV (hardware provider, no serialized
    # backups: no CSV group slot), one DPM server, one protection group; its one
    # job is the initial replica at 22:00 (79,200 s) of the one day. Nothing else
    # runs then, so every slot is free and no other event is due at any of the
    # job's instants. The job's code path (BackupJobs.protect, run_job), one event
    # each:
    #   1. Timeout  protect waits for 22:00
    #   2. Timeout  the writers' flush and the hardware snapshot, one wait
    #               (VssCoordinator.freeze_and_snapshot)
    #   3. Timeout  the flow network's timer: the transfer's bytes are moved
    #   4. Event    the transfer's done event, which resumes the job
    #   5. Timeout  the snapshot's release (release_time 1 s)
    # and none for: the host's and the DPM server's slots, granted on arrival with
    # nothing else due (the requests are processed at once, slots._granted_on_arrival),
    # the VM's busy event (nothing waits on it), the slots' grant event on leaving
    # (nobody waits, nothing else due). Then the VM's protect process ends (a Process
    # event, the VM's, not the job's: the day is over). Before issue 18 it was 11:
    # two slot requests, a separate flush timeout, the busy event and a grant event
    # per slot.
    events, res = _processed_events(base_scenario())
    assert len(res.jobs) == 1
    job = res.jobs.iloc[0]
    assert (job["kind"], job["outcome"], job["scheduled_s"]) == (
        "initial_replica",
        "succeeded",
        79200.0,
    )
    during = [kind for t, kind in events if job["scheduled_s"] <= t <= job["end_s"]]
    assert during == ["Timeout", "Timeout", "Timeout", "Event", "Timeout", "Process"]
    assert len(during) - 1 == 5  # the last is the protect process's end


def test_two_backups_at_one_instant_take_their_slots_with_events_of_their_own():
    # Two VMs on the one host, both at 22:00; the host's default 3 parallel backups
    # and the DPM server's slots hold both, so nobody queues. At 22:00, in order:
    #   T1 (vm1's timeout): vm1 asks for the host slot; T2 is due now -> event R1h
    #   T2 (vm2's timeout): vm2 asks for the host slot; R1h is due -> event R2h
    #   R1h: vm1 asks for the DPM slot; R2h is due -> event R1d
    #   R2h: vm2 asks for the DPM slot; R1d is due -> event R2d
    # so all 4 grants stay events (processing one at once would move it before the
    # event due first). Each job gives its slots back at its own end, with nobody
    # waiting and nothing else due: no grant event (_Grants) at all.
    doc = base_scenario(
        vms=[{"name": "vm{i}", "count": 2, "cluster": "c1", "csv": "csv1", "node": "c1-n1"}]
    )
    events, res = _processed_events(doc)
    assert len(res.jobs) == 2
    start, end = res.jobs["scheduled_s"].min(), res.jobs["end_s"].max()
    during = [kind for t, kind in events if start <= t <= end]
    assert during[:6] == ["Timeout", "Timeout"] + ["SlotRequest"] * 4
    assert during.count("SlotRequest") == 4 and "_Grants" not in during
