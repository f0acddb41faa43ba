"""Scale-out: the same estate protected by more DPM servers, as a transform of a
scenario document (issue 16's knob "number of DPM servers with the VMs' assignment
to them, keeping each VM's affinity").

DPM 2012 SP1 protects one large cluster from several DPM servers, each protecting
part of its VMs (source: dpm-scale-out). ``scale_out(doc, servers)`` returns a new
document whose estate is protected by ``servers`` DPM servers; the input is left as
it was, and the result shares no object with it (nor within itself). The rules:

1. **Template.** The DPM server with the largest load is scaled out: load is the
   protected bytes of the VMs its protection groups protect (rule 4's measure); the
   first in ``dpm_servers`` on a tie. Only its VMs are spread; every other DPM
   server keeps its groups as they are (a VM it protects keeps its server).
2. **New servers.** ``servers - k`` copies of the template (k: the document's DPM
   servers), every setting copied: pool, job slots, VMM integration, tape library,
   online uplink and the rest (each copy has its own library and uplink). They are
   named ``<template>-2``, ``-3``, ..., skipping any name of a machine, switch,
   cluster, share or VMM server already in the document, and appended to
   ``dpm_servers``. Each gets a copy of every link that has the template at one
   end (``links[]``), with its own name at that end, appended to ``links``: the same
   neighbours (so every route the template has, to hosts, file servers and restore
   targets, the copy has too) through its own NIC of the same bandwidth.
3. **Affinity.** The VMs the template protects (host level, guest level or both)
   are grouped by the volume holding them: a CSV (cluster/csv), a standalone host's
   local storage, or an SMB share. A volume's VMs go to one server together: DPM
   serializes a CSV's backups through DataSourceGroups.xml on the server that
   protects them (source: dpm-serialization). A VM protected at both levels by the
   template takes both to its server.
4. **Balance.** Volumes by load, largest first (the volume of the earlier VM first
   on a tie), each to the least loaded of the template and the new servers (the
   template, then the copies in order, on a tie), all starting empty. A VM's load
   is the bytes its protection covers: at host level its disks' bytes in use (a
   distribution's mean, as the storage capacity check counts them: the smaller of
   size and used), at guest level its data sources' sizes (SQL and Exchange
   databases, SharePoint content databases, file volumes), in whole bytes so that
   ties are exact. Growth is not counted (sizes at the start). The result depends
   only on the document and ``servers``: a VM keeps its server from one trial to
   the next.
5. **Groups.** A protection group of the template whose VMs all went to one server
   is kept as written, with that server as its ``dpm_server``. A group whose VMs
   went to several is split: on the first of those servers (rule 4's order) it
   keeps its name, on each other one a copy named ``<group>:<server>`` (``@`` is no
   character of a name; ``-2``, ``-3`` appended if that name is taken) follows it
   in ``protection_groups``. A member whose VMs all went to one server stays as
   written in that part (a pattern per volume, 'web-*', stays a pattern); a member
   whose VMs were split is replaced by their names in each part (wildcards in a name
   escaped, ``[*]``), in the document's order. Each part copies every other setting:
   schedule, retention, window, RPO, checks, ``long_term`` (tape) and ``online``.
   A guest-level group without ``sync_frequency`` is given its effective one (2 h
   with Exchange databases in the group, else 15 min), so a part without the
   Exchange VMs keeps the group's schedule.
6. **Unchanged.** VMs, migrations (a VM keeps its DPM server wherever it moves;
   the copies reach what the template reaches), restores (a VM is restored by its
   own server, over the same routes), on-demand job streams (they stay on the
   server they name, the template's included), VMM servers.
7. **Bounds.** ``servers == k`` returns an equal document; fewer than k (the knob
   only adds servers), not a whole number, or more than MAX_SERVERS is a
   ScenarioError, as is an input that does not validate. A server with no volume
   left to take (more servers than the template's volumes) is still added, idle.
   The result is validated (``scenario_from_dict``) before it is returned.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from hvsim.scenario.guest import guest_kinds, sync_frequency_s
from hvsim.scenario.loader import ScenarioError, scenario_from_dict
from hvsim.scenario.patterns import group_membership, scenario_vm_names
from hvsim.scenario.schema import ProtectionGroup, Scenario, VmSpec, name_problem

# More DPM servers than a scale-out knob means (assumption: a bound on a slip such as
# 1e6 servers, which would build a document of a million servers and links).
MAX_SERVERS = 1000
_WILDCARD = re.compile(r"([*?\[])")


def servers_count(doc: dict[str, Any], source: str = "<scenario>") -> int:
    """The DPM servers a scenario document lists (not validated otherwise)."""
    servers = doc.get("dpm_servers") if isinstance(doc, dict) else None
    if not isinstance(servers, list):
        raise ScenarioError([f"{source}: dpm_servers: expected a list of DPM servers"], source)
    return len(servers)


def scale_out(doc: dict[str, Any], servers: int, source: str = "<scenario>") -> dict[str, Any]:
    """``doc`` with its busiest DPM server's estate spread over ``servers`` DPM
    servers in all, by the rules of this module's docstring."""
    out = _tree(doc)
    scenario = scenario_from_dict(out, source)
    k = len(scenario.dpm_servers)
    if isinstance(servers, bool) or not isinstance(servers, int):
        raise ScenarioError(
            [f"{source}: (scale-out): servers must be a whole number of DPM servers ({servers!r})"],
            source,
        )
    if servers < k:
        raise ScenarioError(
            [
                f"{source}: dpm_servers: scale-out to {servers} DPM servers: the scenario has "
                f"{k}, and scale-out only adds servers (give {k} or more)"
            ],
            source,
        )
    if servers > MAX_SERVERS:
        raise ScenarioError(
            [
                f"{source}: (scale-out): at most {MAX_SERVERS} DPM servers (assumption: more "
                f"is a slip) ({servers})"
            ],
            source,
        )
    if servers == k:
        return out
    plan = _Plan(scenario, servers, source)
    _add_servers(out, plan)
    _split_groups(out, scenario, plan, source)
    try:
        scenario_from_dict(out, source)
    except ScenarioError as exc:
        head = (
            f"{source}: (scale-out): the document scaled out to {servers} DPM servers does "
            "not validate (a case scale-out does not handle):"
        )
        raise ScenarioError([head, *exc.problems], source) from None
    return out


