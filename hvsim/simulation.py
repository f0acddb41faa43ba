"""One run: ``simulate`` builds the world, runs it and collects its tables;
``run_world`` runs a built world to its end (the horizon, then whatever started
before it), and checks its invariants."""

from __future__ import annotations

import gc
import itertools
import math
from collections.abc import Callable
from functools import partial

import simpy

from hvsim.invariants import check_world
from hvsim.model.restore import restore_processes
from hvsim.model.schedule import DAY_S, daily
from hvsim.overrun import overrun_limit, runaway
from hvsim.recommend import recommendations
from hvsim.results import Results, collect
from hvsim.scenario.guest import data_source_names
from hvsim.scenario.patterns import VmNames
from hvsim.scenario.schema import GUEST_RESTORE_SOURCES, Scenario
from hvsim.seeds import check_seed
from hvsim.world import World, build_world, stream


def simulate(
    scenario: Scenario, seed: int = 1, progress: Callable[[float], None] | None = None
) -> Results:
    """Run one replication of ``scenario`` with ``seed`` (0 to 2**32 - 1); same
    inputs, same tables.

    ``progress`` (optional) is called with the simulated day once a day."""
    seed = check_seed(seed)
    world = build_world(scenario, seed)
    run_world(world, progress)
    res = collect(world, scenario.name, seed, scenario.start_date)
    if scenario.restore_needs:
        res.recommendations = recommendations(scenario, res)
    return res


def run_world(world: World, progress: Callable[[float], None] | None = None) -> None:
    """Run ``world`` to its end; RunawayError if it is still going at overrun_limit."""
    env = world.env
    scans = [(t, env.process(world.scanner.schedule(t))) for t in world.scan_targets]
    protected = [(vm, env.process(world.jobs.protect(r))) for vm, r in world.replicas.items()]
    for guest in world.guest_replicas:
        env.process(world.guest_jobs.protect(guest))
    start_migrations(world)
    for plan in world.plans.values():
        if plan.consistency_check_time_s is not None:
            members = [r for r in world.replicas.values() if r.plan is plan]
            env.process(world.jobs.scheduled_checks(plan, members))
    for od in world.on_demand:
        env.process(od.arrivals())
    start_restores(world)
    world.tape.start()
    if world.online is not None:
        world.online.start()
    # Jobs started before the horizon run to their end (re-runs, checks and
    # migrations included), so every started job has an end: run until no event is
    # left, but no further than overrun_limit (a run still going then is stuck behind
    # a rate too low or a duration too long, see hvsim.overrun).
    limit = overrun_limit(world.scenario)
    # The cyclic garbage collector would walk the long-lived world and trace again
    # and again (it made time per VM grow with the estate); the model builds no
    # cycles that need collecting during a run.
    gc.freeze()
    gc.disable()
    try:
        # env.run(until=limit) would move the clock to the limit when the events end
        # before it, and the run's end time is a result; stepping keeps it at the last
        # event. peek() is infinite once no event is left.
        step, peek = env.step, env.peek
        if progress is None:
            while peek() <= limit:
                step()
        else:
            _run_reporting_days(env, limit, world.horizon_s, progress)
    finally:
        gc.enable()
        gc.unfreeze()
    # Stuck: an event is left past the limit, or none is left but a transfer is still
    # under way (its end overflowed the clock, so no event waits for it).
    if env.peek() < math.inf or world.flows.transfers_left():
        raise runaway(world, limit, protected, scans)
    world.flows.close_accounting()
    check_world(world)


def start_migrations(world: World) -> None:
    """Processes for drains, Poisson moves and explicit events (migrations and
    requested consistency checks)."""
    env, mgr, sc = world.env, world.migrations, world.scenario
    by_name = {vm.name: vm for vm in world.vms}
    names = VmNames(vm.name for vm in world.vms)
    for d in sc.migrations.drains:
        env.process(mgr.drain(world.hosts[d.node], d.day * DAY_S + d.time, d.duration, world.vms))
    for i, p in enumerate(sc.migrations.poisson):
        moving = {n for m in p.members for n in names.matching(m)}
        env.process(
            mgr.poisson(
                [vm for vm in world.vms if vm.name in moving],
                p.per_vm_per_day,
                p.kind,
                [world.hosts[t] for t in p.targets],
                stream(world.seed, f"migrations:{i}"),
            )
        )
    for ev in sc.migrations.events:
        vm = by_name[ev.vm]
        at = ev.day * DAY_S + ev.time
        if ev.kind == "consistency_check":
            replica = world.replicas.get(vm)
            if replica is not None:
                env.process(mgr.at(at, partial(world.jobs.consistency_check, replica, "request")))
        elif ev.kind == "storage":
            assert ev.target is not None  # the scenario checks: a move names its target
            vol = world.volumes[ev.target]
            env.process(mgr.at(at, partial(mgr.migrate, vm, "storage", "event", target_volume=vol)))
        else:
            assert ev.target is not None  # the scenario checks: a move names its target
            host = world.hosts[ev.target]
            env.process(mgr.at(at, partial(mgr.migrate, vm, ev.kind, "event", host)))


def start_restores(world: World) -> None:
    """Processes for restore drills, Poisson restores and explicit restore requests."""
    names = VmNames(vm.name for vm in world.vms)
    spec = world.scenario.restores
    sources: dict[str, list[tuple[str, str]]] = {}
    if any(r.kind in GUEST_RESTORE_SOURCES for r in (*spec.drills, *spec.poisson, *spec.events)):
        # Every VM's declared data sources, protected at guest level or not.
        sources = {n: data_source_names(v, n) for v in world.scenario.vms for n in v.names()}
    procs = restore_processes(
        world.restores,
        spec,
        {vm.name: vm for vm in world.vms},
        world.hosts,
        names.matching,
        lambda name: stream(world.seed, name),
        sources,
    )
    for proc in procs:
        world.env.process(proc)


def _run_reporting_days(
    env: simpy.Environment, limit: float, horizon_s: float, progress: Callable[[float], None]
) -> None:
    """run_world's loop, calling ``progress`` with the end of each simulated day (the
    last one is the horizon) once the clock is about to pass it. It schedules no event:
    a SimPy process ticking each day would move the run's end time (``env.now``, so the
    pool's expiries and the end_s counter) to the horizon when the model's last event
    comes earlier."""
    midnights = itertools.islice(daily((0.0,), horizon_s), 1, None)  # from day 1's on
    ends = itertools.chain(midnights, [horizon_s])
    end = next(ends, math.inf)
    step, peek = env.step, env.peek
    t = peek()
    while t <= limit:
        while t >= end:
            progress(end / 86400.0)
            end = next(ends, math.inf)
        step()
        t = peek()
    while end < math.inf:  # the events ended before the horizon: the rest is done
        progress(end / 86400.0)
        end = next(ends, math.inf)
