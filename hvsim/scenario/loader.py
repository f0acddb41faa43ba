"""Reading scenario files: YAML (safe loader) -> pydantic -> cross-reference checks.

Every problem becomes one line ``file: path.to.field: what is wrong (given value)``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
import yaml
from pydantic import ValidationError

from hvsim.scenario.schema import MAX_VMS, Scenario

MAX_FILE_BYTES = 5_000_000
MAX_ALIASES = 1_000


class ScenarioError(Exception):
    """A scenario with mistakes; ``problems`` holds one formatted line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Loader(yaml.SafeLoader):
    """Safe loader that refuses alias bombs (billion laughs) before expanding them."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            self._aliases = getattr(self, "_aliases", 0) + 1
            if self._aliases > MAX_ALIASES:
                event = self.peek_event()
                raise yaml.YAMLError(
                    f"more than {MAX_ALIASES} YAML aliases (line {event.start_mark.line + 1}); "
                    "refusing a document that expands without bound"
                )
        return super().compose_node(parent, index)


def _render_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_yaml(text: str, source: str) -> Any:
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise ScenarioError([f"{source}: (file): larger than {MAX_FILE_BYTES} bytes"])
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        raise ScenarioError([f"{source}: (yaml): {where}: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([f"{source}: (yaml): {exc}"]) from None


def scenario_from_dict(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a parsed document into a Scenario, or raise ScenarioError."""
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}: (top level): expected a mapping of scenario fields"])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            msg = err["msg"].removeprefix("Value error, ")
            given = "" if err["type"] == "missing" else f" ({_short(err.get('input'))})"
            lines.append(f"{source}: {_render_path(err['loc'])}: {msg}{given}")
        raise ScenarioError(lines) from None
    problems = [f"{source}: {p}" for p in check_references(scenario)]
    if problems:
        raise ScenarioError(problems)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: (file): cannot read ({exc.__class__.__name__})"]) from None
    return scenario_from_dict(parse_yaml(text, str(path)), str(path))


def check_references(s: Scenario) -> list[str]:
    """Cross-field checks pydantic cannot see: names, placements, routes."""
    problems: list[str] = []

    def dup(kind: str, names: list[tuple[str, str]]) -> None:
        seen: set[str] = set()
        for path, name in names:
            if name in seen:
                problems.append(f"{path}: duplicate {kind} name ({name!r})")
            seen.add(name)

    clusters = {c.name: c for c in s.clusters}
    hosts = {h.name: h for h in s.hosts}
    shares = {sh.name: sh for sh in s.smb_shares}
    file_servers = {f.name for f in s.file_servers}
    dpms = {d.name for d in s.dpm_servers}
    nodes = {n.name: c.name for c in s.clusters for n in c.node_list()}

    endpoint_names: list[tuple[str, str]] = []
    endpoint_names += [
        (f"clusters[{i}].nodes", n.name) for i, c in enumerate(s.clusters) for n in c.node_list()
    ]
    endpoint_names += [(f"hosts[{i}].name", h.name) for i, h in enumerate(s.hosts)]
    endpoint_names += [(f"file_servers[{i}].name", f.name) for i, f in enumerate(s.file_servers)]
    endpoint_names += [(f"switches[{i}]", n) for i, n in enumerate(s.switches)]
    endpoint_names += [(f"dpm_servers[{i}].name", d.name) for i, d in enumerate(s.dpm_servers)]
    dup("network endpoint", endpoint_names)
    dup("cluster", [(f"clusters[{i}].name", c.name) for i, c in enumerate(s.clusters)])
    dup("share", [(f"smb_shares[{i}].name", sh.name) for i, sh in enumerate(s.smb_shares)])
    dup(
        "protection group",
        [(f"protection_groups[{i}].name", g.name) for i, g in enumerate(s.protection_groups)],
    )
    for i, c in enumerate(s.clusters):
        dup("CSV", [(f"clusters[{i}].csvs[{j}].name", v.name) for j, v in enumerate(c.csvs)])

    for i, sh in enumerate(s.smb_shares):
        for j, fs in enumerate(sh.file_servers):
            if fs not in file_servers:
                problems.append(f"smb_shares[{i}].file_servers[{j}]: unknown file server ({fs!r})")

    total = sum(v.count for v in s.vms)
    if total > MAX_VMS:
        problems.append(f"vms: more than {MAX_VMS} VMs in all ({total})")
        return problems

    vm_names: list[tuple[str, str]] = []
    for i, v in enumerate(s.vms):
        p = f"vms[{i}]"
        if v.csv is not None:
            c = clusters.get(v.cluster or "")
            if c is None:
                problems.append(f"{p}.cluster: unknown cluster ({v.cluster!r})")
            elif v.csv not in {x.name for x in c.csvs}:
                problems.append(f"{p}.csv: no CSV of that name in cluster {c.name} ({v.csv!r})")
            if v.node is not None and nodes.get(v.node) != v.cluster:
                problems.append(f"{p}.node: not a node of cluster {v.cluster} ({v.node!r})")
        if v.host is not None and v.host not in hosts:
            problems.append(f"{p}.host: unknown standalone host ({v.host!r})")
        if v.share is not None:
            if v.share not in shares:
                problems.append(f"{p}.share: unknown SMB share ({v.share!r})")
            if v.smb_host not in hosts and v.smb_host not in nodes:
                problems.append(f"{p}.smb_host: unknown host or node ({v.smb_host!r})")
        for j, w in enumerate(v.vss_writers):
            if w not in s.vss.writers:
                problems.append(
                    f"{p}.vss_writers[{j}]: unknown writer, add it under vss.writers ({w!r})"
                )
        vm_names += [(f"{p}.name", n) for n in v.names()]
        for d, disk in enumerate(v.disks):
            if disk.used is not None and disk.used.is_constant and disk.size.is_constant:
                if disk.used.sample(None) > disk.size.sample(None):  # type: ignore[arg-type]
                    problems.append(
                        f"{p}.disks[{d}].used: larger than the disk's size "
                        f"({disk.used.params[0]:g} bytes)"
                    )
    dup("VM", vm_names)

    all_vms = [n for _, n in vm_names]
    covered: set[str] = set()
    for i, g in enumerate(s.protection_groups):
        if g.dpm_server not in dpms:
            problems.append(
                f"protection_groups[{i}].dpm_server: unknown DPM server ({g.dpm_server!r})"
            )
        for j, m in enumerate(g.members):
            matched = (
                fnmatch.filter(all_vms, m) if _is_pattern(m) else ([m] if m in set(all_vms) else [])
            )
            if not matched:
                problems.append(f"protection_groups[{i}].members[{j}]: names no VM ({m!r})")
            for name in matched:
                if name in covered:
                    problems.append(
                        f"protection_groups[{i}].members[{j}]: VM {name} is already "
                        f"in another protection group ({m!r})"
                    )
                    break
            covered.update(matched)

    problems += _check_network(s, nodes)
    return problems