class _Plan:
    """The template, the new servers' names and each moved VM's server."""

    def __init__(self, s: Scenario, servers: int, source: str):
        names = scenario_vm_names(s)
        self.host_of = group_membership(s, names, level="host")
        guest = any(g.level == "guest" for g in s.protection_groups)
        self.guest_of = group_membership(s, names, level="guest") if guest else {}
        server_of_group = {g.name: g.dpm_server for g in s.protection_groups}
        spec_of: dict[str, VmSpec] = {n: spec for spec in s.vms for n in spec.names()}

        # Each server's VMs (document order) with the bytes it protects of each.
        protected: dict[str, dict[str, int]] = {d.name: {} for d in s.dpm_servers}
        for of, measure in ((self.host_of, _host_bytes), (self.guest_of, _guest_bytes)):
            for vm, group in of.items():
                on = protected[server_of_group[group]]
                on[vm] = on.get(vm, 0) + measure(spec_of[vm])
        totals = [sum(protected[d.name].values()) for d in s.dpm_servers]
        self.template_index = max(range(len(totals)), key=lambda i: (totals[i], -i))
        self.template = s.dpm_servers[self.template_index].name
        self.new_servers = self._new_names(s, servers - len(s.dpm_servers), source)
        self.servers = [self.template, *self.new_servers]

        # Volumes of the template's VMs, in the order of their first VM.
        load = protected[self.template]
        volumes: dict[str, list[str]] = {}
        for vm in names.names:
            if vm in load:
                volumes.setdefault(_volume(spec_of[vm]), []).append(vm)
        size = {v: sum(load[vm] for vm in vms) for v, vms in volumes.items()}
        order = sorted(volumes, key=lambda v: -size[v])  # stable: first VM first on ties
        taken = [0] * len(self.servers)
        self.server_of_vm: dict[str, str] = {}
        for v in order:
            i = min(range(len(self.servers)), key=lambda j: (taken[j], j))
            taken[i] += size[v]
            self.server_of_vm.update((vm, self.servers[i]) for vm in volumes[v])
        self.vm_names = names

    def _new_names(self, s: Scenario, count: int, source: str) -> list[str]:
        used = {n.name for c in s.clusters for n in c.node_list()}
        used |= {c.name for c in s.clusters} | {h.name for h in s.hosts}
        used |= {f.name for f in s.file_servers} | {sh.name for sh in s.smb_shares}
        used |= set(s.switches) | {d.name for d in s.dpm_servers} | {v.name for v in s.vmm_servers}
        new: list[str] = []
        i = 2
        while len(new) < count:
            name = f"{self.template}-{i}"
            i += 1
            if name in used:
                continue
            if name_problem(name):
                raise ScenarioError(
                    [
                        f"{source}: dpm_servers[{self.template_index}].name: scale-out names "
                        f"its copies <name>-2, -3, ...; {name!r} is no name "
                        f"({name_problem(name)})"
                    ],
                    source,
                )
            new.append(name)
        return new


