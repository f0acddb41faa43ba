"""Flow-level bandwidth sharing: one mechanism for every byte that moves.

A transfer (``Flow``) crosses a route of ``BandwidthResource``s — a volume's read
side, network link directions, a DPM pool's write side. Concurrent flows share
each resource max-min fair; a flow's rate is its bottleneck share. Rates change
only when a flow starts or ends, and then only for the flows connected to it
through shared resources (its component).

Cost per start/end: progressive filling over the component with a heap of
resource fair shares, O(E log R) for E (flow, resource) pairs in the component,
so linear, not quadratic, in the number of concurrent flows. Completion uses one
pending SimPy timeout per part of the network (the earliest finish) kept valid
by a version counter; stale heap entries are skipped. A network is one part unless
``FlowNetwork.set_parts`` splits its resources into independent parts (a run split
into parts that share no resource): each part then has its own finish heap and
timer, so one part's completions never happen in, or schedule events from, another
part's timer event.
"""

from __future__ import annotations

import heapq
import itertools
import math
from array import array
from collections.abc import Sequence
from operator import attrgetter
from typing import Any, cast

import simpy

# Remaining bytes below this are treated as done (float round-off on long runs).
_EPS_BYTES = 1e-3
# Components up to this many resources plus flows are filled by linear scans.
_SMALL_COMPONENT = 64
# A capped flow's place among caps: by cap, then flow id (unique, so a total order).
_CAP_ORDER = attrgetter("cap_bps", "id")
_INDEX = attrgetter("index")


def _freeze(
    members: Sequence[Flow],
    rate: float,
    bott: BandwidthResource | None,
    touched: dict[int, BandwidthResource] | None,
) -> None:
    """One step of progressive filling: ``members`` get ``rate`` (their bottleneck is
    ``bott``, None for a flow's own cap) and leave the capacity of every resource on
    their routes; ``touched`` collects those resources when given."""
    for f in members:
        f._frozen = True
        f._new = rate
        f.bottleneck = bott
        for r in f.route:
            r._rem -= rate
            r._n -= 1
            if touched is not None:
                touched[r.index] = r


def _check_route(route: Sequence[BandwidthResource]) -> tuple[BandwidthResource, ...]:
    """The route as a tuple; a resource may appear on it only once (the per-pass
    bookkeeping counts each flow once per resource)."""
    route = tuple(route)
    if len(set(route)) != len(route):
        names = [r.name for r in route]
        raise ValueError(f"route crosses a resource twice: {names}")
    return route


class BandwidthResource:
    """A shared capacity in bytes per second, with light accounting."""

    __slots__ = (
        "name",
        "kind",
        "path",
        "capacity_bps",
        "peak_capacity_bps",
        "flows",
        "index",
        "bytes_total",
        "busy_s",
        "bottleneck_s",
        "_busy_since",
        "_load",
        "_tol",
        "_rem",
        "_n",
        "_mark",
    )

    def __init__(self, name: str, kind: str, capacity_bps: float, index: int, path: str = ""):
        if not capacity_bps > 0:
            raise ValueError(f"resource {name}: capacity must be positive")
        self.name = name
        self.kind = kind
        # The scenario field that sets the capacity ("clusters[0].csvs[1].read"), for
        # messages; empty when none does.
        self.path = path
        self.capacity_bps = float(capacity_bps)
        # The highest capacity it ever had (FlowNetwork.set_capacity changes it): what
        # the invariant "no resource above its capacity" allows over its busy time.
        self.peak_capacity_bps = self.capacity_bps
        self.flows: dict[int, Flow] = {}
        self.index = index
        self.bytes_total = 0.0
        self.busy_s = 0.0
        self.bottleneck_s = 0.0
        self._busy_since: float | None = None
        self._load = 0.0
        # Loads within this of zero or of the last logged load are not changes.
        self._tol = 1e-9 * self.capacity_bps
        self._rem = 0.0
        self._n = 0
        self._mark = 0

    @property
    def load_bps(self) -> float:
        return sum(f.rate for f in self.flows.values())

    def __repr__(self) -> str:
        return f"BandwidthResource({self.name!r}, {self.capacity_bps:g} B/s)"


