"""Warnings about a valid scenario: things a planner most likely did not mean, which
still simulate. ``hvsim validate`` prints them (on stderr, exit status 0); each is one
line ``file: path.to.field: warning: what and why``. Add a check as one more function
called from ``scenario_warnings``."""

from __future__ import annotations

from collections.abc import Sequence

from hvsim.scenario.guest import admission_warnings
from hvsim.scenario.patterns import group_membership, scenario_vm_names
from hvsim.scenario.schema import Drain, ExplicitEvent, Scenario

# Names a warning line lists before "and N more".
NAMES_SHOWN = 10


def scenario_warnings(scenario: Scenario, source: str) -> list[str]:
    """Every warning about ``scenario`` (read from ``source``), in a fixed order."""
    return (
        _unprotected(scenario, source)
        + _guest_unprotected(scenario, source)
        + _after_horizon(scenario, source)
        + admission_warnings(scenario, source)
        + _onboarded_after_horizon(scenario, source)
        + short_horizon_warnings(scenario, source)
    )


def unprotected_vm_names(scenario: Scenario) -> list[str]:
    """The VMs of ``scenario`` to be protected at host level (protection host or both)
    that are in no host-level protection group, in the scenario's order."""
    names = scenario_vm_names(scenario)
    members = group_membership(scenario, names)
    if all(spec.protection == "host" for spec in scenario.vms):
        return [n for n in names.names if n not in members]
    level = {n: spec.protection for spec in scenario.vms for n in spec.names()}
    return [n for n in names.names if n not in members and level[n] != "guest"]


def _guest_unprotected(scenario: Scenario, source: str) -> list[str]:
    """VMs with protection guest or both whose data sources are in no guest-level group."""
    wanted = [n for spec in scenario.vms if spec.protection != "host" for n in spec.names()]
    if not wanted:
        return []
    members = group_membership(scenario, level="guest")
    missing = [n for n in wanted if n not in members]
    if not missing:
        return []
    shown = ", ".join(missing[:NAMES_SHOWN])
    more = f" and {len(missing) - NAMES_SHOWN} more" if len(missing) > NAMES_SHOWN else ""
    return [
        f"{source}: protection_groups: warning: {len(missing)} of {len(wanted)} VMs with "
        "guest protection are in no guest-level protection group and get no backups of "
        f"their data sources ({shown}{more})"
    ]


def _unprotected(scenario: Scenario, source: str) -> list[str]:
    missing = unprotected_vm_names(scenario)
    if not missing:
        return []
    total = sum(spec.count for spec in scenario.vms if spec.protection != "guest")
    shown = ", ".join(missing[:NAMES_SHOWN])
    more = f" and {len(missing) - NAMES_SHOWN} more" if len(missing) > NAMES_SHOWN else ""
    return [
        f"{source}: protection_groups: warning: {len(missing)} of {total} VMs are in no "
        f"protection group and get no backups or recovery points ({shown}{more})"
    ]


def _after_horizon(scenario: Scenario, source: str) -> list[str]:
    """Drains and explicit events due at or after the horizon: nothing starts then, so
    they are not carried out (a drain that starts before it but returns after it
    leaves its VMs where it moved them, which is what the horizon sees)."""
    horizon_s = scenario.horizon_days * 86400.0
    lines = []
    timed: tuple[tuple[str, Sequence[Drain | ExplicitEvent]], ...] = (
        ("drains", scenario.migrations.drains),
        ("events", scenario.migrations.events),
    )
    for kind, items in timed:
        for i, item in enumerate(items):
            at_s = item.day * 86400.0 + item.time
            if at_s >= horizon_s:
                lines.append(
                    f"{source}: migrations.{kind}[{i}]: warning: due on day {item.day} at "
                    f"{_clock(item.time)}, at or after the horizon of {scenario.horizon_days:g} "
                    "days; nothing starts then, so it is not carried out"
                )
    return lines


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def _onboarded_after_horizon(scenario: Scenario, source: str) -> list[str]:
    """VMs whose protection starts (protect_from, onboarding) at or after the horizon:
    nothing starts then, so they are never protected in the run."""
    lines = []
    for i, spec in enumerate(scenario.vms):
        if spec.protect_from is None and spec.onboarding is None:
            continue
        days = spec.protection_start_days(scenario.start_date)
        late = sum(1 for d in days if d >= scenario.horizon_days)
        if late:
            field = "protect_from" if spec.protect_from is not None else "onboarding"
            lines.append(
                f"{source}: vms[{i}].{field}: warning: {late} of {spec.count} VMs of this "
                f"entry start being protected at or after the horizon of "
                f"{scenario.horizon_days:g} days; nothing starts then, so they get no backups "
                "in the run"
            )
    return lines


def short_horizon_warnings(scenario: Scenario, source: str) -> list[str]:
    """Protection groups whose retention range is longer than the horizon: the run
    never fills their recovery point volumes, so the pool's peak is lower than what
    the range needs; the projection is storage.steady_state_bytes (hvsim.model.pool)."""
    lines = []
    for i, g in enumerate(scenario.protection_groups):
        if scenario.horizon_days < g.retention_days:
            lines.append(
                f"{source}: protection_groups[{i}].retention_days: warning: group {g.name} "
                f"keeps {g.retention_days} days of recovery points but the horizon is "
                f"{scenario.horizon_days:g} days: the pool peak under-estimates the pool "
                "its retention range needs; storage.steady_state_bytes is the projection"
            )
    return lines
