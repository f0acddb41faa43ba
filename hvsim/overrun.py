"""A run that does not end: how long past its horizon a run may go, and the error
that says what was still running when it went further.

A run goes on past the horizon until everything it started has ended (every started
job has an end). With a rate too low or a duration too long for the estate (a 100 GB
replica over a 64 kbps link takes 145 days; a snapshot that takes ten years) that is
months or centuries later: the tables cannot hold such times (pandas' timestamps end
in 2262) and the run is no answer to the planner anyway. So a run may take

    the horizon + max(30 days, the horizon) + the longest wait the scenario itself
    schedules past the horizon (automatic re-runs of a failed backup), at most 20
    years in all past the horizon,

and one still going then stops with ``RunawayError``: one line for people naming the
field to look at (the slowest transfer's bottleneck, an on-demand stream, the scan
costs, the longest duration) and what was running. Twenty years keeps every time
inside pandas' timestamps from the latest start_date (2200-12-31) and the longest
horizon (ten years).

Nothing starts at or after the horizon (hvsim.model.schedule): explicit events,
drains and drains' returns, and the consistency check after a repair of broken
protection are not carried out then, so they add no wait. A failed backup's
automatic re-runs are the one wait left: they finish an occurrence scheduled before
the horizon (hvsim.model.dpm.BackupJobs.protect).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from hvsim.scenario import schema
from hvsim.scenario.distributions import Dist

if TYPE_CHECKING:
    import simpy

    from hvsim.model.flows import Flow
    from hvsim.model.scan import ClusterScanTarget
    from hvsim.model.vm import VirtualMachine
    from hvsim.world import World

DAY_S = 86400.0
OVERRUN_MIN_S = 30 * DAY_S
OVERRUN_MAX_S = 2 * schema.MAX_HORIZON_DAYS * DAY_S


class RunawayError(Exception):
    """A run still going at ``overrun_limit``. For people: ``path`` names the scenario
    field to look at (``(run)`` when none can be named) and ``message`` says what was
    still running; ``problem(file)`` is the exit-2 line ``file: path: message``."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def problem(self, source: str) -> str:
        return f"{source}: {self.path}: {self.message}"

    def __reduce__(self) -> tuple[type[RunawayError], tuple[str, str]]:
        # Raised in a worker process (a part of a split run), it crosses back whole.
        return (RunawayError, (self.path, self.message))


def overrun_limit(scenario: schema.Scenario) -> float:
    """The latest simulated time a run of ``scenario`` may reach (seconds)."""
    horizon = scenario.horizon_days * DAY_S
    waits = [0.0]
    for d in scenario.dpm_servers:
        waits.append(d.auto_rerun_delay * d.auto_rerun_attempts)
    return horizon + min(OVERRUN_MAX_S, max(OVERRUN_MIN_S, horizon) + max(waits))


def runaway(
    world: World,
    limit: float,
    protected: Sequence[tuple[VirtualMachine, simpy.Process]],
    scans: Sequence[tuple[ClusterScanTarget, simpy.Process]],
) -> RunawayError:
    """What keeps ``world`` running past ``limit``, as an error naming a field."""
    horizon = world.horizon_s
    head = f"still running {_duration(limit - horizon)} past the horizon of {_duration(horizon)}"
    slowest = _slowest_transfer(world)
    if slowest is not None:
        flow, left, end = slowest
        res = flow.bottleneck or min(flow.route, key=lambda r: r.capacity_bps)
        capacity = _rate(res.capacity_bps, res.kind)
        link = world.network.link_of(res)
        if link is not None and link.efficiency != 1:
            # What the field says, and what transfers reach on it (schema.Link.efficiency).
            line = _rate(link.line_rate_bps, "network")
            capacity = f"{line} at efficiency {link.efficiency:g}: {capacity}"
        ends = f"would end on day {end / DAY_S:,.0f}" if end < float("inf") else "never ends"
        return RunawayError(
            res.path or "(run)",
            f"{head}: a transfer through {res.name} ({capacity}) moving at "
            f"{_rate(flow.rate, res.kind)} has {_size(left)} left and {ends}; give a faster "
            f"rate or a longer horizon_days ({capacity})",
        )
    for od in world.on_demand:
        if od.running:
            return RunawayError(
                od.path,
                f"{head}: {od.running} on-demand jobs of this stream are still queued or "
                f"holding one of the {od.dpm.job_slots.capacity} job slots of {od.dpm.name}; "
                f"lower per_hour or mean_duration (per_hour {od.rate_per_s * 3600:g}, "
                f"mean_duration {_duration(od.mean_duration_s)})",
            )
    scanning = [t.name for t, p in scans if p.is_alive]
    if scanning:
        sc = world.scenario.scan
        return RunawayError(
            "scan",
            f"{head}: the protection scan of cluster {scanning[0]} is still going; "
            f"shorten the scan costs (per_vm_query {_duration(sc.per_vm_query)}, "
            f"per_writer_metadata {_duration(sc.per_writer_metadata)})",
        )
    busy = [vm.name for vm, p in protected if p.is_alive]
    what = []
    if busy:
        shown = ", ".join(busy[:3]) + (", ..." if len(busy) > 3 else "")
        what.append(f"the backups of {len(busy)} VM(s) ({shown})")
    if world.migrations.running:
        what.append(f"{world.migrations.running} migration(s)")
    if world.restores.running:
        what.append(f"{world.restores.running} restore(s)")
    doing = " and ".join(what) or "events"
    path, longest = max(_durations(world.scenario), key=lambda pv: pv[1], default=("", 0.0))
    if longest > OVERRUN_MIN_S:
        return RunawayError(
            path,
            f"{head}: {doing} still running or waiting; the longest duration in the "
            f"scenario is {path} ({_duration(longest)})",
        )
    return RunawayError(
        "(run)",
        f"{head}: {doing} still running or waiting (next event on day "
        f"{world.env.peek() / DAY_S:,.0f})",
    )


