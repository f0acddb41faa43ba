"""Reading scenario files: YAML (safe loader) -> pydantic -> cross-reference checks.

Every problem becomes one line ``file:LINE:COLUMN: path.to.field: what is wrong (given
value)``, where LINE and COLUMN say where the path is written in the file (a missing
field: its parent); a document not read from a file (a dict from Python) has
``<scenario>: path.to.field: ...``.
"""

from __future__ import annotations

import datetime as dt
import re
import reprlib
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
import yaml
from pydantic import ValidationError

from hvsim.scenario.distributions import ParameterError
from hvsim.scenario.guest import check_guest_groups, check_guest_vms, check_host_groups
from hvsim.scenario.locate import (
    Locator,
    did_you_mean,
    field_names,
    parse_problem_path,
    quote_hint,
)
from hvsim.scenario.mobility_refs import check_mobility_references
from hvsim.scenario.patterns import VmNames
from hvsim.scenario.restore_refs import check_restore_references
from hvsim.scenario.schema import (
    MAX_GUEST_SOURCES,
    MAX_ON_DEMAND_JOBS,
    MAX_VMS,
    Scenario,
    VmSpec,
)
from hvsim.scenario.units import format_size

MAX_FILE_BYTES = 5_000_000
MAX_ALIASES = 1_000
# Values a document may gain by expanding its aliases. A billion-laughs document has
# few aliases but expands exponentially, so the composed graph is measured before
# anything (constructor, pydantic, error messages) walks it as a tree.
MAX_ALIAS_EXPANSION = 100_000
# Nesting of sequences and mappings. A scenario needs about 8 levels; composing is
# recursive, so 10,000 nested brackets (a 20 kB file) overflowed Python's stack.
MAX_DEPTH = 100
# YAML nodes (scalars, sequences, mappings; a key and its value are two) a document
# may hold. Bytes alone do not bound the work: a 4.9 MB flow list of 2.4 million
# one-letter items was still being read after 150 s at 3.2 GB, and 200,000 unknown
# keys took 33 s. The bulk forms keep real estates small (100,000 VMs from one entry
# with count, members by pattern, distributions for sizes): the largest shipped example
# has under 300 nodes. The most a real scenario lists one by one is migration events:
# 10,000 of them are 110,000 nodes (a mapping of five keys and values each). 250,000
# leaves room beside them for some thousands of VMs listed one by one, and is read
# (or refused) in about 2 s.
MAX_NODES = 250_000
# Problem lines a ScenarioError keeps: a few dozen say what is wrong; 200,000 lines
# for 200,000 unknown keys only bury it. The rest are counted in one closing line.
MAX_PROBLEM_LINES = 40


