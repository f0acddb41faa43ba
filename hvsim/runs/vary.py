"""The ``--vary`` grammar: ``path.to.field=v1,v2,...``, a field of the scenario
document (keys, and list items by index or by name: ``dpm_servers[0]`` or
``dpm_servers[dpm01]``, the item whose ``name`` is dpm01) and the values it takes,
written as a scenario file would hold them."""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hvsim.scenario.loader import ScenarioError, parse_yaml


@dataclass(frozen=True)
class Named:
    """A list item picked by its ``name`` (``clusters[prod]``)."""

    name: str

    def __str__(self) -> str:
        return self.name


Step = str | int | Named


@dataclass(frozen=True)
class Vary:
    """One ``--vary path.to.field=v1,v2,...``: the path (as written), its steps (keys,
    list indices and names), the values as written (``labels``) and as set in the
    document."""

    path: str
    steps: tuple[Step, ...]
    labels: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def column(self) -> str:
        return self.path

    def table_values(self) -> tuple[Any, ...]:
        """Numbers stay numbers in the table (and on plot axes); anything else is
        shown as written, e.g. '10 Gbps'."""
        numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in self.values)
        return self.values if numeric else self.labels


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_INDEX = re.compile(r"\[(\d+)\]")
# A list item by name: a VM, cluster, CSV, server or group name (no brackets, no '=').
_BY_NAME = re.compile(r"\[([^\[\]=,]+)\]")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def parse_path(path: str, source: str = "--vary") -> tuple[Step, ...]:
    """``dpm_servers[0].pool.write`` -> ('dpm_servers', 0, 'pool', 'write');
    ``clusters[prod].csvs[csv1]`` -> ('clusters', Named('prod'), 'csvs', Named('csv1'))."""
    steps: list[Step] = []
    pos = 0
    while True:
        m = _NAME.match(path, pos)
        if not m:
            raise ScenarioError(
                [f"{source}: {path or '(empty)'}: expected a field path like links[2].bandwidth"]
            )
        steps.append(m.group(0))
        pos = m.end()
        while (m := _INDEX.match(path, pos) or _BY_NAME.match(path, pos)) is not None:
            text = m.group(1)
            steps.append(int(text) if text.isdigit() else Named(text.strip()))
            pos = m.end()
        if pos == len(path):
            return tuple(steps)
        if path[pos] != ".":
            raise ScenarioError(
                [f"{source}: {path}: expected a field path like links[2].bandwidth ({path})"]
            )
        pos += 1


def render_path(steps: Sequence[Step]) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int | Named) else ("." if out else "") + s
    return out or "(top level)"


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets and quotes: ``[a, b],[c]`` is two values."""
    parts, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    parts.append(cur.strip())
    return parts


def parse_value(text: str, source: str = "--vary") -> Any:
    """A value as a scenario file would hold it. Plain words stay text ('10 Gbps',
    '22:00', 'hardware'); integers, decimals, true/false and null are converted;
    a value in brackets, braces or quotes is read as YAML (e.g. ["22:00", "02:00"])."""
    if text[:1] in "[{\"'":
        return parse_yaml(text, source)
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none", "~"):
        return None
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def parse_vary(text: str, source: str = "--vary") -> Vary:
    """``path.to.field=v1,v2,...`` -> Vary; mistakes raise ScenarioError lines."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ScenarioError([f"{source}: --vary: expected path.to.field=v1,v2,... ({text})"])
    steps = parse_path(path, source)
    labels = _split_values(rest)
    if not rest.strip() or any(label == "" for label in labels):
        raise ScenarioError([f"{source}: {path}: expected values like v1,v2,... ({rest})"])
    if len(set(labels)) != len(labels):
        raise ScenarioError([f"{source}: {path}: the same value is given twice ({rest})"])
    values = tuple(parse_value(label, source) for label in labels)
    return Vary(render_path(steps), steps, tuple(labels), values)


def set_path(doc: Any, steps: Sequence[Step], value: Any, source: str = "--vary") -> None:
    """Set ``value`` at ``steps`` in the document. Missing mappings on the way are
    created (the schema then rejects unknown fields); list items must exist (by
    index, or by name: the item whose ``name`` is that)."""
    path = render_path(steps)
    node = doc
    for depth, step in enumerate(steps):
        here = render_path(steps[:depth])
        last = depth == len(steps) - 1
        if isinstance(step, Named):
            step = _index_of(node, step, steps[: depth + 1], path, source)
        if isinstance(step, int):
            if not isinstance(node, list):
                raise ScenarioError(
                    [f"{source}: {here}: is not a list, cannot take item [{step}] ({path})"]
                )
            if step >= len(node):
                raise ScenarioError(
                    [
                        f"{source}: {render_path(steps[: depth + 1])}: no such item, "
                        f"{here} has {len(node)} ({path})"
                    ]
                )
        elif not isinstance(node, dict):
            raise ScenarioError(
                [f"{source}: {here}: is not a mapping, cannot take field {step!r} ({path})"]
            )
        if last:
            node[step] = value
            return
        if isinstance(node, dict) and node.get(step) is None:
            if isinstance(steps[depth + 1], int | Named):
                raise ScenarioError(
                    [
                        f"{source}: {render_path(steps[: depth + 1])}: not in the scenario, "
                        f"cannot take item [{steps[depth + 1]}] ({path})"
                    ]
                )
            node[step] = {}
        node = node[step]


def get_path(doc: Any, steps: Sequence[Step]) -> Any:
    """The value at ``steps`` in the document; KeyError when it has none there."""
    node = doc
    for step in steps:
        if isinstance(step, Named):
            names = [i for i, item in enumerate(node or []) if _name(item) == step.name]
            if not isinstance(node, list) or not names:
                raise KeyError(step.name)
            step = names[0]
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            raise KeyError(step) from None
    return node


def resolved_path(doc: Any, steps: Sequence[Step]) -> str:
    """The path of ``steps`` with each name replaced by its item's index in ``doc``
    (where the document has it): two spellings of one field give the same path."""
    out: list[Step] = []
    node = doc
    for step in steps:
        if isinstance(step, Named) and isinstance(node, list):
            names = [_name(item) for item in node]
            step = names.index(step.name) if step.name in names else step
        out.append(step)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            node = None
    return render_path(out)


def _name(item: Any) -> Any:
    return item.get("name") if isinstance(item, dict) else None


def _index_of(node: Any, step: Named, upto: Sequence[Step], path: str, source: str) -> int:
    """The index of the item of the list ``node`` named ``step``."""
    here = render_path(upto[:-1])
    if not isinstance(node, list):
        raise ScenarioError(
            [f"{source}: {here}: is not a list, cannot take item [{step}] ({path})"]
        )
    names = [_name(item) for item in node]
    if step.name in names:
        return names.index(step.name)
    known = ", ".join(str(n) for n in names if n is not None) or "none"
    raise ScenarioError(
        [f"{source}: {render_path(upto)}: no item named {step.name} in {here} ({known})"]
    )
