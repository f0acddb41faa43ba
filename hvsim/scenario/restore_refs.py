"""Reference checks for restore requests: the VMs and hosts they name must exist,
and a restore to another host needs a network route from the DPM server that
protects the VM to that host. A guest kind names data sources its VMs declare (of
the kind's workload, protected or not: one not protected at guest level falls back
when it runs), and no target host (it restores into its VM)."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from hvsim.scenario.guest import data_source_names
from hvsim.scenario.patterns import VmNames, group_membership
from hvsim.scenario.schema import (
    GUEST_RESTORE_SOURCES,
    PoissonRestores,
    RestoreDrill,
    RestoreEvent,
    Scenario,
)

GUEST_KINDS_TEXT = ", ".join(GUEST_RESTORE_SOURCES)


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
    sources = _DataSources(s)
    for section, items in requests:
        for i, item in enumerate(items):
            where = f"restores.{section}[{i}]"
            names: list[str] = []
            guest = item.kind in GUEST_RESTORE_SOURCES
            if item.members is None and not guest:
                problems.append(
                    f"{where}.members: required for a host-level kind: the VMs restored "
                    f"({item.kind!r})"
                )
            for j, m in enumerate(item.members or []):
                matched = vm_names.matching(m)
                if not matched:
                    problems.append(f"{where}.members[{j}]: names no VM ({m!r})")
                names += matched
            if guest:
                if item.members is None:
                    names = vm_names.matching("*")
                problems += _guest_request(where, item, names, sources)
                continue  # a guest kind restores into its VM: no target host
            if item.data_sources is not None:
                problems.append(f"{where}.data_sources: only for a guest kind, {GUEST_KINDS_TEXT}")
            entries.append((where, item.target_host, names))
    for i, e in enumerate(r.events):
        where = f"restores.events[{i}]"
        if e.vm not in vm_names:
            problems.append(f"{where}.vm: unknown VM ({e.vm!r})")
            entries.append((where, e.target_host, []))
        elif e.kind in GUEST_RESTORE_SOURCES:
            problems += _guest_event(where, e, sources)
        else:
            if e.data_source is not None:
                problems.append(
                    f"{where}.data_source: only for a guest kind, {GUEST_KINDS_TEXT} "
                    f"({e.data_source!r})"
                )
            entries.append((where, e.target_host, [e.vm]))
    for i, need in enumerate(s.restore_needs):
        if "members" not in need.model_fields_set:
            continue  # the default, all VMs: of an estate with none, nothing to name
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


class _DataSources:
    """The guest data sources each VM of the scenario declares, built when first
    asked (only scenarios with guest restore kinds pay for it)."""

    def __init__(self, s: Scenario) -> None:
        self._scenario = s
        self._of: dict[str, list[tuple[str, str]]] | None = None

    def of(self, vm: str) -> list[tuple[str, str]]:
        if self._of is None:
            self._of = {
                n: data_source_names(spec, n) for spec in self._scenario.vms for n in spec.names()
            }
        return self._of.get(vm, [])


def _guest_request(
    where: str,
    item: RestoreDrill | PoissonRestores,
    names: list[str],
    sources: _DataSources,
) -> list[str]:
    """A drill or stream of a guest kind: no target host; each data_sources pattern
    names a data source of the kind's workload in the VMs; some data source at all."""
    problems: list[str] = []
    workload = GUEST_RESTORE_SOURCES[item.kind]
    if item.target_host is not None:
        problems.append(
            f"{where}.target_host: a guest kind restores into its VM ({item.target_host!r})"
        )
    held = [ds for n in names for ds, w in sources.of(n) if w == workload]
    if item.data_sources is None:
        if names and not held:
            problems.append(
                f"{where}.kind: the VMs restored hold no {workload} data source ({item.kind!r})"
            )
        return problems
    held_names = VmNames(held)
    for j, pattern in enumerate(item.data_sources):
        if not held_names.matching(pattern):
            problems.append(
                f"{where}.data_sources[{j}]: names no {workload} data source of the VMs "
                f"restored ({pattern!r})"
            )
    return problems


def _guest_event(where: str, e: RestoreEvent, sources: _DataSources) -> list[str]:
    """An event of a guest kind names one data source of its VM, of the kind's
    workload, and no target host."""
    problems: list[str] = []
    workload = GUEST_RESTORE_SOURCES[e.kind]
    if e.target_host is not None:
        problems.append(
            f"{where}.target_host: a guest kind restores into its VM ({e.target_host!r})"
        )
    if e.data_source is None:
        problems.append(
            f"{where}.data_source: required for a guest kind: the {workload} data source "
            f"of VM {e.vm} restored ({e.kind!r})"
        )
        return problems
    name = e.data_source if "/" in e.data_source else f"{e.vm}/{e.data_source}"
    found = dict(sources.of(e.vm))
    if name not in found:
        problems.append(
            f"{where}.data_source: unknown data source of VM {e.vm} ({e.data_source!r})"
        )
    elif found[name] != workload:
        problems.append(
            f"{where}.data_source: a data source of workload {found[name]}; {e.kind} "
            f"restores workload {workload} ({e.data_source!r})"
        )
    return problems