def _slowest_transfer(world: World) -> tuple[Flow, float, float] | None:
    """The active transfer that would end last: (flow, bytes left, end time)."""
    now = world.env.now
    seen: set[int] = set()
    slowest = None
    for res in world.flows.resources.values():
        for flow in res.flows.values():
            if flow.done is None or id(flow) in seen:  # an open-ended stream
                continue
            seen.add(id(flow))
            left = max(flow.remaining - flow.rate * (now - flow.updated), 0.0)
            end = now + left / flow.rate if flow.rate > 0 else float("inf")
            if slowest is None or end > slowest[2]:
                slowest = (flow, left, end)
    return slowest


_DURATION_TYPES = (schema.Duration, schema.DurationOrZero)
# Durations that make nothing wait: a target, a schedule's period, a limit.
_NOT_WAITS = frozenset({"rpo", "sync_frequency", "flush_window", "rto_target"})


def _durations(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every duration the scenario gives something to wait for, as (path, seconds);
    a distribution by its mean."""
    hints = typing.get_type_hints(type(model), include_extras=True)
    for name in type(model).model_fields:
        value, hint = getattr(model, name), hints[name]
        path = f"{prefix}{name}"
        if name in _NOT_WAITS:
            continue
        if hint in _DURATION_TYPES:
            yield path, value
        elif isinstance(value, Dist):
            if _dist_kind(hint) == "duration":
                yield path, float(value.mean())
        else:
            yield from _nested(value, path)


def _nested(value: Any, path: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, BaseModel):
        yield from _durations(value, path + ".")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nested(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nested(item, f"{path}.{key}")


def _dist_kind(hint: Any) -> str | None:
    for meta in typing.get_args(hint)[1:]:
        kind = getattr(getattr(meta, "func", None), "kind", None)
        if kind is not None:
            return kind
    return None


def _duration(seconds: float) -> str:
    for unit, size in (("day", DAY_S), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            value = seconds / size
            plural = "s" if unit == "day" and value != 1 else ""
            return f"{value:,.4g} {unit}{plural}"
    return f"{seconds:.4g} s"


def _rate(bps: float, kind: str) -> str:
    """Bits for network links, bytes for storage and pools (as files write them)."""
    if kind == "network":
        value, units = bps * 8, ("bps", "kbps", "Mbps", "Gbps", "Tbps")
    else:
        value, units = bps, ("B/s", "kB/s", "MB/s", "GB/s", "TB/s")
    return _scaled(value, units)


def _size(nbytes: float) -> str:
    return _scaled(nbytes, ("B", "kB", "MB", "GB", "TB", "PB"))


def _scaled(value: float, units: Sequence[str]) -> str:
    k = 0
    while abs(value) >= 1000 and k < len(units) - 1:
        value /= 1000
        k += 1
    return f"{value:.3g} {units[k]}"