class Flow:
    __slots__ = (
        "id",
        "route",
        "size",
        "remaining",
        "rate",
        "cap_bps",
        "updated",
        "version",
        "done",
        "started",
        "bottleneck",
        "sent",
        "part",
        "_frozen",
        "_new",
        "_mark",
    )

    def __init__(
        self,
        fid: int,
        route: tuple[BandwidthResource, ...],
        size: float,
        cap: float | None,
        now: float,
        done: simpy.Event | None,
        part: int = 0,
    ):
        self.id = fid
        self.route = route
        self.size = size
        self.remaining = size
        self.rate = 0.0
        self.cap_bps = cap
        self.updated = now
        self.version = 0
        self.done = done  # None for an open-ended stream
        self.started = now
        self.bottleneck: BandwidthResource | None = None
        self.sent = 0.0
        self.part = part  # the part of the network whose timer ends it
        self._frozen = False
        self._new = 0.0
        self._mark = 0


class FlowNetwork:
    """All bandwidth resources of one simulation and the flows crossing them."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.resources: dict[str, BandwidthResource] = {}
        self._ids = itertools.count()
        # Per part (set_parts; one part by default): the heap of finish times
        # (time, flow id, flow version, flow), the pending timer's version and time.
        self._heap: list[tuple[float, int, int, Flow]] = []
        self._heaps = [self._heap]
        self._timer_version = [0]
        self._timer_at: list[float | None] = [None]
        # Part of each resource by index; empty while the network is one part.
        self._part_of: list[int] = []
        self.active = 0
        self.started_flows = 0
        self.finished_flows = 0
        self.bytes_started = 0.0
        self.bytes_delivered = 0.0
        self._epoch = 0  # visit mark of the latest component search
        # The utilisation timeline, one entry per changed resource per reallocation:
        # time, resource index and total rate, as typed arrays (24 bytes an entry,
        # where a tuple costs about 120 and dominated memory on long runs).
        self.load_time = array("d")
        self.load_index = array("q")
        self.load_bps = array("d")
        # Capacity changes (set_capacity): time, resource index, the capacity before
        # and after, so the utilisation table divides each load by the capacity then.
        self.capacity_changes: list[tuple[float, int, float, float]] = []
        # Bytes started and delivered per part (set_parts), [started, delivered]:
        # a run split into parts sums them part by part.
        self._part_bytes: list[list[float]] = [[0.0, 0.0]]

    def bytes_of_part(self, part: int) -> tuple[float, float]:
        """(bytes started, bytes delivered) of ``part``'s transfers and streams
        (set_parts); all of them while the network is one part."""
        if not self._part_of:
            return self.bytes_started, self.bytes_delivered
        started, delivered = self._part_bytes[part]
        return started, delivered

    def add_resource(
        self, name: str, kind: str, capacity_bps: float, path: str = ""
    ) -> BandwidthResource:
        """A new resource; ``path`` is the scenario field that sets its capacity."""
        if name in self.resources:
            raise ValueError(f"duplicate bandwidth resource {name}")
        res = BandwidthResource(name, kind, capacity_bps, len(self.resources), path)
        self.resources[name] = res
        return res

    def set_parts(self, part_of_resource: Sequence[int]) -> None:
        """Split the network into independent parts: ``part_of_resource[i]`` is the
        part (0, 1, ...) of the resource with index i. Call it after adding every
        resource and before any flow starts. A flow belongs to the part of its
        route's first resource (part 0 for a flow with a cap and no route), and its
        route must stay in that part. Each part has its own finish heap and timer:
        a part's flows end in its own timer events, which only re-arm its own timer.
        The default is every resource in part 0 (one timer for the network)."""
        parts = [int(p) for p in part_of_resource]
        if len(parts) != len(self.resources):
            raise ValueError(
                f"set_parts: {len(parts)} parts given for {len(self.resources)} resources"
            )
        if any(p < 0 for p in parts):
            raise ValueError("set_parts: a part number must be 0 or more")
        if self.active or any(self._heaps):
            raise ValueError("set_parts: flows are already under way")
        n = max(parts, default=0) + 1
        self._part_of = parts if n > 1 else []
        self._heaps = [self._heap] + [[] for _ in range(n - 1)]
        self._timer_version = [0] * n
        self._timer_at = [None] * n
        self._part_bytes = [[0.0, 0.0] for _ in range(n)]

    def _part(self, route: tuple[BandwidthResource, ...]) -> int:
        """The part of a flow on ``route``; a route may not leave its part."""
        part_of = self._part_of
        if not part_of or not route:
            return 0
        part = part_of[route[0].index]
        for r in route:
            if part_of[r.index] != part:
                names = [r.name for r in route]
                raise ValueError(f"route crosses parts of the network: {names}")
        return part

    # -- public API -----------------------------------------------------------
    def transfer(
        self,
        nbytes: float,
        route: Sequence[BandwidthResource],
        cap_bps: float | None = None,
    ) -> simpy.Event:
        """Start moving ``nbytes`` along ``route``; the returned event fires when done."""
        done = self.env.event()
        if nbytes <= 0:
            done.succeed(0.0)
            return done
        if not route and cap_bps is None:
            raise ValueError("a transfer needs a route or a rate cap")
        if cap_bps is not None and not cap_bps > 0:
            raise ValueError("a rate cap must be positive (a zero cap never finishes)")
        route = _check_route(route)
        part = self._part(route)
        now = self.env.now
        flow = Flow(next(self._ids), route, float(nbytes), cap_bps, now, done, part)
        self.active += 1
        self.started_flows += 1
        self.bytes_started += flow.size
        if self._part_of:
            self._part_bytes[part][0] += flow.size
        for res in flow.route:
            if not res.flows:
                res._busy_since = now
            res.flows[flow.id] = flow
        self._reallocate((), extra=(flow,))  # extra flows seed their routes
        return done

    def open_streams(
        self, specs: Sequence[tuple[Sequence[BandwidthResource], float]]
    ) -> list[Flow]:
        """Start open-ended flows, each wanting its demand (bytes/s) until closed (a
        node's VM I/O while its CSV is redirected, say). They share bandwidth like any
        transfer; opening them together costs one reallocation."""
        now = self.env.now
        # Validate every spec before touching any resource, so a bad one changes nothing.
        checked = []
        for route, demand_bps in specs:
            if not demand_bps > 0:
                raise ValueError("a stream needs a positive demand")
            route = _check_route(route)
            checked.append((route, demand_bps, self._part(route)))
        opened = []
        for route, demand_bps, part in checked:
            flow = Flow(next(self._ids), route, float("inf"), demand_bps, now, None, part)
            self.active += 1
            for res in flow.route:
                if not res.flows:
                    res._busy_since = now
                res.flows[flow.id] = flow
            opened.append(flow)
        if opened:
            self._reallocate((), extra=opened)
        return opened

    def close_streams(self, streams: Sequence[Flow]) -> float:
        """End streams together; returns the bytes they moved."""
        now = self.env.now
        moved = 0.0
        seeds: list[BandwidthResource] = []
        for flow in streams:
            self._settle(flow, now)
            moved += flow.sent
            for res in flow.route:
                del res.flows[flow.id]
                if not res.flows and res._busy_since is not None:
                    res.busy_s += now - res._busy_since
                    res._busy_since = None
            flow.version += 1
            self.active -= 1
            seeds.extend(flow.route)
        self.bytes_started += moved
        self.bytes_delivered += moved
        if self._part_of:
            for flow in streams:
                acc = self._part_bytes[flow.part]
                acc[0] += flow.sent
                acc[1] += flow.sent
        if seeds:
            self._reallocate(seeds)
        return moved

    def set_capacity(self, res: BandwidthResource, capacity_bps: float) -> None:
        """Change ``res``'s capacity from now on (a throttling schedule). The flows
        connected to it are settled at their old rates up to now, then share the new
        capacity max-min fair, and the completion timer is re-armed for their new
        ends: the same steps as a flow starting or ending (``_reallocate``)."""
        if not capacity_bps > 0:
            raise ValueError(f"resource {res.name}: capacity must be positive")
        capacity_bps = float(capacity_bps)
        if capacity_bps == res.capacity_bps:
            return
        now = self.env.now
        self.capacity_changes.append((now, res.index, res.capacity_bps, capacity_bps))
        res.capacity_bps = capacity_bps
        res._tol = 1e-9 * capacity_bps
        res.peak_capacity_bps = max(res.peak_capacity_bps, capacity_bps)
        logged = len(self.load_index)
        if res.flows:
            self._reallocate((res,))
        # A row of the load timeline from the change on, unless the reallocation wrote
        # one (the load may be the same, its share of the capacity is not).
        if res.index not in self.load_index[logged:]:
            self.load_time.append(now)
            self.load_index.append(res.index)
            self.load_bps.append(res._load)

    # -- mechanism ------------------------------------------------------------
    def _settle(self, flow: Flow, now: float) -> None:
        dt = now - flow.updated
        if dt > 0:
            moved = flow.rate * dt
            flow.remaining -= moved
            flow.sent += moved
            for res in flow.route:
                res.bytes_total += moved
            if flow.bottleneck is not None and flow.done is not None:
                # Only transfers count towards "where is the bottleneck"; open-ended
                # streams (a VM's own I/O) would swamp it with their lifetimes.
                flow.bottleneck.bottleneck_s += dt
        flow.updated = now

    def _component(
        self, seeds: Sequence[BandwidthResource], extra: Sequence[Flow]
    ) -> tuple[list[BandwidthResource], list[Flow]]:
        """Resources and flows connected to ``seeds`` and ``extra`` through shared
        resources, each flow settled up to now on the way. Visited marks are an epoch
        number on each object (no per-call sets): one pass, linear in the component.
        The settling is ``_settle`` written out; its order is the search's, which
        fixes the order of the float additions to each resource's ``bytes_total``."""
        self._epoch += 1
        mark = self._epoch
        now = self.env._now
        resources: list[BandwidthResource] = []
        flows: list[Flow] = list(extra)
        stack = list(seeds)
        for f in extra:
            f._mark = mark
            stack += f.route
            if now > f.updated:
                self._settle(f, now)
        pop = stack.pop
        add_resource = resources.append
        add_flow = flows.append
        while stack:
            res = pop()
            if res._mark == mark:
                continue
            res._mark = mark
            add_resource(res)
            for f in res.flows.values():
                if f._mark != mark:
                    f._mark = mark
                    add_flow(f)
                    route = f.route
                    stack += route
                    updated = f.updated
                    if now > updated:
                        dt = now - updated
                        moved = f.rate * dt
                        f.remaining -= moved
                        f.sent += moved
                        for r in route:
                            r.bytes_total += moved
                        bott = f.bottleneck
                        if bott is not None and f.done is not None:
                            bott.bottleneck_s += dt
                        f.updated = now
        return resources, flows

    def _reallocate(self, seeds: Sequence[BandwidthResource], extra: Sequence[Flow] = ()) -> None:
        """Max-min fair rates for every flow connected to ``seeds`` (progressive
        filling), then the timers of the component's parts re-armed (routes stay in
        their part, so a component does too unless seeds of several parts are given
        together)."""
        now = self.env._now
        resources, flows = self._component(seeds, extra)
        if not flows:  # the last flow left: its resources fall idle
            for res in resources:
                res._rem = res.capacity_bps
        elif len(flows) == 1:
            self._fill_one(flows[0], resources)
        elif len(resources) + len(flows) <= _SMALL_COMPONENT:
            self._fill_small(resources, flows)
        else:
            self._fill(resources, flows)
        log_t, log_i, log_v = self.load_time, self.load_index, self.load_bps
        for res in resources:
            # Every flow on res subtracted its rate from _rem exactly once.
            tol = res._tol
            load = res.capacity_bps - res._rem
            if load < tol:
                load = 0.0
            change = load - res._load
            if change > tol or change < -tol:
                res._load = load
                log_t.append(now)
                log_i.append(res.index)
                log_v.append(load)
        push = heapq.heappush
        heaps = self._heaps
        for f in flows:
            rate = f._new
            # A new flow has rate 0 until now, so any positive rate counts as a change.
            if rate != f.rate:
                f.rate = rate
                f.version += 1
                if rate > 0 and f.done is not None:  # streams (no done event) never end
                    push(heaps[f.part], (now + f.remaining / rate, f.id, f.version, f))
        part_of = self._part_of
        if not part_of:
            self._arm_timer(0)
            return
        parts = {f.part for f in flows}
        parts.update(part_of[r.index] for r in resources)
        for part in sorted(parts):
            self._arm_timer(part)

    @staticmethod
    def _fill_one(flow: Flow, resources: list[BandwidthResource]) -> None:
        """A component with one flow: its rate is the smallest capacity on its route
        (or its cap); the same answer and tie-break as progressive filling."""
        for res in resources:
            res._rem = res.capacity_bps
        best: BandwidthResource | None = None
        for r in flow.route:
            if (
                best is None
                or r.capacity_bps < best.capacity_bps
                or (r.capacity_bps == best.capacity_bps and r.index < best.index)
            ):
                best = r
        cap = flow.cap_bps
        if best is not None and (cap is None or best.capacity_bps <= cap):
            rate = best.capacity_bps
        else:
            # No resource, or one wider than the cap: a flow has a route or a cap
            # (transfer and open_streams refuse one with neither).
            assert cap is not None
            rate, best = cap, None
        flow._new = rate
        flow.bottleneck = best
        for r in flow.route:
            r._rem -= rate

    @staticmethod
    def _fill_small(resources: list[BandwidthResource], flows: list[Flow]) -> None:
        """Progressive filling by linear scans, for small components (where a heap
        costs more than it saves). Picks the same minimum as ``_fill``'s heap, ties
        broken the same way (resources before caps, then by index), so the rates are
        identical to the last bit."""
        live: list[BandwidthResource] = []
        for res in resources:
            res._rem = res.capacity_bps
            res._n = n = len(res.flows)
            if n:
                live.append(res)
        # By index, so that the first of equal shares in a scan has the lowest index
        # (the heap's tie-break) and the scan compares shares only.
        live.sort(key=_INDEX)
        capped: list[Flow] = []
        min_cap = math.inf
        for f in flows:
            f._frozen = False
            c = f.cap_bps
            if c is not None:
                capped.append(f)
                if c < min_cap:
                    min_cap = c
        # Caps never change: sorted (by cap, then flow id) when a second step needs
        # them, the smallest unfrozen one is the first unfrozen entry from a pointer
        # that only moves forward.
        in_order = False
        next_cap = 0
        n_capped = len(capped)
        left = len(flows)
        while left:
            best_share = math.inf
            best: BandwidthResource | None = None
            for r in live:
                n = r._n
                if n:
                    rem = r._rem
                    share = (rem if rem > 0.0 else 0.0) / n
                    if share < best_share:
                        best_share = share
                        best = r
            if not in_order:
                if best is not None and best._n == left:
                    # One resource carries every flow (a DPM pool's write side, most
                    # nights) and has the smallest share: if no cap is below it, every
                    # flow freezes at that share in this one step.
                    if best_share <= min_cap:
                        rate = best_share if best_share > 0.0 else 0.0
                        _freeze(list(best.flows.values()), rate, best, None)
                        return
                capped.sort(key=_CAP_ORDER)
                in_order = True
            while next_cap < n_capped and capped[next_cap]._frozen:
                next_cap += 1
            cap_flow: Flow | None
            if next_cap < n_capped:
                cap_flow = capped[next_cap]
                cap_bps = cast(float, cap_flow.cap_bps)
            else:
                cap_bps, cap_flow = math.inf, None
            # The heap orders entries (share, resource 0 / cap 1, index).
            if best is not None and best_share <= cap_bps:
                bott = best
                members: list[Flow] | tuple[Flow, ...] = [
                    f for f in bott.flows.values() if not f._frozen
                ]
                rate = best_share
            else:
                # Unfrozen flows left and no resource shares among them: a capped one.
                assert cap_flow is not None
                bott = None
                members = (cap_flow,)
                rate = cap_bps
            if not rate > 0.0:
                rate = 0.0
            left -= len(members)
            for f in members:  # _freeze, written out
                f._frozen = True
                f._new = rate
                f.bottleneck = bott
                for r in f.route:
                    r._rem -= rate
                    r._n -= 1

    @staticmethod
    def _fill(resources: list[BandwidthResource], flows: list[Flow]) -> None:
        """Progressive filling over one component: repeatedly freeze the flows of the
        resource (or private cap) with the smallest fair share."""
        heappop, heappush = heapq.heappop, heapq.heappush
        # (share, 0, resource index, BandwidthResource) or (cap, 1, flow id, Flow).
        heap: list[tuple[float, int, int, Any]] = []
        for res in resources:
            res._rem = rem = res.capacity_bps
            res._n = n = len(res.flows)
            if n:
                heap.append((rem / n, 0, res.index, res))
        # A flow's own cap acts as a private resource shared by one flow.
        for f in flows:
            f._frozen = False
            if f.cap_bps is not None:
                heap.append((f.cap_bps, 1, f.id, f))
        heapq.heapify(heap)
        left = len(flows)  # flows not yet frozen: the rest of the heap is stale at 0
        while left:
            share, tag, _, obj = heappop(heap)
            members: list[Flow] | tuple[Flow, ...]
            bott: BandwidthResource | None
            if tag == 1:  # a flow's private cap
                capped: Flow = obj
                if capped._frozen:
                    continue
                members = (capped,)
                bott = None
            else:
                res = obj  # a BandwidthResource (typed by the loop above)
                # An entry is current iff it equals the share computed the same way
                # from the resource's present state: every change to _rem/_n pushes a
                # fresh entry. (A tolerance here would accept stale entries whenever
                # shares are small, e.g. 5 instead of 8 at a 1e-10 scale.)
                n = res._n
                if n == 0 or share != (res._rem if res._rem > 0.0 else 0.0) / n:
                    continue  # stale entry
                members = [f for f in res.flows.values() if not f._frozen]
                bott = res
            rate = share if share > 0.0 else 0.0
            touched: dict[int, BandwidthResource] = {}
            left -= len(members)
            _freeze(members, rate, bott, touched)
            # One fresh heap entry per touched resource (shares only grow, so older
            # entries are smaller and get skipped as stale).
            for r in touched.values():
                if r._n > 0 and r is not bott:
                    rem = r._rem if r._rem > 0.0 else 0.0
                    heappush(heap, (rem / r._n, 0, r.index, r))

    def _arm_timer(self, part: int = 0) -> None:
        heap = self._heaps[part]
        while heap and heap[0][2] != heap[0][3].version:
            heapq.heappop(heap)
        if not heap:
            self._timer_at[part] = None
            return
        at = heap[0][0]
        pending = self._timer_at[part]
        if pending is not None and pending <= at:
            return  # the pending timer fires first and re-arms
        if at == math.inf:
            # A rate so near zero that the end overflows the clock: the flow never
            # ends, and an event at infinity would only hide it (run_world ends with
            # no event left and this transfer still under way, see transfers_left).
            return
        self._timer_version[part] += 1
        self._timer_at[part] = at
        version = self._timer_version[part]
        timer = self.env.timeout(max(at - self.env.now, 0.0))
        timer.callbacks.append(lambda _ev: self._on_timer(part, version))

    def _on_timer(self, part: int, version: int) -> None:
        if version != self._timer_version[part]:
            return
        self._timer_at[part] = None
        now = self.env.now
        heap = self._heaps[part]
        finished: list[Flow] = []
        while heap:
            at, _, ver, f = heap[0]
            if ver != f.version:
                heapq.heappop(heap)
                continue
            if at > now and (at - now) * f.rate > _EPS_BYTES:
                break
            heapq.heappop(heap)
            finished.append(f)
        seeds: list[BandwidthResource] = []
        for f in finished:
            self._settle(f, now)
            # Credit the float residue so bytes sent equal bytes received.
            for res in f.route:
                res.bytes_total += f.remaining
                del res.flows[f.id]
                if not res.flows and res._busy_since is not None:
                    res.busy_s += now - res._busy_since
                    res._busy_since = None
            f.remaining = 0.0
            f.version += 1
            self.active -= 1
            self.finished_flows += 1
            self.bytes_delivered += f.size
            if self._part_of:
                self._part_bytes[f.part][1] += f.size
            seeds.extend(f.route)
        if seeds:
            self._reallocate(seeds)
        else:
            self._arm_timer(part)
        for f in finished:
            done = f.done
            if done is not None:  # always: only transfers (not streams) are timed
                done.succeed(now - f.started)

    def transfers_left(self) -> bool:
        """Whether a transfer (not an open-ended stream) is still under way."""
        return any(
            f.done is not None for res in self.resources.values() for f in res.flows.values()
        )

    def close_accounting(self) -> None:
        """Settle running flows and busy periods at the end of a run."""
        now = self.env.now
        for res in self.resources.values():
            for f in res.flows.values():
                self._settle(f, now)
            if res._busy_since is not None:
                res.busy_s += now - res._busy_since
                res._busy_since = None
