"""Friendlier problem lines: where in the YAML file a path is written (line and
column from the composed node tree), "did you mean" for an unknown key, and the hint
to quote a number that YAML read where the schema wants text such as "2012"."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel

Step = str | int | Any  # a mapping key (any YAML key) or a list index


class Locator:
    """Where paths are written in one composed document ``root``."""

    def __init__(self, root: yaml.Node | None):
        self.root = root
        self._keys: dict[int, dict[Any, tuple[yaml.Node, yaml.Node]]] = {}
        self._constructor = yaml.constructor.SafeConstructor()

    def mark(self, steps: Sequence[Step]) -> tuple[int, int] | None:
        """(line, column), both from 1, where ``steps`` is written: the key of a
        field, the start of a list item. A step the document does not have (a missing
        field) stops the walk at its nearest existing parent (the key of a mapping,
        the start of a list item or of the document)."""
        if self.root is None:
            return None
        node: yaml.Node = self.root
        mark = node.start_mark
        for step in steps:
            if (
                isinstance(node, yaml.SequenceNode)
                and isinstance(step, int)
                and not isinstance(step, bool)
                and 0 <= step < len(node.value)
            ):
                node = node.value[step]
                mark = node.start_mark
            elif isinstance(node, yaml.MappingNode) and (pair := self._pair(node, step)):
                mark = pair[0].start_mark
                node = pair[1]
            else:
                break
        return mark.line + 1, mark.column + 1

    def _pair(self, node: yaml.MappingNode, key: Step) -> tuple[yaml.Node, yaml.Node] | None:
        """The (key node, value node) of ``key``: the last one written (a '<<' merge
        puts the merged keys first, so the mapping's own key wins as in the data)."""
        pairs = self._keys.get(id(node))
        if pairs is None:
            pairs = {}
            for key_node, value_node in node.value:
                value = self._key_value(key_node)
                try:
                    pairs[(type(value), value)] = (key_node, value_node)
                except TypeError:
                    continue  # an unhashable key: reported elsewhere
            self._keys[id(node)] = pairs
        try:
            return pairs.get((type(key), key))
        except TypeError:
            return None

    def _key_value(self, key_node: yaml.Node) -> Any:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:str":
            return key_node.value
        try:
            return self._constructor.construct_object(key_node, deep=True)
        except Exception:  # an unreadable key: reported elsewhere
            return None


_STEP = re.compile(r"(?:^|\.)([A-Za-z0-9_\-]+)|\[(\d+)\]")


def parse_problem_path(path: str) -> list[Step]:
    """The steps of a problem line's path (``vms[0].disks[1].used`` -> vms, 0, disks, 1,
    used), as far as it reads as simple keys and indices."""
    steps: list[Step] = []
    pos = 0
    while pos < len(path) and (m := _STEP.match(path, pos)) is not None and m.end() > pos:
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    return steps


# --- the schema at a pydantic error's location ----------------------------------------


def _members(tp: Any) -> list[Any]:
    """The types a value of ``tp`` may be: the members of a union, Annotated unwrapped,
    None left out."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _members(arg)]
    return [] if tp is type(None) else [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _child(tp: Any, step: Any) -> Any:
    """The type of ``step`` (a field name, an index or a mapping key) inside a value of
    type ``tp``, or None."""
    for member in _members(tp):
        origin = typing.get_origin(member)
        args = typing.get_args(member)
        if _is_model(member) and isinstance(step, str) and step in member.model_fields:
            return member.model_fields[step].annotation
        if origin in (list, tuple, set, frozenset) and isinstance(step, int) and args:
            return args[0]
        if origin is dict and len(args) == 2:
            return args[1]
    return None


def type_at(root: type[BaseModel], loc: Sequence[Any]) -> Any:
    """The annotated type at a pydantic error location, or None when it cannot be
    told. A step naming a member of a union (pydantic's tag, e.g. ``ClusterNode``)
    picks that member."""
    tp: Any = root
    for step in loc:
        members = _members(tp)
        tagged = [m for m in members if getattr(m, "__name__", None) == step]
        if len(members) > 1 and tagged:
            tp = tagged[0]
            continue
        child = _child(tp, step)
        if child is None and isinstance(step, str) and len(members) > 1:
            continue  # the tag of a union member that is no class (list[...], int)
        if child is None:
            return None
        tp = child
    return tp


def field_names(root: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The field names of the model at ``loc`` ([] when it is not one model)."""
    models = [m for m in _members(type_at(root, loc)) if _is_model(m)]
    return list(models[0].model_fields) if len(models) == 1 else []


def did_you_mean(key: Any, allowed: Sequence[str]) -> str | None:
    """The allowed field name closest to an unknown ``key``, if one is close."""
    if not isinstance(key, str) or not allowed:
        return None
    close = difflib.get_close_matches(key.lower(), list(allowed), n=1, cutoff=0.7)
    return close[0] if close else None


def quote_hint(root: type[BaseModel], loc: Sequence[Any], value: Any) -> str | None:
    """For a number given where the field takes words (a Literal of text) one of which
    is that number as text: YAML read ``os: 2012`` as a number; say to quote it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    text = str(value)
    allowed = {
        arg
        for member in _members(type_at(root, loc))
        if typing.get_origin(member) is typing.Literal
        for arg in typing.get_args(member)
        if isinstance(arg, str)
    }
    if text not in allowed:
        return None
    return f'YAML reads {text} as a number: write "{text}" in quotes'