def _add_servers(out: dict[str, Any], plan: _Plan) -> None:
    """Copies of the template server and of its links, appended."""
    template = out["dpm_servers"][plan.template_index]
    links = [link for link in out.get("links") or [] if plan.template in link["between"]]
    new_links = []
    for name in plan.new_servers:
        server = _tree(template)
        server["name"] = name
        out["dpm_servers"].append(server)
        for link in links:
            twin = _tree(link)
            twin["between"] = [name if end == plan.template else end for end in link["between"]]
            new_links.append(twin)
    if new_links:
        out["links"] = [*out.get("links", []), *new_links]


def _split_groups(out: dict[str, Any], s: Scenario, plan: _Plan, source: str) -> None:
    """Each template group on the server(s) its VMs went to (rule 5)."""
    group_names = {g.name for g in s.protection_groups}
    kinds = guest_kinds(s) if plan.guest_of else {}
    groups: list[dict[str, Any]] = []
    for i, (g, g_doc) in enumerate(zip(s.protection_groups, out["protection_groups"], strict=True)):
        if g.dpm_server != plan.template:
            groups.append(g_doc)
            continue
        parts = _member_parts(g, plan)
        if len(parts) <= 1:
            if parts:
                g_doc["dpm_server"] = next(iter(parts))
            groups.append(g_doc)
            continue
        for j, (server, members) in enumerate(parts.items()):
            part = g_doc if j == 0 else _tree(g_doc)
            if j:
                part["name"] = _group_name(g.name, server, group_names, i, source)
            part["dpm_server"] = server
            part["members"] = members
            if g.level == "guest" and g.sync_frequency is None:
                part["sync_frequency"] = f"{sync_frequency_s(g, kinds[g.name]) // 60} min"
            groups.append(part)
    out["protection_groups"] = groups


def _member_parts(g: ProtectionGroup, plan: _Plan) -> dict[str, list[str]]:
    """The members of template group ``g`` on each server that takes some of its VMs
    (in the servers' order): a member whose VMs all go to one server stays as written
    there; one whose VMs are split is replaced by their names. Validation makes the
    members' VMs disjoint (a VM is in one group of a level, once)."""
    of = plan.host_of if g.level == "host" else plan.guest_of
    parts: dict[str, list[str]] = {name: [] for name in plan.servers}
    taking: set[str] = set()
    idle: list[str] = []  # members with no VM of the group (none in a valid scenario)
    for m in g.members:
        vms = [vm for vm in plan.vm_names.matching(m) if of.get(vm) == g.name]
        servers = {plan.server_of_vm[vm] for vm in vms}
        taking |= servers
        if not servers:
            idle.append(m)
        elif len(servers) == 1:
            parts[servers.pop()].append(m)
        else:
            for vm in vms:
                parts[plan.server_of_vm[vm]].append(_WILDCARD.sub(r"[\1]", vm))
    parts = {server: members for server, members in parts.items() if server in taking}
    if idle and parts:
        first = next(iter(parts))
        parts[first] = [*parts[first], *idle]
    return parts


def _group_name(group: str, server: str, taken: set[str], i: int, source: str) -> str:
    base = f"{group}:{server}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    problem = name_problem(name)
    if problem:
        raise ScenarioError(
            [
                f"{source}: protection_groups[{i}].name: scale-out names the group's part on "
                f"{server} {name!r}, which is no name ({problem})"
            ],
            source,
        )
    taken.add(name)
    return name


def _volume(spec: VmSpec) -> str:
    """The volume holding a VM entry's VMs (rule 3)."""
    if spec.csv is not None:
        return f"csv {spec.cluster}/{spec.csv}"
    if spec.host is not None:
        return f"local {spec.host}"
    return f"share {spec.share}"


def _host_bytes(spec: VmSpec) -> int:
    """A VM's disks' bytes in use (means), as loader._check_capacity counts them."""
    return round(
        sum(
            min(d.size.expected(), d.used.expected()) if d.used is not None else d.size.expected()
            for d in spec.disks
        )
    )


def _guest_bytes(spec: VmSpec) -> int:
    """The sizes of a VM's guest data sources."""
    return round(
        sum(g.databases * g.size for g in spec.sql)
        + sum(e.databases * e.size for e in spec.exchange)
        + sum(sp.farms * sp.content_databases * sp.size for sp in spec.sharepoint)
        + sum(f.volumes * f.size for f in spec.files)
    )


def _tree(value: Any) -> Any:
    """A copy of a document sharing no object with it, nor within itself: YAML
    aliases and merge keys share values, which an edit of one place would change in
    every other (copy.deepcopy keeps that sharing)."""
    if isinstance(value, dict):
        return {key: _tree(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_tree(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_tree(v) for v in value)
    return copy.deepcopy(value)