def _is_pattern(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def _check_network(s: Scenario, nodes: dict[str, str]) -> list[str]:
    problems: list[str] = []
    graph = nx.Graph()
    known = set(nodes) | {h.name for h in s.hosts} | {f.name for f in s.file_servers}
    known |= set(s.switches) | {d.name for d in s.dpm_servers}
    for i, link in enumerate(s.links):
        for j, end in enumerate(link.between):
            if end not in known:
                problems.append(
                    f"links[{i}].between[{j}]: unknown endpoint, declare it as a host, "
                    f"node, file server, switch or DPM server ({end!r})"
                )
        if link.between[0] == link.between[1]:
            problems.append(
                f"links[{i}].between: a link joins two different endpoints ({list(link.between)!r})"
            )
        graph.add_edge(*link.between)
    if problems:
        return problems
    # Every machine a DPM server must read from needs a route to it.
    dpm_of_vm = _dpm_sources(s, nodes)
    for source, dpm in sorted(dpm_of_vm):
        if source not in graph or dpm not in graph or not nx.has_path(graph, source, dpm):
            problems.append(
                f"links: no network route from {source} to DPM server {dpm} ({source!r})"
            )
    return problems


def _dpm_sources(s: Scenario, nodes: dict[str, str]) -> set[tuple[str, str]]:
    """(machine, DPM server) pairs that backup traffic must cross."""
    names_to_spec = {}
    for v in s.vms:
        for n in v.names():
            names_to_spec[n] = v
    shares = {sh.name: sh for sh in s.smb_shares}
    clusters = {c.name: c for c in s.clusters}
    pairs: set[tuple[str, str]] = set()
    for g in s.protection_groups:
        specs = {
            id(names_to_spec[n]): names_to_spec[n]
            for m in g.members
            for n in (fnmatch.filter(list(names_to_spec), m) if _is_pattern(m) else [m])
            if n in names_to_spec
        }
        for v in specs.values():
            if v.host is not None:
                pairs.add((v.host, g.dpm_server))
            elif v.share is not None and v.share in shares:
                pairs.update((fs, g.dpm_server) for fs in shares[v.share].file_servers)
            elif v.cluster in clusters:
                cands = [v.node] if v.node else [n.name for n in clusters[v.cluster].node_list()]
                pairs.update((n, g.dpm_server) for n in cands)
    return pairs