class ScenarioError(Exception):
    """A scenario with mistakes; ``problems`` holds one formatted line per problem,
    at most MAX_PROBLEM_LINES of them and then a line saying how many more there
    are (``count`` is the number of problems in all)."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.count = len(problems)
        if len(problems) > MAX_PROBLEM_LINES:
            more = len(problems) - MAX_PROBLEM_LINES
            head = f"{source}: " if source is not None else ""
            problems = [
                *problems[:MAX_PROBLEM_LINES],
                f"{head}(more): ... and {more:,} more problems",
            ]
        super().__init__("\n".join(problems))
        self.problems = problems


if yaml.__with_libyaml__:
    # libyaml's event parser, when PyYAML has it: about 20 times faster than Python's.
    from yaml._yaml import CParser as _CParser

    class _SafeBase(
        yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver, _CParser
    ):
        """libyaml reads events; composing stays in Python (below), where nodes are
        counted and refused as they come, before the rest of the document is read.
        (yaml.CSafeLoader composes in C, where nothing can be counted.)"""

        def __init__(self, stream: str):
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml
    # The same base in pure Python (mypy reads the class above as the type).
    _SafeBase = yaml.SafeLoader  # type: ignore[misc,assignment]


class _Loader(_SafeBase):
    """Safe loader that refuses alias bombs (billion laughs) before expanding them,
    documents of more than MAX_NODES nodes or MAX_DEPTH levels as they are read, and
    duplicate keys in a mapping (the first value would be silently lost)."""

    def _next_mark(self) -> Any:
        """Where the next event starts: a yaml.Mark, or libyaml's of the same fields
        (compose_node is called only with a node's event ahead)."""
        event = self.peek_event()
        return event.start_mark if event is not None else None

    def compose_node(self, parent, index):
        self._nodes = getattr(self, "_nodes", 0) + 1
        if self._nodes > MAX_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"more than {MAX_NODES:,} values (YAML nodes), more than a scenario needs: "
                "give many VMs by count and a name pattern, not one by one",
                self._next_mark(),
            )
        if self.check_event(yaml.AliasEvent):
            self._aliases = getattr(self, "_aliases", 0) + 1
            if self._aliases > MAX_ALIASES:
                raise yaml.YAMLError(
                    f"more than {MAX_ALIASES} YAML aliases (line {self._next_mark().line + 1}); "
                    "refusing a document that expands without bound"
                )
        depth = getattr(self, "_depth", 0) + 1
        if depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"values nested more than {MAX_DEPTH} deep",
                self._next_mark(),
            )
        self._depth = depth
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth - 1

    def compose_document(self):
        node = super().compose_document()
        _check_expansion(node)
        return node

    def construct_object(self, node, deep=False):
        # The safe constructors of scalars raise plain Python errors (ValueError,
        # KeyError, IndexError, OverflowError, AttributeError) on text their resolver
        # accepted or a tag forced: 2026-02-30 (a date), a 5,000-digit integer, a
        # 300-part sexagesimal float, !!bool maybe, an empty !!float or !!timestamp.
        # Give them the node's line instead.
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            kind = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, _scalar_problem(kind, node.value, exc), node.start_mark
            ) from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' merges may be overridden on purpose
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # unhashable: the base class reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"duplicate key {key!r}",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


def _scalar_problem(kind: str, value: object, exc: Exception) -> str:
    given = _short(value)
    if kind == "int":
        return f"cannot read {given} as an integer (too many digits or not a number)"
    if kind == "float":
        return f"cannot read {given} as a number (too large or not a number)"
    if kind == "bool":
        return f"cannot read {given} as true or false"
    if kind == "timestamp":
        return f"not a valid date or time {given} ({_one_line(str(exc))[:80]})"
    return f"cannot read {given} as {kind} ({_one_line(str(exc))[:80]})"


def _check_expansion(root: yaml.Node | None) -> None:
    """Refuse a composed document whose aliases expand it by more than
    MAX_ALIAS_EXPANSION values, or that contains itself (a recursive alias)."""
    if root is None:
        return
    size: dict[int, int] = {}
    distinct = 0
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            if size[key] - distinct > MAX_ALIAS_EXPANSION:
                raise yaml.YAMLError(
                    f"aliases expand the document by more than {MAX_ALIAS_EXPANSION} values "
                    f"(line {node.start_mark.line + 1}); refusing a document that expands "
                    "without bound"
                )
            continue
        if key in size:
            continue
        if key in on_path:
            raise yaml.YAMLError(
                f"recursive alias (line {node.start_mark.line + 1}): a value contains itself"
            )
        distinct += 1
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


# Keys written as they are in a problem line's path; any other key is quoted, so a key
# with a dot or brackets ('a.b') cannot read as a path of two steps.
_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_\-{}:*?]+$")


def _render_path(loc: Iterable[Any], document: Any = None, missing: bool = False) -> str:
    """The place in ``document`` that a pydantic error location points at.

    A location also holds steps that are no place in the file: the member a union
    tried (``nodes.int``, ``nodes.'list[union[constrained-str,ClusterNode]]'``) or
    ``[key]`` for a bad mapping key. Steps are followed through the document and
    those it does not have are left out; only a missing field's own name (the last
    step of a ``missing`` error) is kept."""
    return _render_steps(_path_steps(loc, document, missing))


