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
from hvsim.merge import PartTrace, merge, part_trace
from hvsim.model.dpm import Replica
from hvsim.model.restore import restore_processes
from hvsim.model.schedule import DAY_S, daily
from hvsim.overrun import overrun_limit, runaway
from hvsim.parts import PartMap, find_parts
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
    parts = find_parts(world)
    _count_parts(world, parts)
    run_world(world, progress)
    res = collect(world, scenario.name, seed, scenario.start_date)
    if parts.count > 1:
        # Rows of different parts at one time in the order a split run gives them.
        res = merge([(res, part_trace(world, frozenset(parts.parts())))], parts)
    return _recommend(scenario, res)


def simulate_part(
    scenario: Scenario,
    seed: int,
    owned: frozenset[int],
    parts: PartMap | None = None,
    world: World | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[Results, PartTrace]:
    """Run only the parts ``owned`` of ``scenario`` (hvsim.parts) on one environment:
    the world is built whole (or ``world``, built and not yet run, is used), and only
    their processes start. ``parts``: the world's parts, when already found."""
    seed = check_seed(seed)
    if world is None:
        world = build_world(scenario, seed)
    if parts is None:
        parts = find_parts(world)
    _count_parts(world, parts)
    run_world(world, progress, only=(parts, owned))
    res = collect(world, scenario.name, seed, scenario.start_date)
    return res, part_trace(world, owned)


Pieces = list[tuple[Results, PartTrace]]
# Starts simulate_part of each group of parts elsewhere; the callable it returns
# waits for them and gives their results in the groups' order.
PartsStarter = Callable[[Scenario, int, list[frozenset[int]], PartMap], Callable[[], Pieces]]


def simulate_split(
    scenario: Scenario,
    seed: int = 1,
    start_parts: PartsStarter | None = None,
    groups: int | None = None,
    progress: Callable[[float], None] | None = None,
    announce: Callable[[int, int], None] | None = None,
) -> Results:
    """``simulate``'s tables, computed part by part (hvsim.parts): the parts are dealt
    into ``groups`` (default: one each); this process runs the first group on the world
    it built to find the parts, ``start_parts`` the others meanwhile (default: this
    process, one after another; hvsim.runs.split starts them on worker processes or a
    Dask cluster); their results are merged. ``progress`` follows the first group;
    ``announce`` is told the number of parts and of groups before they run."""
    seed = check_seed(seed)
    world = build_world(scenario, seed)
    parts = find_parts(world)
    owned = deal(parts, parts.count if groups is None else groups)
    if announce is not None:
        announce(parts.count, len(owned))
    rest = owned[1:]
    if start_parts is None or not rest:

        def wait() -> Pieces:
            return [simulate_part(scenario, seed, o, parts) for o in rest]

    else:
        wait = start_parts(scenario, seed, rest, parts)
    first = simulate_part(scenario, seed, owned[0], parts, world, progress)
    pieces = [first, *wait()]
    res = merge(pieces, parts) if parts.count > 1 else first[0]
    return _recommend(scenario, res)


def _count_parts(world: World, parts: PartMap) -> None:
    """Give a world of several parts a finish timer and byte counts per part (a
    resource nothing can use, part -1, goes in part 0: no flow crosses it)."""
    if parts.count > 1:
        world.flows.set_parts([max(parts.resource[name], 0) for name in world.flows.resources])


def deal(parts: PartMap, groups: int) -> list[frozenset[int]]:
    """The parts dealt into at most ``groups`` groups of about as many VMs each: the
    largest part first, each to the group with the fewest VMs so far (the first of
    equals), so the same parts give the same groups."""
    size = [0] * parts.count
    for p in parts.vm.values():
        if p >= 0:
            size[p] += 1
    n = max(1, min(groups, parts.count))
    load = [0] * n
    members: list[set[int]] = [set() for _ in range(n)]
    for p in sorted(parts.parts(), key=lambda p: (-size[p], p)):
        g = load.index(min(load))
        members[g].add(p)
        load[g] += size[p]
    return [frozenset(m) for m in members if m]


def _recommend(scenario: Scenario, res: Results) -> Results:
    if scenario.restore_needs:
        res.recommendations = recommendations(scenario, res)
    return res


def run_world(
    world: World,
    progress: Callable[[float], None] | None = None,
    only: tuple[PartMap, frozenset[int]] | None = None,
) -> None:
    """Run ``world`` to its end; RunawayError if it is still going at overrun_limit.
    ``only``: start the processes of these parts alone (simulate_part)."""
    env = world.env
    keep = _keeper(only)
    scans = [
        (t, env.process(world.scanner.schedule(t)))
        for t in world.scan_targets
        if keep("cluster", t.name)
    ]
    protected = [
        (vm, env.process(world.jobs.protect(r)))
        for vm, r in world.replicas.items()
        if keep("vm", vm.name)
    ]
    for guest in world.guest_replicas:
        if keep("vm", guest.source.vm.name):
            env.process(world.guest_jobs.protect(guest))
    start_migrations(world, keep)
    members: dict[str, list[Replica]] = {}
    for r in world.replicas.values():
        members.setdefault(r.plan.name, []).append(r)
    for plan in world.plans.values():
        if plan.consistency_check_time_s is not None and keep("dpm", plan.dpm.name):
            env.process(world.jobs.scheduled_checks(plan, members.get(plan.name, [])))
    for od in world.on_demand:
        if keep("dpm", od.dpm.name):
            env.process(od.arrivals())
    start_restores(world, keep)
    world.tape.start(lambda dpm: keep("dpm", dpm))
    if world.online is not None:
        world.online.start(lambda dpm, vm: keep("dpm", dpm) if vm is None else keep("vm", vm))
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


def _keeper(only: tuple[PartMap, frozenset[int]] | None) -> Callable[[str, str], bool]:
    """Whether the object named (a "vm", "dpm", "host" or "cluster") is in a part to
    run: always without ``only``."""
    if only is None:
        return lambda kind, name: True
    parts, owned = only
    maps = {"vm": parts.vm, "dpm": parts.dpm, "host": parts.host, "cluster": parts.cluster}
    return lambda kind, name: maps[kind][name] in owned


def start_migrations(
    world: World, keep: Callable[[str, str], bool] = lambda kind, name: True
) -> None:
    """Processes for drains, Poisson moves and explicit events (migrations and
    requested consistency checks)."""
    env, mgr, sc = world.env, world.migrations, world.scenario
    by_name = {vm.name: vm for vm in world.vms}
    names = VmNames(vm.name for vm in world.vms)
    for d in sc.migrations.drains:
        if keep("host", d.node):
            env.process(
                mgr.drain(world.hosts[d.node], d.day * DAY_S + d.time, d.duration, world.vms)
            )
    for i, p in enumerate(sc.migrations.poisson):
        moving = {n for m in p.members for n in names.matching(m)}
        # One random stream draws for all its VMs: they are one part (hvsim.parts).
        if not _first_kept(sorted(moving), keep):
            continue
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
        if not keep("vm", ev.vm):
            continue
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


def _first_kept(vms: list[str], keep: Callable[[str, str], bool]) -> bool:
    """Whether a stream over ``vms`` (one part, see hvsim.parts) runs here; one over
    no VM does nothing, wherever it runs."""
    return keep("vm", vms[0]) if vms else True


def start_restores(
    world: World, keep: Callable[[str, str], bool] = lambda kind, name: True
) -> None:
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
        wanted=lambda vm: keep("vm", vm),
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
