"""Reference checks for the mobility parts of a scenario: VMM servers, drains,
Poisson migrations and explicit events must name things that exist."""

from __future__ import annotations

import networkx as nx

from hvsim.scenario.patterns import VmNames
from hvsim.scenario.schema import Scenario, VmSpec


def _placements(s: Scenario, spec: VmSpec) -> list[str]:
    """Machines that may run VMs of this entry."""
    if spec.host is not None:
        return [spec.host]
    if spec.smb_host is not None:
        return [spec.smb_host]
    if spec.node is not None:
        return [spec.node]
    return [n.name for c in s.clusters if c.name == spec.cluster for n in c.node_list()]


def _route_problems(s: Scenario, where: str, pairs: set[tuple[str, str]]) -> list[str]:
    graph = nx.Graph()
    graph.add_edges_from(link.between for link in s.links)
    return [
        f"{where}: no network route between {a} and {b} for a shared-nothing move ({b!r})"
        for a, b in sorted(pairs)
        if a != b and not (a in graph and b in graph and nx.has_path(graph, a, b))
    ]


def _reachable_volumes(s: Scenario, spec: VmSpec) -> set[str]:
    """Volumes a storage move can take a VM of ``spec`` to while it stays on its host
    (Hyper-V storage migration moves the files, not the VM): the CSVs of its host's
    cluster, its standalone host's local storage, and any SMB share."""
    reachable = {sh.name for sh in s.smb_shares}
    clusters = {n.name: c for c in s.clusters for n in c.node_list()}
    cluster = next((c for c in s.clusters if c.name == spec.cluster), None)
    if spec.smb_host is not None:
        cluster = clusters.get(spec.smb_host)
    if cluster is not None:
        reachable |= {f"{cluster.name}/{v.name}" for v in cluster.csvs}
    for host in (spec.host, spec.smb_host):
        if host is not None and any(h.name == host for h in s.hosts):
            reachable.add(f"{host}/local")
    return reachable


def check_mobility_references(s: Scenario, vm_names: VmNames) -> list[str]:
    problems: list[str] = []
    nodes = {n.name: c.name for c in s.clusters for n in c.node_list()}
    hosts = {h.name for h in s.hosts}
    machines = set(nodes) | hosts
    volumes = {f"{c.name}/{v.name}" for c in s.clusters for v in c.csvs}
    volumes |= {f"{h}/local" for h in hosts} | {sh.name for sh in s.smb_shares}
    managed = {c.name for c in s.clusters} | hosts
    spec_by_name: dict[str, VmSpec] = {}

    def spec_of(vm: str) -> VmSpec | None:
        # One look-up table for all events: finding a VM's entry by expanding every
        # entry's names for each event took events x VMs.
        if not spec_by_name:
            spec_by_name.update((n, v) for v in reversed(s.vms) for n in v.names())
        return spec_by_name.get(vm)

    for i, v in enumerate(s.vmm_servers):
        for j, m in enumerate(v.manages):
            if m not in managed:
                problems.append(
                    f"vmm_servers[{i}].manages[{j}]: not a cluster or standalone host ({m!r})"
                )
    vmm_names = {v.name for v in s.vmm_servers}
    for i, d in enumerate(s.dpm_servers):
        if d.vmm.vmm_server is not None and d.vmm.vmm_server not in vmm_names:
            problems.append(
                f"dpm_servers[{i}].vmm.vmm_server: unknown VMM server ({d.vmm.vmm_server!r})"
            )
    dpm_names = {d.name for d in s.dpm_servers}
    for i, o in enumerate(s.on_demand):
        if o.dpm_server not in dpm_names:
            problems.append(f"on_demand[{i}].dpm_server: unknown DPM server ({o.dpm_server!r})")
    for i, drain in enumerate(s.migrations.drains):
        if drain.node not in nodes:
            problems.append(f"migrations.drains[{i}].node: not a cluster node ({drain.node!r})")
    moved_between_hosts: set[str] = set()  # VMs a shared-nothing move may take elsewhere
    for i, p in enumerate(s.migrations.poisson):
        for j, m in enumerate(p.members):
            if not vm_names.matching(m):
                problems.append(f"migrations.poisson[{i}].members[{j}]: names no VM ({m!r})")
        for j, t in enumerate(p.targets):
            if t not in machines:
                problems.append(
                    f"migrations.poisson[{i}].targets[{j}]: unknown host or node ({t!r})"
                )
        if p.kind == "shared_nothing" and not p.targets:
            problems.append(
                f"migrations.poisson[{i}].targets: shared_nothing moves need target hosts"
            )
        if p.kind == "shared_nothing":
            moved = {n for m in p.members for n in vm_names.matching(m)}
            moved_between_hosts |= moved
            if not problems:
                specs = [v for v in s.vms if not moved.isdisjoint(v.names())]
                pairs = {(a, t) for v in specs for a in _placements(s, v) for t in p.targets}
                problems += _route_problems(s, f"migrations.poisson[{i}].targets", pairs)
    moved_between_hosts |= {e.vm for e in s.migrations.events if e.kind == "shared_nothing"}
    for i, e in enumerate(s.migrations.events):
        if e.vm not in vm_names:
            problems.append(f"migrations.events[{i}].vm: unknown VM ({e.vm!r})")
        if e.kind == "consistency_check":
            continue
        where = f"migrations.events[{i}].target"
        if e.target is None:
            problems.append(f"{where}: a {e.kind} move needs a target")
        elif e.kind == "storage" and e.target not in volumes:
            problems.append(
                f"{where}: unknown volume, use 'cluster/csv', 'host/local' or a share name "
                f"({e.target!r})"
            )
        elif e.kind == "storage":
            spec = spec_of(e.vm)
            # A shared-nothing move may take the VM to another host first; where it
            # is then is known only when the run gets there.
            if spec is not None and e.vm not in moved_between_hosts:
                reachable = _reachable_volumes(s, spec)
                if e.target not in reachable:
                    problems.append(
                        f"{where}: a storage move keeps the VM on its host, which cannot "
                        f"reach this volume; it reaches {', '.join(sorted(reachable))} "
                        f"({e.target!r})"
                    )
        elif e.target not in machines:
            volume = " (a volume: only storage moves take one)" if e.target in volumes else ""
            problems.append(f"{where}: unknown host or node{volume} ({e.target!r})")
        elif e.kind == "shared_nothing":
            spec = spec_of(e.vm)
            if spec is not None:
                pairs = {(a, e.target) for a in _placements(s, spec)}
                problems += _route_problems(s, where, pairs)
        elif e.kind == "live":
            spec = spec_of(e.vm)
            if spec is not None and spec.csv is None:
                problems.append(
                    f"migrations.events[{i}].kind: live migration moves a VM on a CSV between "
                    f"nodes of its cluster; use shared_nothing ({e.kind!r})"
                )
            elif spec is not None and spec.cluster != nodes.get(e.target):
                problems.append(
                    f"{where}: a live migration stays in the VM's "
                    f"cluster; use shared_nothing ({e.target!r})"
                )
    return problems
