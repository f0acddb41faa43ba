"""Warnings about a valid scenario: things a planner most likely did not mean, which
still simulate. ``hvsim validate`` prints them (on stderr, exit status 0); each is one
line ``file: path.to.field: warning: what and why``. Add a check as one more function
called from ``scenario_warnings``."""

from __future__ import annotations

from hvsim.scenario.patterns import VmNames
from hvsim.scenario.schema import Scenario

# Names a warning line lists before "and N more".
NAMES_SHOWN = 10


def scenario_warnings(scenario: Scenario, source: str) -> list[str]:
    """Every warning about ``scenario`` (read from ``source``), in a fixed order."""
    return _unprotected(scenario, source)


def unprotected_vm_names(scenario: Scenario) -> list[str]:
    """The VMs of ``scenario`` in no protection group, in the scenario's order."""
    names = VmNames(n for spec in scenario.vms for n in spec.names())
    members: set[str] = set()
    for group in scenario.protection_groups:
        for m in group.members:
            members.update(names.matching(m))
    return [n for n in names.names if n not in members]


def _unprotected(scenario: Scenario, source: str) -> list[str]:
    missing = unprotected_vm_names(scenario)
    if not missing:
        return []
    total = sum(spec.count for spec in scenario.vms)
    shown = ", ".join(missing[:NAMES_SHOWN])
    more = f" and {len(missing) - NAMES_SHOWN} more" if len(missing) > NAMES_SHOWN else ""
    return [
        f"{source}: protection_groups: warning: {len(missing)} of {total} VMs are in no "
        f"protection group and get no backups or recovery points ({shown}{more})"
    ]