def _path_steps(
    loc: Iterable[Any], document: Any = None, missing: bool = False
) -> list[tuple[bool, Any]]:
    """The steps of ``loc`` that ``document`` has, as (is a list index, index or key
    as the document holds it), and a ``missing`` field's name last (see _render_path)."""
    out: list[tuple[bool, Any]] = []
    node = document
    steps = list(loc)
    for k, part in enumerate(steps):
        if isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
            out.append((True, part))
            node = node[part]
        elif isinstance(node, dict) and (key := _key_in(node, part)) is not _ABSENT:
            out.append((False, key))
            node = node[key]
        elif missing and k == len(steps) - 1 and isinstance(node, dict):
            out.append((False, part))
    return out


def _render_steps(steps: Iterable[tuple[bool, Any]]) -> str:
    out = ""
    for is_index, step in steps:
        out += f"[{step}]" if is_index else _key_text(step, out)
    return out or "(top level)"


_ABSENT = object()


def _key_in(mapping: dict, part: Any) -> Any:
    """The key of ``mapping`` that a location step names; pydantic writes a key that
    is neither text nor an integer (None, a date, a tuple) as its str()."""
    if part in mapping:
        return part
    for key in mapping:
        if not isinstance(key, str | int) and str(key) == part:
            return key
    return _ABSENT


def _key_text(key: Any, before: str) -> str:
    dot = "." if before else ""
    if isinstance(key, str) and _SIMPLE_KEY.match(key):
        return dot + key
    if key is None or isinstance(key, bool):
        # As YAML spells them (an empty key, ~ or null is None): "None" would read as
        # a key of that name.
        return dot + {None: "null", True: "true", False: "false"}[key]
    return dot + repr(key)  # a key with spaces, newlines, odd characters or not text


