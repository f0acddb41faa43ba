"""The independent parts of one built world: groups of DPM servers, clusters, hosts,
volumes, VMs, links, slots and processes that share nothing with another group.

Two things are in one part when one can change what happens to the other: a VM
and its host, its volume and every DPM server protecting it; a cluster's nodes and
CSVs (VMs move between nodes, a CSV's I/O is redirected over them); the link
directions on any route a job, restore or migration may take; every object whose
job slots or bandwidth it holds; every VM a Poisson stream, a drill or a migration
stream draws for (one random stream serves them all). Parts are the connected
components of that graph (networkx), numbered in the order of the DPM servers, then
of the clusters, hosts and VMs, so part 0 holds the first DPM server.

Parts share no resource, slot or process, so each can be simulated on its own
environment (hvsim.simulation.simulate_parts) and their traces merged into the
tables of one run (hvsim.merge). A world that is one part is run as it always was."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import networkx as nx

from hvsim.model.dpm import DpmServerState
from hvsim.model.flows import BandwidthResource
from hvsim.model.infrastructure import HyperVHost, SmbShareVolume
from hvsim.model.slots import JobSlots
from hvsim.model.vm import VirtualMachine
from hvsim.scenario.patterns import VmNames
from hvsim.scenario.schema import PoissonRestores, RestoreDrill
from hvsim.world import World

_OWNED = (BandwidthResource, JobSlots)


@dataclass(frozen=True, slots=True)
class PartMap:
    """Which part each named object of a world is in (-1: none, an object nothing
    can use). ``resource`` is indexed like FlowNetwork's resources (their index),
    ``slot`` like the SlotLog's registered slots."""

    count: int
    vm: dict[str, int]
    dpm: dict[str, int]
    cluster: dict[str, int]
    volume: dict[str, int]
    host: dict[str, int]
    resource: dict[str, int]
    slot: dict[str, int]

    def parts(self) -> range:
        return range(self.count)


def _owned(obj: object) -> Iterator[object]:
    """The bandwidth resources and job slots an object holds directly or in a
    container attribute (a node's tx/rx pair, a scan target's CSV locks)."""
    names: Iterable[str]
    if hasattr(obj, "__dict__"):
        names = list(vars(obj))
    else:
        names = [n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())]
    for name in names:
        value = getattr(obj, name, None)
        yield from _unpack(value, 2)


def _unpack(value: object, depth: int) -> Iterator[object]:
    if isinstance(value, _OWNED):
        yield value
    elif depth > 0 and isinstance(value, dict):
        for v in value.values():
            yield from _unpack(v, depth - 1)
    elif depth > 0 and isinstance(value, (list, tuple)):
        for v in value:
            yield from _unpack(v, depth - 1)


