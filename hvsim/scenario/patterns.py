"""VM names matched against member patterns ('web-*'), fast over many VMs.

``fnmatch.filter(names, pattern)`` tries every name against every pattern: hundreds
of protection-group members over 100,000 VMs took seconds, in validation and again
when the world is built. ``VmNames`` sorts the names once; a pattern's literal head
('web-' of 'web-*') narrows it to the names that start with it (a bisection), only
those are tried, and each distinct pattern is worked out once. The answers are
``fnmatch.filter``'s, in the same order (names compared as ``os.path.normcase``
leaves them, as fnmatch does).
"""

from __future__ import annotations

import fnmatch
import os
import re
from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hvsim.scenario.schema import Scenario

_HEAD = re.compile(r"[^*?\[]*")


def is_pattern(member: str) -> bool:
    """A member with a wildcard matches names; any other member names one VM."""
    return any(ch in member for ch in "*?[")


class VmNames:
    """The VM names of a scenario, for looking members up."""

    def __init__(self, names: Iterable[str]):
        self.names = list(names)
        self._set = set(self.names)
        keyed = sorted((os.path.normcase(n), i) for i, n in enumerate(self.names))
        self._keys = [k for k, _ in keyed]
        self._positions = [i for _, i in keyed]
        self._matches: dict[str, list[str]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._set

    def matching(self, member: str) -> list[str]:
        """The names ``member`` stands for: a pattern's matches in the names' order
        (``fnmatch.filter``), or the member itself if it is a VM's name."""
        if not is_pattern(member):
            return [member] if member in self._set else []
        found = self._matches.get(member)
        if found is None:
            found = self._matches[member] = self._filter(member)
        return found

    def _filter(self, pattern: str) -> list[str]:
        pattern = os.path.normcase(pattern)
        match = re.compile(fnmatch.translate(pattern)).match
        # _HEAD matches every text (its head may be empty): the match is never None.
        head = _HEAD.match(pattern).group()  # type: ignore[union-attr]
        keys = self._keys
        hits = []
        k = bisect_left(keys, head)
        while k < len(keys) and keys[k].startswith(head):
            if match(keys[k]):
                hits.append(self._positions[k])
            k += 1
        return [self.names[i] for i in sorted(hits)]


def scenario_vm_names(scenario: Scenario) -> VmNames:
    """Every VM name of ``scenario`` (bulk forms expanded), in the scenario's order."""
    return VmNames(n for spec in scenario.vms for n in spec.names())


# Which protection levels each VM protection fits: a host-level group protects the
# VMs with protection host or both, a guest-level group those with guest or both.
LEVELS_OF = {"host": ("host",), "guest": ("guest",), "both": ("host", "guest")}


def vm_protection(scenario: Scenario) -> dict[str, str]:
    """Each VM's protection (host, guest or both), by name."""
    return {n: spec.protection for spec in scenario.vms for n in spec.names()}


def group_membership(
    scenario: Scenario, names: VmNames | None = None, level: str = "host"
) -> dict[str, str]:
    """Each VM's protection group of ``level`` (host: the whole VM; guest: its data
    sources), by name. A group takes the VMs its members match whose protection fits
    its level. A VM that two members match belongs to the first (validation refuses
    a VM in two groups of one level; this is the rule world, run estimate and
    warnings share)."""
    if names is None:
        names = scenario_vm_names(scenario)
    mixed = any(spec.protection != "host" for spec in scenario.vms)
    fits = None
    if mixed or level != "host":
        protection = vm_protection(scenario)
        fits = {n for n, p in protection.items() if level in LEVELS_OF[p]}
    group_of: dict[str, str] = {}
    for g in scenario.protection_groups:
        if g.level != level:
            continue
        for m in g.members:
            for n in names.matching(m):
                if fits is None or n in fits:
                    group_of.setdefault(n, g.name)
    return group_of
