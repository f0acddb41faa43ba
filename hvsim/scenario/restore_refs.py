"""Reference checks for restore requests: the VMs and hosts they name must exist,
and a restore to another host needs a network route from the DPM server that
protects the VM to that host."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from hvsim.scenario.patterns import VmNames, group_membership
from hvsim.scenario.schema import PoissonRestores, RestoreDrill, Scenario


def check_restore_references(s: Scenario, vm_names: VmNames) -> list[str]:
    problems: list[str] = []
    r = s.restores
    machines = {n.name for c in s.clusters for n in c.node_list()} | {h.name for h in s.hosts}
    graph = nx.Graph()
    graph.add_edges_from(link.between for link in s.links)
    known_dpm = {d.name for d in s.dpm_servers}  # an unknown one is reported where named
    dpm_of_group = {g.name: g.dpm_server for g in s.protection_groups}
    group_of: dict[str, str] | None = None

    def dpm_servers(names: list[str]) -> set[str]:
        nonlocal group_of
        if group_of is None:
            group_of = group_membership(s, vm_names)
        found = {dpm_of_group[group_of[n]] for n in names if n in group_of}
        return found & known_dpm

    # (place, its target host or None, the VMs it restores)
    entries: list[tuple[str, str | None, list[str]]] = []
    requests: list[tuple[str, Sequence[RestoreDrill | PoissonRestores]]] = [
        ("drills", r.drills),
        ("poisson", r.poisson),
    ]
    for section, items in requests:
        for i, item in enumerate(items):
            where = f"restores.{section}[{i}]"
            names: list[str] = []
            for j, m in enumerate(item.members):
                matched = vm_names.matching(m)
                if not matched:
                    problems.append(f"{where}.members[{j}]: names no VM ({m!r})")
                names += matched
            entries.append((where, item.target_host, names))
    for i, e in enumerate(r.events):
        where = f"restores.events[{i}]"
        if e.vm not in vm_names:
            problems.append(f"{where}.vm: unknown VM ({e.vm!r})")
            entries.append((where, e.target_host, []))
        else:
            entries.append((where, e.target_host, [e.vm]))
    for i, need in enumerate(s.restore_needs):
        for j, m in enumerate(need.members):
            if not vm_names.matching(m):
                problems.append(f"restore_needs[{i}].members[{j}]: names no VM ({m!r})")
    for where, target, names in entries:
        if target is None:
            continue
        if target not in machines:
            problems.append(f"{where}.target_host: unknown host or node ({target!r})")
            continue
        for dpm in sorted(dpm_servers(names)):
            if not (dpm in graph and target in graph and nx.has_path(graph, dpm, target)):
                problems.append(
                    f"{where}.target_host: no network route from DPM server {dpm} to "
                    f"{target} ({target!r})"
                )
    return problems