def find_parts(world: World) -> PartMap:
    """The parts of ``world`` (built, not yet run): linear in its objects and in the
    (host, DPM server) pairs whose routes can carry a transfer."""
    g: nx.Graph = nx.Graph()
    sc = world.scenario
    net = world.network

    def join(a: object, *others: object) -> None:
        g.add_node(a)
        for b in others:
            g.add_edge(a, b)

    def owner(obj: object) -> None:
        g.add_node(obj)
        for res in _owned(obj):
            g.add_edge(obj, res)

    reach = {node: i for i, comp in enumerate(nx.connected_components(net.graph)) for node in comp}

    def route(src: str, dst: str, anchor: object) -> None:
        # A pair with no path carries nothing (the model refuses such a transfer).
        if src in reach and reach[src] == reach.get(dst):
            for res in net.route(src, dst):
                g.add_edge(anchor, res)

    dpms = list(world.dpm_servers.values())
    for dpm in dpms:
        owner(dpm)
        owner(dpm.storage)
    for cluster in world.clusters:
        owner(cluster)
        for node in cluster.nodes:
            join(cluster, node)
        for csv in cluster.csvs:
            join(cluster, csv)
    for host in world.hosts.values():
        owner(host)
        if host.local_volume is not None:
            join(host, host.local_volume)
    for volume in world.volumes.values():
        owner(volume)

    # The hosts each VM may run on: its own, its cluster's nodes, and any host a
    # migration names as a target (joined below).
    def hosts_of(vm_host: HyperVHost) -> list[HyperVHost]:
        return list(vm_host.cluster.nodes) if vm_host.cluster is not None else [vm_host]

    pairs: dict[tuple[str, str], object] = {}
    dpms_of: dict[str, list[DpmServerState]] = {}
    for vm in world.vms:
        join(vm, vm.host, vm.volume)
    served = [(r.vm, r.plan.dpm) for r in world.replicas.values()]
    served += [(r.source.vm, r.plan.dpm) for r in world.guest_replicas]
    for vm, dpm in served:
        join(vm, dpm)
        dpms_of.setdefault(vm.name, []).append(dpm)
        vol = vm.volume
        sources = (
            [vol.file_servers[0]]
            if isinstance(vol, SmbShareVolume)
            else [h.name for h in hosts_of(vm.host)]
        )
        for src in sources:
            pairs.setdefault((src, dpm.name), dpm)
            # Restores to where the VM is: the route back.
            pairs.setdefault((dpm.name, src), dpm)
    for guest_plan in world.guest_plans.values():
        owner(guest_plan)
        join(guest_plan, guest_plan.dpm)
    for target in world.scan_targets:
        owner(target)
        join(target, world.dpm_servers[target.dpm_server], *target.nodes, *target.csvs)
    for od in world.on_demand:
        join(od, od.dpm)
    for tape_plan in world.tape.plans.values():
        owner(tape_plan)
        owner(tape_plan.library)
        for drive in tape_plan.library.drives:
            owner(drive)
            join(tape_plan.library, drive)
        join(tape_plan, tape_plan.dpm, tape_plan.library)
    if world.online is not None:
        for uplink in world.online.uplinks.values():
            owner(uplink)
            join(uplink, uplink.dpm)

    # Streams that draw for several VMs, and moves and restores to named targets.
    names = VmNames(vm.name for vm in world.vms)
    by_name = {vm.name: vm for vm in world.vms}

    def members(patterns: list[str] | None) -> list[VirtualMachine]:
        return [by_name[n] for p in (patterns or ["*"]) for n in names.matching(p)]

    def restored_to(vms: list[VirtualMachine], host: str) -> None:
        join(world.hosts[host], *vms)
        for vm in vms:
            for dpm in dpms_of.get(vm.name, []):
                pairs.setdefault((dpm.name, host), vm)

    moves: dict[str, list[HyperVHost]] = {}
    for i, spec in enumerate(sc.migrations.poisson):
        moving = members(spec.members)
        join(("migrations.poisson", i), *moving, *(world.hosts[t] for t in spec.targets))
        for vm in moving:
            moves.setdefault(vm.name, []).extend(world.hosts[t] for t in spec.targets)
    for ev in sc.migrations.events:
        vm = by_name[ev.vm]
        if ev.kind == "storage" and ev.target is not None:
            join(vm, world.volumes[ev.target])
        elif ev.target is not None:
            join(vm, world.hosts[ev.target])
            moves.setdefault(ev.vm, []).append(world.hosts[ev.target])
    for d in sc.migrations.drains:
        join(world.hosts[d.node], *hosts_of(world.hosts[d.node]))
    # Migrations between hosts in different places use the links between them.
    for name, moved_to in moves.items():
        vm = by_name[name]
        for t in moved_to:
            for h in hosts_of(vm.host):
                pairs.setdefault((h.name, t.name), vm)
    restores = sc.restores
    drawing: list[RestoreDrill | PoissonRestores] = [*restores.drills, *restores.poisson]
    for i, item in enumerate(drawing):
        drawn = members(item.members)
        join(("restores", i), *drawn)
        if item.target_host is not None:
            restored_to(drawn, item.target_host)
    for e in restores.events:
        if e.target_host is not None:
            restored_to([by_name[e.vm]], e.target_host)
    for (src, dst), anchor in pairs.items():
        route(src, dst, anchor)

    return _number(world, g)


def _number(world: World, g: nx.Graph) -> PartMap:
    """Number the components in the order of the DPM servers, clusters, hosts and
    VMs (a component none of them is in, e.g. an unused link, gets -1)."""
    comp_of: dict[object, int] = {}
    for i, comp in enumerate(nx.connected_components(g)):
        for node in comp:
            comp_of[node] = i
    number: dict[int, int] = {}
    order: list[object] = [
        *world.dpm_servers.values(),
        *world.clusters,
        *world.hosts.values(),
        *world.vms,
    ]
    for obj in order:
        c = comp_of.get(obj)
        if c is not None and c not in number:
            number[c] = len(number)

    def part(obj: object) -> int:
        c = comp_of.get(obj)
        return -1 if c is None else number.get(c, -1)

    slots = _slots_by_index(g, len(world.trace.slot_log.names))
    names = world.trace.slot_log.names
    return PartMap(
        count=max(len(number), 1),
        vm={vm.name: part(vm) for vm in world.vms},
        dpm={name: part(d) for name, d in world.dpm_servers.items()},
        cluster={c.name: part(c) for c in world.clusters},
        volume={name: part(v) for name, v in world.volumes.items()},
        host={name: part(h) for name, h in world.hosts.items()},
        resource={name: part(r) for name, r in world.flows.resources.items()},
        slot={names[i]: part(s) if s is not None else -1 for i, s in enumerate(slots)},
    )


def _slots_by_index(g: nx.Graph, count: int) -> list[object | None]:
    out: list[object | None] = [None] * count
    for node in g.nodes:
        if isinstance(node, JobSlots):
            out[node._id] = node
    return out