class _Repr(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        # repr() refuses ints of more than 4,300 digits (ValueError); a given value
        # may be one when a scenario is built in Python.
        if x.bit_length() > 4000:
            return f"<integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)

    def repr_date(self, x: dt.date, level: int) -> str:  # as YAML writes it: 2026-01-05
        return x.isoformat()

    def repr_datetime(self, x: dt.datetime, level: int) -> str:
        return x.isoformat(sep=" ")

    def repr_dict(self, x: dict, level: int) -> str:  # keep the file's key order
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [
            f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
            for k, v in list(x.items())[: self.maxdict]
        ]
        more = ", ..." if len(x) > self.maxdict else ""
        return "{" + ", ".join(items) + more + "}"


_REPR = _Repr()
_REPR.maxlevel = 4
_REPR.maxdict = 6
_REPR.maxlist = 10
_REPR.maxtuple = 10
_REPR.maxset = 6
_REPR.maxstring = 78
_REPR.maxother = 78
_REPR.maxlong = 40


def _short(value: Any) -> str:
    # reprlib bounds the work: a given value may be huge (a 100,000-item list).
    text = _REPR.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line(text: str) -> str:
    """Keep the one-line-per-problem promise whatever the message holds."""
    return " ".join(text.splitlines())


def parse_yaml(text: str, source: str) -> Any:
    return parse_yaml_nodes(text, source)[0]


def parse_yaml_nodes(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """The document of ``text`` and its composed node tree (where each value is
    written: ``Locator``), or ScenarioError."""
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise ScenarioError([f"{source}: (file): larger than {MAX_FILE_BYTES} bytes"])
    try:
        # yaml.load(text, Loader=_Loader), whose stubs name PyYAML's own loaders only.
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            return (loader.construct_document(node) if node is not None else None), node
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        context = ""
        if exc.context and exc.context_mark and mark and exc.context_mark.line != mark.line:
            context = f" ({exc.context} at line {exc.context_mark.line + 1})"
        problem = exc.problem or exc
        if problem == "exceeded maximum nesting depth":
            # libyaml's own limit (1000 levels): its scanner reads ahead of the
            # composer while a '[' may still start a key, so it can stop first.
            problem = f"values nested more than {MAX_DEPTH} deep"
        message = f"{source}: (yaml): {where}: {problem}{context}"
        raise ScenarioError([_one_line(message)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([_one_line(f"{source}: (yaml): {exc}")]) from None
    except UnicodeEncodeError as exc:  # a lone surrogate, given from Python
        raise ScenarioError(
            [f"{source}: (yaml): position {exc.start}: not a character (a lone surrogate)"]
        ) from None


def scenario_from_dict(
    data: Any, source: str = "<scenario>", nodes: yaml.Node | None = None
) -> Scenario:
    """Validate a parsed document into a Scenario, or raise ScenarioError. With the
    document's composed ``nodes`` (a file: parse_yaml_nodes), each problem line says
    where its path is written: ``file:LINE:COLUMN: path: message``."""
    where = Locator(nodes)
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}: (top level): expected a mapping of scenario fields"])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        # One line per place and given value: the members of a union each report
        # the same value (a node count that is neither a number nor a list).
        merged: dict[tuple[str, str], list[str]] = {}
        marks: dict[str, str] = {}
        suggested = 0
        for err in exc.errors(include_url=False):
            msg = err["msg"].removeprefix("Value error, ")
            missing = err["type"] == "missing"
            loc, value = err["loc"], err.get("input")
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, ParameterError) and cause.at:
                # A distribution's parameter: its own place and value.
                loc, value = (*loc, *cause.at), cause.given
            given = "" if missing else f" ({_short(value)})"
            if err["type"] == "extra_forbidden":
                # The unknown key's value says little; a close field name says more
                # (looked for in the first lines only: 200,000 unknown keys).
                msg, given = "unknown field", ""
                suggested += 1
                if suggested <= MAX_PROBLEM_LINES:
                    near = did_you_mean(loc[-1], field_names(Scenario, loc[:-1]))
                    msg += f" (did you mean {near}?)" if near else ""
            elif err["type"] == "literal_error" and (hint := quote_hint(Scenario, loc, value)):
                msg += f"; {hint}"
            steps = _path_steps(loc, data, missing)
            path = _render_steps(steps)
            marks.setdefault(path, _at(source, where, [step for _, step in steps]))
            messages = merged.setdefault((path, given), [])
            if msg not in messages:
                messages.append(msg)
        lines = [
            _one_line(f"{marks[path]}: {path}: {'; '.join(messages)}{given}")
            for (path, given), messages in merged.items()
        ]
        raise ScenarioError(lines, source) from None
    problems = [_one_line(_problem_at(source, where, p)) for p in check_references(scenario)]
    if problems:
        raise ScenarioError(problems, source)
    return scenario


def _at(source: str, where: Locator, steps: list[Any]) -> str:
    """``source`` with the line and column of ``steps`` when the document is a file."""
    mark = where.mark(steps)
    return source if mark is None else f"{source}:{mark[0]}:{mark[1]}"


def _problem_at(source: str, where: Locator, problem: str) -> str:
    """``path: message`` of a reference check as a problem line of ``source``."""
    path = problem.split(": ", 1)[0]
    return f"{_at(source, where, parse_problem_path(path))}: {problem}"


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        # Read at most one byte past the limit: a huge file (or /dev/zero) is refused
        # without being read into memory first.
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ScenarioError([f"{path}: (file): larger than {MAX_FILE_BYTES} bytes"])
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: (file): cannot read ({exc.__class__.__name__})"]) from None
    data, nodes = parse_yaml_nodes(text, str(path))
    return scenario_from_dict(data, str(path), nodes)


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

    per_hour = sum(o.per_hour for o in s.on_demand)
    expected = per_hour * 24 * s.horizon_days
    if expected > MAX_ON_DEMAND_JOBS:
        problems.append(
            f"on_demand: about {expected:,.0f} on-demand jobs in the run (per_hour x 24 x "
            f"horizon_days), more than {MAX_ON_DEMAND_JOBS:,}: lower per_hour or horizon_days "
            f"({per_hour:g} per hour in all over {s.horizon_days:g} days)"
        )

    total = sum(v.count for v in s.vms)
    if total > MAX_VMS:
        problems.append(f"vms: more than {MAX_VMS} VMs in all ({total})")
        return problems

    csv_cluster = {x.name: c.name for c in s.clusters for x in c.csvs}
    names_of: list[list[str]] = []
    names_failed = False
    vm_names: list[tuple[str, str]] = []
    for i, v in enumerate(s.vms):
        p = f"vms[{i}]"
        try:
            names_of.append(_expand_names(v))
        except ValueError as exc:
            problems.append(f"{p}.name: {exc} ({v.name!r})")
            names_of.append([])
            names_failed = True
        if v.csv is not None:
            cluster = clusters.get(v.cluster or "")
            if cluster is None:
                problems.append(f"{p}.cluster: unknown cluster ({v.cluster!r})")
            elif v.csv not in {x.name for x in cluster.csvs}:
                elsewhere = csv_cluster.get(v.csv)
                where = f"; it belongs to cluster {elsewhere}" if elsewhere else ""
                problems.append(
                    f"{p}.csv: no CSV of that name in cluster {cluster.name}{where} ({v.csv!r})"
                )
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
        vm_names += [(f"{p}.name", n) for n in names_of[i]]
        problems += _check_protection_start(v, p, s.start_date)
        for d, disk in enumerate(v.disks):
            if disk.used is not None and disk.used.is_constant and disk.size.is_constant:
                # A constant draws no random number, so it needs no generator.
                if disk.used.sample(None) > disk.size.sample(None):  # type: ignore[arg-type]
                    problems.append(
                        f"{p}.disks[{d}].used: larger than the disk's size "
                        f"({disk.used.params[0]:g} bytes)"
                    )
    dup("VM", vm_names)
    problems += _check_capacity(s)

    all_vms = VmNames(n for _, n in vm_names)
    covered: set[str] = set()
    guest_level = any(v.protection != "host" for v in s.vms) or any(
        g.level != "host" for g in s.protection_groups
    )
    protection_of = (
        {n: v.protection for v, names in zip(s.vms, names_of, strict=True) for n in names}
        if guest_level
        else {}
    )
    guest_total = sum(v.count * v.guest_sources() for v in s.vms)
    if guest_total > MAX_GUEST_SOURCES:
        problems.append(
            f"vms: more than {MAX_GUEST_SOURCES:,} guest data sources in all ({guest_total:,})"
        )
        return problems
    for i, g in enumerate(s.protection_groups):
        if g.dpm_server not in dpms:
            problems.append(
                f"protection_groups[{i}].dpm_server: unknown DPM server ({g.dpm_server!r})"
            )
        problems += _check_long_term(s, i)
        for j, m in enumerate(g.members):
            matched = all_vms.matching(m)
            if not matched and not names_failed:  # else the name problem says it all
                problems.append(f"protection_groups[{i}].members[{j}]: names no VM ({m!r})")
            if g.level != "host":
                continue  # guest-level groups: check_guest_vms
            if guest_level:
                matched = [n for n in matched if protection_of[n] != "guest"]
            for name in matched:
                if name in covered:
                    problems.append(
                        f"protection_groups[{i}].members[{j}]: VM {name} is already "
                        f"in another protection group ({m!r})"
                    )
                    break
            covered.update(matched)

    if guest_level and not names_failed:
        problems += check_guest_vms(s, all_vms)
        problems += check_guest_groups(s)
    problems += _check_online(s)
    problems += check_host_groups(s)
    problems += _check_network(s, nodes, names_of, all_vms)
    problems += check_mobility_references(s, all_vms)
    problems += check_restore_references(s, all_vms)
    return problems


def _check_long_term(s: Scenario, i: int) -> list[str]:
    """A group's long-term tape protection needs a tape library on its DPM server, and
    allocates at most the library's drives (Set-DPMTapeBackupOption -DrivesAllocated)."""
    g = s.protection_groups[i]
    lt = g.long_term
    server = next((d for d in s.dpm_servers if d.name == g.dpm_server), None)
    if lt is None or server is None:
        return []
    lib = server.tape_library
    if lib is None:
        return [
            f"protection_groups[{i}].long_term: DPM server {server.name} has no tape_library "
            "(give dpm_servers[].tape_library)"
        ]
    if lt.drives_allocated > lib.drives:
        return [
            f"protection_groups[{i}].long_term.drives_allocated: more drives than the tape "
            f"library of {server.name} has ({lt.drives_allocated} > {lib.drives})"
        ]
    return []


def _check_online(s: Scenario) -> list[str]:
    """A group protected online needs its DPM server's uplink (dpm_servers[].online)."""
    uplinks = {d.name: d.online is not None for d in s.dpm_servers}
    return [
        f"protection_groups[{i}].online: DPM server {g.dpm_server} has no online uplink "
        f"(give dpm_servers[{[d.name for d in s.dpm_servers].index(g.dpm_server)}].online)"
        for i, g in enumerate(s.protection_groups)
        if g.online is not None and uplinks.get(g.dpm_server) is False
    ]


def _check_capacity(s: Scenario) -> list[str]:
    """Each CSV, standalone host's local storage and SMB share holds what is placed on
    it: every VM's disks in use and its saved-state file (.bin), which Hyper-V reserves
    equal to the VM's memory (source: saved-state). A distribution counts with its mean (an
    'expected' need); a disk's use is the mean of ``used`` or, if larger, of ``size``
    (the model draws min(size, used), whose mean is at most this)."""
    volumes: dict[tuple[str, str], tuple[str, float]] = {}  # (kind, name) -> (path, bytes)
    for i, c in enumerate(s.clusters):
        for j, csv in enumerate(c.csvs):
            volumes[("csv", f"{c.name}/{csv.name}")] = (
                f"clusters[{i}].csvs[{j}].capacity",
                csv.capacity,
            )
    for i, h in enumerate(s.hosts):
        volumes[("local", h.name)] = (f"hosts[{i}].storage.capacity", h.storage.capacity)
    for i, sh in enumerate(s.smb_shares):
        volumes[("smb", sh.name)] = (f"smb_shares[{i}].capacity", sh.capacity)
    need: dict[tuple[str, str], list] = {}  # -> [VMs, bytes, any distribution]
    for v in s.vms:
        if v.csv is not None:
            key = ("csv", f"{v.cluster}/{v.csv}")
        elif v.host is not None:
            key = ("local", v.host)
        else:
            key = ("smb", v.share or "")
        if key not in volumes:
            continue  # an unknown place: reported where it is named
        fields = [v.memory, *(d.size for d in v.disks), *(d.used for d in v.disks if d.used)]
        per_vm = v.memory.expected() + sum(
            min(d.size.expected(), d.used.expected()) if d.used is not None else d.size.expected()
            for d in v.disks
        )
        entry = need.setdefault(key, [0, 0.0, False])
        entry[0] += v.count
        entry[1] += v.count * per_vm
        entry[2] = entry[2] or not all(f.is_constant for f in fields)
    problems = []
    for key, (count, total, expected) in need.items():
        path, capacity = volumes[key]
        if total > capacity:
            vms = "1 VM needs" if count == 1 else f"{count:,} VMs need"
            problems.append(
                f"{path}: {vms} {'an expected ' if expected else ''}{format_size(total)} "
                f"(disks in use + saved-state files), more than the {format_size(capacity)} "
                "capacity"
            )
    return problems


_VM_NAME = re.compile(r"^[A-Za-z0-9_.\-:*?\[\]]{1,200}$")


def _check_protection_start(v: VmSpec, p: str, start_date: dt.date) -> list[str]:
    """A VM's protection starts on start_date or later (a date before the run has no
    day in it)."""
    for field, value in (
        ("protect_from", v.protect_from),
        ("onboarding.start", v.onboarding.start if v.onboarding is not None else None),
    ):
        if isinstance(value, dt.date) and value < start_date:
            return [
                f"{p}.{field}: before start_date {start_date.isoformat()}; protection starts "
                f"on start_date or later ({value.isoformat()})"
            ]
    return []


def _expand_names(v: VmSpec) -> list[str]:
    """The VM names of one entry; ValueError if its pattern cannot make valid names."""
    if v.count == 1 and "{i" not in v.name:
        return v.names()
    bad = "the name pattern takes only {i} or {i:FORMAT}, e.g. 'app-{i:03d}'"
    try:
        fields = list(string.Formatter().parse(v.name))
    except ValueError:
        raise ValueError(bad) from None
    for _, field, spec, conversion in fields:
        if field is None:
            continue
        if field != "i" or conversion is not None:
            raise ValueError(bad)
        if any(len(run) > 3 for run in re.findall(r"\d+", spec or "")):
            raise ValueError("the name pattern asks for a field wider than 999 characters")
    try:
        # The first and the last name first (names grow with {i}): 100,000 names
        # of 999 characters would take 100 MB only to be refused.
        ends = [v.name.format(i=i) for i in (v.first_index, v.first_index + v.count - 1)]
        names = ends if not all(map(_is_vm_name, ends)) else v.names()
    except (ValueError, LookupError, AttributeError, TypeError) as exc:
        raise ValueError(f"cannot expand the name pattern ({_one_line(str(exc))[:100]})") from None
    for n in names:
        if not _is_vm_name(n):
            raise ValueError(
                f"the name pattern makes {_short(n)}, not a VM name: a VM name is 1 to 200 "
                "letters, digits or the characters _ . - : * ? [ ], and not only dots"
            )
    return names


def _is_vm_name(name: str) -> bool:
    # '{i:c}' formats a number as a character: 46 is '.', 47 '/'.
    return bool(_VM_NAME.match(name)) and name.strip(".") != ""


def _check_network(
    s: Scenario, nodes: dict[str, str], names_of: list[list[str]], all_vms: VmNames
) -> list[str]:
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
    # Every machine a DPM server must read from needs a route to it. Unknown machines
    # and DPM servers are reported where they are named, not again here.
    machines = set(nodes) | {h.name for h in s.hosts} | {f.name for f in s.file_servers}
    dpms = {d.name for d in s.dpm_servers}
    dpm_of_vm = _dpm_sources(s, names_of, all_vms)
    for source, dpm in sorted(dpm_of_vm):
        if source not in machines or dpm not in dpms:
            continue
        if source not in graph or dpm not in graph or not nx.has_path(graph, source, dpm):
            problems.append(
                f"links: no network route from {source} to DPM server {dpm} ({source!r})"
            )
    return problems


def _dpm_sources(s: Scenario, names_of: list[list[str]], all_vms: VmNames) -> set[tuple[str, str]]:
    """(machine, DPM server) pairs that backup traffic must cross."""
    names_to_spec = {}
    for v, names in zip(s.vms, names_of, strict=True):
        for n in names:
            names_to_spec[n] = v
    shares = {sh.name: sh for sh in s.smb_shares}
    clusters = {c.name: c for c in s.clusters}
    pairs: set[tuple[str, str]] = set()
    for g in s.protection_groups:
        fits = ("host", "both") if g.level == "host" else ("guest", "both")
        specs = {
            id(names_to_spec[n]): names_to_spec[n]
            for m in g.members
            for n in all_vms.matching(m)
            if n in names_to_spec and names_to_spec[n].protection in fits
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
