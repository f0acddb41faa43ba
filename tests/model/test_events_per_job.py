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


def test_an_uncontended_host_level_backup_is_seven_events():
    # base_scenario: one VM on a 2012 cluster's CSV (hardware provider, no serialized
    # backups: no CSV group slot), one DPM server, one protection group; its one
    # job is the initial replica at 22:00 (79,200 s) of the one day. Nothing else
    # runs then, so every slot is free. The job's code path (BackupJobs.protect,
    # run_job), one event each:
    #   1. Timeout      protect waits for 22:00
    #   2. SlotRequest  the host's backup slot, granted on arrival
    #   3. SlotRequest  the DPM server's job slot, granted on arrival
    #   4. Timeout      the writers' flush and the hardware snapshot, one wait
    #                   (VssCoordinator.freeze_and_snapshot)
    #   5. Timeout      the flow network's timer: the transfer's bytes are moved
    #   6. Event        the transfer's done event, which resumes the job
    #   7. Timeout      the snapshot's release (release_time 1 s)
    # and none for: the VM's busy event (nothing waits on it), the two slots' grant
    # events on leaving (nobody waits, nothing else due then). Then the VM's protect
    # process ends (a Process event, the VM's, not the job's: the day is over).
    # Before issue 18 it was 11: a separate flush timeout, the busy event and a grant
    # event per slot.
    events, res = _processed_events(base_scenario())
    assert len(res.jobs) == 1
    job = res.jobs.iloc[0]
    assert (job["kind"], job["outcome"], job["scheduled_s"]) == (
        "initial_replica",
        "succeeded",
        79200.0,
    )
    during = [kind for t, kind in events if job["scheduled_s"] <= t <= job["end_s"]]
    assert during == [
        "Timeout",
        "SlotRequest",
        "SlotRequest",
        "Timeout",
        "Timeout",
        "Event",
        "Timeout",
        "Process",
    ]
    assert len(during) - 1 == 7  # the last is the protect process's end
