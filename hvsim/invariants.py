"""Invariants checked at the end of every run. A violation is a bug in the
simulator, not bad input: it fails the run loudly, naming the invariant."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hvsim.model.flows import _EPS_BYTES
from hvsim.model.schedule import starts_before

if TYPE_CHECKING:
    from hvsim.world import World

_REL = 1e-9
# Clock ticks a transfer's busy time may be off by: its start, its end and the
# timer's delay are each rounded to the clock's resolution.
_TICKS_PER_TRANSFER = 4


class InvariantViolation(AssertionError):
    def __init__(self, name: str, detail: str):
        super().__init__(f"invariant '{name}' violated: {detail}")
        self.name = name


def check_world(world: World) -> None:
    """Raise InvariantViolation for the first broken invariant of a finished run."""
    jobs = world.jobs
    if jobs.running:
        raise InvariantViolation("every started job ended", f"{jobs.running} still running")
    if world.guest_jobs.running:
        raise InvariantViolation(
            "every started job ended", f"{world.guest_jobs.running} guest jobs still running"
        )
    if any(od.running for od in world.on_demand):
        raise InvariantViolation("every started job ended", "an on-demand job is still running")
    if world.restores.running:
        raise InvariantViolation("every started job ended", f"{world.restores.running} restores")
    if world.tape.running:
        raise InvariantViolation("every started job ended", f"{world.tape.running} tape jobs")
    if world.online is not None and world.online.running:
        raise InvariantViolation(
            "every started job ended", f"{world.online.running} online jobs still running"
        )
    if world.migrations.running:
        raise InvariantViolation(
            "every migration ended", f"{world.migrations.running} still running"
        )
    flows = world.flows
    if flows.active:
        raise InvariantViolation("every transfer ended", f"{flows.active} flows still active")
    sent, received = flows.bytes_started, flows.bytes_delivered
    if abs(sent - received) > _REL * max(sent, 1.0):
        raise InvariantViolation("bytes sent equal bytes received", f"{sent!r} != {received!r}")
    # Float slack of one transfer, in bytes: it may finish with up to _EPS_BYTES left
    # (credited at once), and its busy time is known only to the clock's resolution
    # (math.ulp of the time), worth capacity x a few ticks. A sub-byte transfer at a
    # high rate takes less than a tick: 0.5 B at 1 TB/s lasts 5e-13 s, under the 6e-11 s
    # tick three days in, so it moves its bytes in no busy time at all.
    tick = math.ulp(max(world.env.now, 1.0))
    for res in flows.resources.values():
        # Bytes moved can never exceed what the capacity allows over its busy time.
        # (The highest capacity it had: a throttled uplink changes its capacity.)
        cap = res.peak_capacity_bps
        limit = cap * res.busy_s
        slack = flows.started_flows * (_EPS_BYTES + _TICKS_PER_TRANSFER * tick * cap)
        if res.bytes_total > limit * (1 + 1e-6) + 1.0 + slack:
            raise InvariantViolation(
                "no resource above its capacity",
                f"{res.name} moved {res.bytes_total:.0f} B in {res.busy_s:.3f} busy s "
                f"at {res.capacity_bps:.0f} B/s",
            )
    if world.vss.alive or any(v.snapshots_alive for v in world.volumes.values()):
        left = {v.name: v.snapshots_alive for v in world.volumes.values() if v.snapshots_alive}
        raise InvariantViolation("no snapshot left behind", f"{world.vss.alive} alive: {left}")
    for dpm in world.dpm_servers.values():
        used = dpm.used_bytes(world.env.now)
        if dpm.replica_bytes < 0 or dpm.recovery_point_bytes < -1.0 or used < -1.0:
            raise InvariantViolation(
                "no negative storage",
                f"{dpm.name}: replica {dpm.replica_bytes}, recovery points "
                f"{dpm.recovery_point_bytes}",
            )
        if dpm.pool_peak_bytes > dpm.pool_capacity_bytes * (1 + _REL):
            raise InvariantViolation(
                "pool within capacity", f"{dpm.name}: peak {dpm.pool_peak_bytes:.0f} B"
            )
        pool = dpm.storage
        if pool.peak_allocated_bytes > pool.capacity_bytes * (1 + _REL):
            raise InvariantViolation(
                "pool allocation within capacity",
                f"{dpm.name}: allocated {pool.peak_allocated_bytes:.0f} B",
            )
        if any(t.used_bytes > t.allocated_bytes * (1 + _REL) + 1.0 for t in pool.totals.values()):
            raise InvariantViolation("volumes hold what is allocated", dpm.name)
    offline = {r.vm.name for r in world.replicas.values() if r.method == "offline"}
    for rec in world.trace.downtime:
        if rec.vm not in offline:
            raise InvariantViolation(
                "downtime only for offline VMs", f"{rec.vm} is backed up online"
            )
        if rec.seconds < 0:
            raise InvariantViolation("downtime not negative", f"{rec.vm}: {rec.seconds}")
    for job in world.trace.jobs:
        if not job.queued_s <= job.start_s <= job.end_s:
            raise InvariantViolation(
                "jobs queue, start and end in order", f"job {job.job_id}: {job}"
            )
    # Nothing starts at or after the horizon (hvsim.model.schedule); a failed
    # backup's automatic re-runs may, as they finish an occurrence scheduled before it.
    horizon = world.horizon_s
    t = world.trace
    late = [f"job {r.job_id}" for r in t.jobs if not starts_before(r.scheduled_s, horizon)]
    late += [
        f"migration of {r.vm}" for r in t.migrations if not starts_before(r.requested_s, horizon)
    ]
    late += [f"check of {r.vm}" for r in t.checks if not starts_before(r.queued_s, horizon)]
    late += [
        f"on-demand job {r.number}" for r in t.on_demand if not starts_before(r.arrival_s, horizon)
    ]
    late += [f"online job {r.online_job_id}" for r in t.online_jobs if r.scheduled_s >= horizon]
    if late:
        raise InvariantViolation(
            "nothing starts at or after the horizon", f"{', '.join(late[:3])} of {len(late)}"
        )
