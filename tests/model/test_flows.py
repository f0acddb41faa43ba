"""FlowNetwork (hvsim/model/flows.py) against hand calculations, theory and a slow,
exact reference.

Units throughout: bytes and bytes per second. Expected values come from:

* hand calculations (stated next to each test);
* work conservation: a link that is never idle while work remains finishes the
  total work W at W / bandwidth, whatever the order or the sharing;
* the max-min fairness characterisation (Bertsekas & Gallager, Data Networks,
  §6.5.2): a feasible allocation is max-min fair iff every flow either runs at its
  cap or crosses a saturated resource on which no other flow runs faster;
* a from-scratch progressive-filling allocation and fluid simulation, both in
  exact rational arithmetic (``fractions.Fraction``), so they need no tolerances.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest import approx

import hvsim.model.flows as flows_module
from hvsim.model.flows import FlowNetwork

# --------------------------------------------------------------------------------------
# helpers


def _net(*capacities: float) -> tuple[simpy.Environment, FlowNetwork, list]:
    env = simpy.Environment()
    net = FlowNetwork(env)
    res = [net.add_resource(f"r{i}", "network", c) for i, c in enumerate(capacities)]
    return env, net, res


def _run_transfers(env, net, specs, limit: int | None = None) -> list[float]:
    """Run transfers given as (start_s, nbytes, route, cap) to completion; return each
    one's finish time. With ``limit``, a simpy.Resource of that capacity bounds how
    many run at once: each process requests a slot, transfers, releases."""
    slots = simpy.Resource(env, capacity=limit) if limit is not None else None
    finish = [float("nan")] * len(specs)

    def one(i, start, nbytes, route, cap):
        if start > 0:
            yield env.timeout(start)
        if slots is None:
            yield net.transfer(nbytes, route, cap)
        else:
            with slots.request() as req:
                yield req
                yield net.transfer(nbytes, route, cap)
        finish[i] = env.now

    for i, spec in enumerate(specs):
        env.process(one(i, *spec))
    env.run()
    return finish


def _rates_by_size(resources) -> dict[float, float]:
    """Rate of each running flow, keyed by its size (tests give flows distinct sizes
    so that they do not depend on how FlowNetwork numbers its flows)."""
    return {f.size: f.rate for r in resources for f in r.flows.values()}


# --------------------------------------------------------------------------------------
# 1. N identical transfers over one saturated link, with a concurrency limit

LIMITS = {
    "limit=1": lambda n: 1,
    "limit=2": lambda n: 2,
    "limit=3": lambda n: 3,
    "limit=N": lambda n: n,
}


@pytest.mark.parametrize("limit_of", LIMITS.values(), ids=LIMITS.keys())
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 20),
    nbytes=st.floats(1e3, 1e12),
    bandwidth=st.floats(1.0, 1e11),
)
def test_n_identical_transfers_on_one_link_finish_at_n_bytes_over_bandwidth_for_any_limit(
    limit_of, n, nbytes, bandwidth
):
    """With at most k running, the k in a wave share the link (bandwidth / k each),
    so they all end together after k x bytes / bandwidth and free k slots at once.
    Transfer i (0-based, in FIFO order) is in wave i // k and ends at
    min((i // k + 1) x k, N) x bytes / bandwidth; the last at N x bytes / bandwidth."""
    k = limit_of(n)
    env, net, (link,) = _net(bandwidth)
    finish = _run_transfers(env, net, [(0.0, nbytes, [link], None)] * n, limit=k)
    expected = [min((i // k + 1) * k, n) * nbytes / bandwidth for i in range(n)]
    assert sorted(finish) == approx(expected, rel=1e-9)
    assert env.now == approx(n * nbytes / bandwidth, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 20),
    limit=st.integers(1, 30),
    nbytes=st.floats(1e3, 1e12),
    bandwidth=st.floats(1.0, 1e11),
)
def test_n_identical_transfers_finish_at_n_bytes_over_bandwidth_for_any_limit_at_least_one(
    n, limit, nbytes, bandwidth
):
    """Work conservation: the link is never idle while a transfer waits, so the last
    one ends at N x bytes / bandwidth (a limit above N changes nothing)."""
    env, net, (link,) = _net(bandwidth)
    finish = _run_transfers(env, net, [(0.0, nbytes, [link], None)] * n, limit=limit)
    assert max(finish) == approx(n * nbytes / bandwidth, rel=1e-9)
    assert link.bytes_total == approx(n * nbytes, rel=1e-9)


# --------------------------------------------------------------------------------------
# 2. Two flows sharing a link; a flow on another link is unaffected


def test_two_flows_sharing_a_link_get_equal_rates_and_a_flow_on_another_link_is_unaffected():
    """Links A and B, 100 B/s each, 300 bytes per flow. f1, f2 on A: 50 B/s each,
    ending at 2 x 300 / 100 = 6 s. f3 alone on B: 100 B/s, ending at 300 / 100 = 3 s."""
    env, net, (a, b) = _net(100.0, 100.0)
    specs = [(0, 300, [a], None), (0, 300, [a], None), (0, 300, [b], None)]
    for _, nbytes, route, cap in specs:
        net.transfer(nbytes, route, cap)
    assert [f.rate for f in a.flows.values()] == approx([50.0, 50.0])
    assert [f.rate for f in b.flows.values()] == approx([100.0])

    env, net, (a, b) = _net(100.0, 100.0)
    assert _run_transfers(env, net, specs) == approx([6.0, 6.0, 3.0])


@settings(max_examples=30, deadline=None)
@given(nbytes=st.floats(1e3, 1e12), bandwidth=st.floats(1.0, 1e11))
def test_two_flows_started_together_on_a_link_each_finish_at_twice_bytes_over_bandwidth(
    nbytes, bandwidth
):
    """Equal shares bandwidth / 2 -> 2 x bytes / bandwidth; a third flow on an equal
    but separate link runs at full bandwidth -> bytes / bandwidth."""
    env, net, (a, b) = _net(bandwidth, bandwidth)
    specs = [(0, nbytes, [a], None), (0, nbytes, [a], None), (0, nbytes, [b], None)]
    finish = _run_transfers(env, net, specs)
    t = nbytes / bandwidth
    assert finish == approx([2 * t, 2 * t, t], rel=1e-9)


# --------------------------------------------------------------------------------------
# 3. Max-min fair shares on a two-link topology, by hand


def test_max_min_shares_on_two_links_by_hand_and_completion_times():
    """A = 10 B/s, B = 4 B/s. f1 on A; f2 on A and B; f3 on B.

    Progressive filling: A's fair share is 10/2 = 5, B's is 4/2 = 2, so B saturates
    first: f2 = f3 = 2. A has 10 - 2 = 8 left for f1 alone: f1 = 8.

    Sizes f1 = 16, f2 = 30, f3 = 10 bytes:
      t = 2 s: f1 done (16 / 8); f2 and f3 have 4 sent each. B still bottlenecks
               f2 and f3 at 2 each (A now carries only f2).
      t = 5 s: f3 done (6 left at 2 -> 3 s); f2 has 10 sent, 20 left.
      then f2 alone: min(A, B) = 4 B/s -> 20 / 4 = 5 s, done at t = 10 s.
    Check: B carried 40 bytes at 4 B/s without idling: 10 s.
    """
    env, net, (a, b) = _net(10.0, 4.0)
    finish: dict[str, float] = {}
    rates: dict[float, dict[float, float]] = {}

    def probe(t):
        yield env.timeout(t)
        rates[t] = _rates_by_size([a, b])

    for name, nbytes, route in (("f1", 16.0, [a]), ("f2", 30.0, [a, b]), ("f3", 10.0, [b])):
        done = net.transfer(nbytes, route)
        done.callbacks.append(lambda _ev, name=name: finish.__setitem__(name, env.now))
    for t in (1.0, 3.0, 7.0):
        env.process(probe(t))
    # Right after the three starts (time 0):
    assert _rates_by_size([a, b]) == approx({16.0: 8.0, 30.0: 2.0, 10.0: 2.0})
    assert a.load_bps == approx(10.0) and b.load_bps == approx(4.0)
    env.run()
    assert rates[1.0] == approx({16.0: 8.0, 30.0: 2.0, 10.0: 2.0})
    assert rates[3.0] == approx({30.0: 2.0, 10.0: 2.0})
    assert rates[7.0] == approx({30.0: 4.0})
    assert finish == approx({"f1": 2.0, "f2": 10.0, "f3": 5.0})


def test_max_min_shares_on_a_three_link_chain_by_hand():
    """Classic "parking lot": links L1 = L2 = L3 = 12. The long flow crosses all
    three; L1 also carries 2 short flows, L2 one, L3 none.
    Fair shares: L1 12/3 = 4, L2 12/2 = 6, L3 12/1 = 12 -> L1 first: long = 4 and
    its two short flows 4 each. L2 left 12 - 4 = 8 for its short flow -> 8.
    L3 carries only the long flow: 4 (unsaturated)."""
    env, net, (l1, l2, l3) = _net(12.0, 12.0, 12.0)
    net.transfer(1000.0, [l1, l2, l3])  # long
    net.transfer(1001.0, [l1])
    net.transfer(1002.0, [l1])
    net.transfer(1003.0, [l2])
    assert _rates_by_size([l1, l2, l3]) == approx(
        {1000.0: 4.0, 1001.0: 4.0, 1002.0: 4.0, 1003.0: 8.0}
    )
    assert l3.load_bps == approx(4.0)


# --------------------------------------------------------------------------------------
# 4. Rate caps


def test_a_rate_cap_limits_its_flow_and_frees_the_rest_of_the_link_for_others():
    """Link 100 B/s; f1 capped at 20, f2 uncapped. Equal shares would be 50, but f1
    wants only 20: f1 = 20, f2 = 100 - 20 = 80.
    f1 = 40 bytes -> 2 s. f2 = 400 bytes: 160 by 2 s, then 240 alone at 100 -> 4.4 s."""
    env, net, (link,) = _net(100.0)
    net.transfer(40.0, [link], cap_bps=20.0)
    net.transfer(400.0, [link])
    assert _rates_by_size([link]) == approx({40.0: 20.0, 400.0: 80.0})

    env, net, (link,) = _net(100.0)
    specs = [(0, 40.0, [link], 20.0), (0, 400.0, [link], None)]
    assert _run_transfers(env, net, specs) == approx([2.0, 4.4])


def test_a_rate_cap_above_the_fair_share_changes_nothing():
    """Link 100 B/s, two flows, one capped at 70: fair share 50 < 70, so 50 / 50."""
    env, net, (link,) = _net(100.0)
    net.transfer(1000.0, [link], cap_bps=70.0)
    net.transfer(1001.0, [link])
    assert _rates_by_size([link]) == approx({1000.0: 50.0, 1001.0: 50.0})


def test_a_capped_flow_frees_capacity_on_every_resource_of_its_route():
    """A = 10, B = 10. f1 on A and B capped at 1; f2 on A; f3 on B.
    f1 = 1 (cap), f2 = 10 - 1 = 9 on A, f3 = 10 - 1 = 9 on B."""
    env, net, (a, b) = _net(10.0, 10.0)
    net.transfer(1000.0, [a, b], cap_bps=1.0)
    net.transfer(1001.0, [a])
    net.transfer(1002.0, [b])
    assert _rates_by_size([a, b]) == approx({1000.0: 1.0, 1001.0: 9.0, 1002.0: 9.0})


def test_a_transfer_with_only_a_cap_takes_bytes_over_cap():
    """No route, cap 25 B/s, 100 bytes -> 4 s."""
    env, net, _ = _net()
    assert _run_transfers(env, net, [(0, 100.0, [], 25.0)]) == approx([4.0])


def test_a_non_positive_cap_is_rejected_rather_than_never_finishing():
    env, net, (link,) = _net(100.0)
    with pytest.raises(ValueError):
        net.transfer(10.0, [link], cap_bps=0.0)
    with pytest.raises(ValueError):
        net.transfer(10.0, [link], cap_bps=-1.0)
    assert net.active == 0 and not link.flows


def test_a_route_crossing_a_resource_twice_is_rejected():
    env, net, (link,) = _net(100.0)
    with pytest.raises(ValueError):
        net.transfer(10.0, [link, link])
    assert net.active == 0 and not link.flows


# --------------------------------------------------------------------------------------
# 5. Work conservation


def test_when_a_flow_ends_the_remaining_flows_speed_up():
    """Link 300 B/s; 100, 200 and 300 bytes start together at 100 B/s each.
    t = 1 s: the 100 B flow ends; the others have 100 and 200 left, now at 150.
    t = 1 + 100/150 = 5/3 s: the 200 B flow ends; the last has 100 left, at 300.
    t = 5/3 + 100/300 = 2 s: the 300 B flow ends (= 600 bytes / 300 B/s)."""
    env, net, (link,) = _net(300.0)
    seen: dict[float, dict[float, float]] = {}

    def probe(t):
        yield env.timeout(t)
        seen[t] = _rates_by_size([link])

    env.process(probe(0.5))
    env.process(probe(1.5))
    env.process(probe(1.9))
    specs = [(0, 100.0, [link], None), (0, 200.0, [link], None), (0, 300.0, [link], None)]
    assert _run_transfers(env, net, specs) == approx([1.0, 5 / 3, 2.0])
    assert seen[0.5] == approx({100.0: 100.0, 200.0: 100.0, 300.0: 100.0})
    assert seen[1.5] == approx({200.0: 150.0, 300.0: 150.0})
    assert seen[1.9] == approx({300.0: 300.0})


@st.composite
def _busy_arrivals(draw):
    """Sizes and start times such that the link is never idle: the first flow starts
    at 0 and flow i starts no later than (bytes of flows 0..i-1) / bandwidth, the time
    by which a work-conserving link would have drained everything before it."""
    bandwidth = draw(st.floats(1.0, 1e10))
    sizes = draw(st.lists(st.floats(1e4, 1e10), min_size=1, max_size=15))
    fractions = draw(st.lists(st.floats(0.0, 1.0), min_size=len(sizes), max_size=len(sizes)))
    starts, prefix, t = [], 0.0, 0.0
    for size, u in zip(sizes, fractions, strict=True):
        t = t + u * (prefix / bandwidth - t)  # between the previous start and the drain time
        starts.append(t)
        prefix += size
    return bandwidth, sizes, starts


@settings(max_examples=80, deadline=None)
@given(_busy_arrivals())
def test_a_never_idle_link_delivers_total_bytes_in_total_over_bandwidth_whatever_the_arrivals(
    case,
):
    """Staggered starts, unequal sizes, all flows uncapped so each reallocation gives
    the link's whole capacity to whoever is present: the last flow ends at
    sum(sizes) / bandwidth."""
    bandwidth, sizes, starts = case
    env, net, (link,) = _net(bandwidth)
    specs = [(s, b, [link], None) for s, b in zip(starts, sizes, strict=True)]
    finish = _run_transfers(env, net, specs)
    assert max(finish) == approx(sum(sizes) / bandwidth, rel=1e-6)
    assert link.busy_s == approx(sum(sizes) / bandwidth, rel=1e-6)


# --------------------------------------------------------------------------------------
# 6. A slow, obviously correct reference


def reference_max_min(capacities, routes, caps) -> list[Fraction]:
    """Max-min fair rates by progressive filling, in exact arithmetic.

    Raise every unfrozen flow's rate by the same amount, the largest that keeps every
    resource within capacity and every flow within its cap; then freeze the flows on
    each resource that is now full and each flow now at its cap; repeat until all
    are frozen. Each round freezes at least one flow (the one that set the step).
    """
    n = len(routes)
    capacity = [Fraction(c) for c in capacities]
    cap = [None if c is None else Fraction(c) for c in caps]
    rate = [Fraction(0)] * n
    frozen = [False] * n
    while not all(frozen):
        steps = []
        for r, c in enumerate(capacity):
            users = [i for i in range(n) if r in routes[i]]
            growing = [i for i in users if not frozen[i]]
            if growing:
                steps.append((c - sum(rate[i] for i in users)) / len(growing))
        for i in range(n):
            if not frozen[i] and cap[i] is not None:
                steps.append(cap[i] - rate[i])
        step = min(steps)
        for i in range(n):
            if not frozen[i]:
                rate[i] += step
        for r, c in enumerate(capacity):
            users = [i for i in range(n) if r in routes[i]]
            if users and sum(rate[i] for i in users) == c:
                for i in users:
                    frozen[i] = True
        for i in range(n):
            if cap[i] is not None and rate[i] == cap[i]:
                frozen[i] = True
    return rate


def test_the_reference_reproduces_the_hand_calculated_two_link_example():
    # A = 10, B = 4; f1 on A, f2 on A and B, f3 on B -> 8, 2, 2 (see above).
    assert reference_max_min([10, 4], [{0}, {0, 1}, {1}], [None] * 3) == [8, 2, 2]
    # Link 100, a flow capped at 20 and one uncapped -> 20, 80.
    assert reference_max_min([100], [{0}, {0}], [20, None]) == [20, 80]


def _routes(n_res: int, n_flows: int):
    """Per flow a non-empty route: a set of resource indices."""
    return st.lists(
        st.sets(st.integers(0, n_res - 1), min_size=1, max_size=n_res),
        min_size=n_flows,
        max_size=n_flows,
    )


@st.composite
def _topologies(draw, max_resources=6, max_flows=12):
    """Capacities, and per flow a non-empty route (a set of resources) and an
    optional cap. Capacities span a factor 1e4 times a common unit (1e-6..1e6),
    so that the allocation is exercised at every scale, not just around 1 B/s."""
    unit = draw(st.sampled_from([1e-6, 1e-3, 1.0, 1e3, 1e6]))
    n_res = draw(st.integers(1, max_resources))
    capacities = draw(st.lists(st.floats(1.0, 1e4), min_size=n_res, max_size=n_res))
    n_flows = draw(st.integers(1, max_flows))
    routes = draw(_routes(n_res, n_flows))
    caps = draw(
        st.lists(
            st.one_of(st.none(), st.none(), st.floats(0.1, 1e4)),
            min_size=n_flows,
            max_size=n_flows,
        )
    )
    return (
        [c * unit for c in capacities],
        routes,
        [None if c is None else c * unit for c in caps],
    )


def _start_all(capacities, routes, caps, sizes=None):
    """Start every flow at time 0 (flow i has a distinct size, 1e9 + i unless given)."""
    env, net, res = _net(*capacities)
    sizes = sizes or [1e9 + i for i in range(len(routes))]
    for route, cap, size in zip(routes, caps, sizes, strict=True):
        net.transfer(size, [res[r] for r in sorted(route)], cap)
    return env, net, res, sizes


@settings(max_examples=150, deadline=None)
@given(_topologies())
def test_rates_after_all_flows_start_equal_the_progressive_filling_reference(topology):
    capacities, routes, caps = topology
    _, _, res, sizes = _start_all(capacities, routes, caps)
    got = _rates_by_size(res)
    want = reference_max_min(capacities, routes, caps)
    assert [got[s] for s in sizes] == approx([float(w) for w in want], rel=1e-6)


@settings(max_examples=100, deadline=None)
@given(_topologies())
def test_rates_after_all_flows_start_satisfy_the_max_min_fairness_characterisation(topology):
    """Feasible (no resource over capacity, no flow over its cap) and every flow is
    either at its cap or has a bottleneck: a saturated resource on its route on which
    no other flow runs faster. That characterises the max-min fair allocation."""
    capacities, routes, caps = topology
    _, _, res, sizes = _start_all(capacities, routes, caps)
    flow_of = {f.size: f for r in res for f in r.flows.values()}
    rate = [flow_of[s].rate for s in sizes]
    tol = 1e-9
    for r, c in enumerate(capacities):
        assert sum(rate[i] for i, route in enumerate(routes) if r in route) <= c * (1 + tol)
    for i, route in enumerate(routes):
        assert rate[i] > 0
        if caps[i] is not None:
            assert rate[i] <= caps[i] * (1 + tol)
            if rate[i] >= caps[i] * (1 - tol):
                continue
        bottlenecks = [
            r
            for r in route
            if sum(rate[j] for j, rj in enumerate(routes) if r in rj) >= capacities[r] * (1 - tol)
            and all(rate[j] <= rate[i] * (1 + tol) for j, rj in enumerate(routes) if r in rj)
        ]
        assert bottlenecks, f"flow {i} at {rate[i]} has no bottleneck"


@settings(max_examples=40, deadline=None)
@given(_topologies(), st.sampled_from([1e-9, 1e-3, 1e3, 1e9]))
def test_max_min_rates_scale_with_the_unit_of_capacity(topology, scale):
    """Multiplying every capacity and cap by s multiplies every max-min rate by s
    (the allocation is homogeneous of degree one)."""
    capacities, routes, caps = topology
    _, _, res1, sizes = _start_all(capacities, routes, caps)
    scaled_caps = [None if c is None else c * scale for c in caps]
    _, _, res2, _ = _start_all([c * scale for c in capacities], routes, scaled_caps)
    r1, r2 = _rates_by_size(res1), _rates_by_size(res2)
    assert [r2[s] for s in sizes] == approx([r1[s] * scale for s in sizes], rel=1e-6)


def _rates_with_small_component_limit(limit, capacities, routes, caps):
    """Rates after starting every flow, with components up to ``limit`` filled by the
    linear scan and bigger ones by the heap."""
    saved = flows_module._SMALL_COMPONENT
    flows_module._SMALL_COMPONENT = limit
    try:
        _, _, res, sizes = _start_all(capacities, routes, caps)
        got = _rates_by_size(res)
        bott = {
            f.size: (f.bottleneck.name if f.bottleneck else None)
            for r in res
            for f in r.flows.values()
        }
    finally:
        flows_module._SMALL_COMPONENT = saved
    return [got[s] for s in sizes], [bott[s] for s in sizes]


@st.composite
def _tied_topologies(draw):
    """Small integer capacities and caps, so that fair shares and caps tie often."""
    n_res = draw(st.integers(1, 5))
    capacities = draw(st.lists(st.integers(1, 4), min_size=n_res, max_size=n_res))
    n_flows = draw(st.integers(1, 8))
    routes = draw(_routes(n_res, n_flows))
    caps = draw(
        st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=n_flows, max_size=n_flows)
    )
    return [float(c) for c in capacities], routes, [None if c is None else float(c) for c in caps]


@settings(max_examples=300, deadline=None)
@given(st.one_of(_topologies(), _tied_topologies()))
def test_linear_scan_and_heap_filling_give_identical_rates_and_bottlenecks(topology):
    """Small components are filled by linear scans, big ones with a heap: the two must
    pick the same bottleneck at every step (same tie-break), so the rates are equal
    to the last bit, not just approximately."""
    capacities, routes, caps = topology
    linear = _rates_with_small_component_limit(10**9, capacities, routes, caps)
    heap = _rates_with_small_component_limit(0, capacities, routes, caps)
    assert linear == heap


@settings(max_examples=15, deadline=None)
@given(_topologies(max_resources=30, max_flows=40))
def test_rates_of_components_too_big_for_the_linear_scan_equal_the_reference(topology):
    capacities, routes, caps = topology
    got, _ = _rates_with_small_component_limit(0, capacities, routes, caps)
    want = reference_max_min(capacities, routes, caps)
    assert got == approx([float(w) for w in want], rel=1e-6)


def reference_fluid_run(capacities, routes, caps, sizes, starts) -> list[Fraction]:
    """Exact fluid simulation: between events every active flow moves at its
    reference max-min rate; events are starts and completions. Returns finish times."""
    n = len(routes)
    sizes = [Fraction(s) for s in sizes]
    starts = [Fraction(s) for s in starts]
    left = list(sizes)
    finish: list[Fraction | None] = [None] * n
    now = Fraction(0)
    while any(f is None for f in finish):
        active = [i for i in range(n) if finish[i] is None and starts[i] <= now]
        rates = dict(
            zip(
                active,
                reference_max_min(
                    capacities, [routes[i] for i in active], [caps[i] for i in active]
                ),
                strict=True,
            )
        )
        nexts = [starts[i] for i in range(n) if starts[i] > now]
        nexts += [now + left[i] / rates[i] for i in active]
        t = min(nexts)
        for i in active:
            left[i] -= rates[i] * (t - now)
            if left[i] == 0:
                finish[i] = t
        now = t
    return finish  # type: ignore[return-value]


@settings(max_examples=60, deadline=None)
@given(
    _topologies(max_resources=4, max_flows=8).flatmap(
        lambda topo: st.tuples(
            st.just(topo),
            st.lists(st.floats(1e6, 1e9), min_size=len(topo[1]), max_size=len(topo[1])),
            st.lists(
                st.one_of(st.just(0.0), st.floats(0.0, 1e3)),
                min_size=len(topo[1]),
                max_size=len(topo[1]),
            ),
        )
    )
)
def test_completion_times_with_staggered_starts_match_an_exact_fluid_reference(case):
    """Rates change at every start and end; each transfer must end when the exact
    fluid model says (this exercises the completion timer and its versioning)."""
    (capacities, routes, caps), sizes, starts = case
    starts = [s / min(capacities) for s in starts]  # keep starts within the busy period
    env, net, res = _net(*capacities)
    specs = [
        (start, size, [res[r] for r in sorted(route)], cap)
        for start, size, route, cap in zip(starts, sizes, routes, caps, strict=True)
    ]
    got = _run_transfers(env, net, specs)
    want = reference_fluid_run(capacities, routes, caps, sizes, starts)
    assert got == approx([float(w) for w in want], rel=1e-6)


# --------------------------------------------------------------------------------------
# 7. Accounting


@settings(max_examples=60, deadline=None)
@given(
    _topologies().flatmap(
        lambda topo: st.tuples(
            st.just(topo),
            st.lists(st.floats(1.0, 1e9), min_size=len(topo[1]), max_size=len(topo[1])),
            st.lists(st.floats(0.0, 1e3), min_size=len(topo[1]), max_size=len(topo[1])),
        )
    )
)
def test_after_all_flows_end_each_resource_carried_the_bytes_of_the_flows_crossing_it(case):
    """Every byte of a transfer crosses every resource of its route once, so each
    resource's bytes_total is the sum of the sizes of the flows crossing it, and the
    network delivers what it started."""
    (capacities, routes, caps), sizes, starts = case
    env, net, res = _net(*capacities)
    specs = [
        (start, size, [res[r] for r in sorted(route)], cap)
        for start, size, route, cap in zip(starts, sizes, routes, caps, strict=True)
    ]
    _run_transfers(env, net, specs)
    for r, resource in enumerate(res):
        crossing = sum(size for size, route in zip(sizes, routes, strict=True) if r in route)
        assert resource.bytes_total == approx(crossing, rel=1e-9)
        assert not resource.flows
        assert resource.busy_s <= env.now * (1 + 1e-12)
    assert net.bytes_started == approx(sum(sizes), rel=1e-12)
    assert net.bytes_started == approx(net.bytes_delivered, rel=1e-12)
    assert net.active == 0
    assert net.started_flows == net.finished_flows == len(sizes)


def test_a_link_busy_alone_for_a_known_time_reports_that_busy_time():
    """Link 100 B/s: 100 bytes at t = 0 (done at 1 s), 200 bytes at t = 3 (done at
    5 s): busy 1 + 2 = 3 s of 5, carrying 300 bytes."""
    env, net, (link,) = _net(100.0)
    finish = _run_transfers(env, net, [(0, 100.0, [link], None), (3, 200.0, [link], None)])
    assert finish == approx([1.0, 5.0])
    assert link.busy_s == approx(3.0)
    assert link.bytes_total == approx(300.0)


# --------------------------------------------------------------------------------------
# 8. Zero-byte transfers


def test_a_zero_byte_transfer_completes_immediately_without_disturbing_others():
    """A 0-byte transfer's event is already triggered; a process yielding it resumes
    at the same time. A 100-byte flow on the same 100 B/s link still ends at 1 s."""
    env, net, (link,) = _net(100.0)
    assert net.transfer(0, [link]).triggered
    assert net.active == 0 and not link.flows and net.bytes_started == 0
    finish = _run_transfers(env, net, [(0, 100.0, [link], None), (0.5, 0.0, [link], None)])
    assert finish == approx([1.0, 0.5])
    assert net.started_flows == 1


def test_open_streams_with_one_bad_spec_opens_none():
    """Validation happens before any stream touches a resource."""
    env, net, (link,) = _net(100.0)
    with pytest.raises(ValueError):
        net.open_streams([([link], 10.0), ([link, link], 10.0)])
    with pytest.raises(ValueError):
        net.open_streams([([link], 10.0), ([link], 0.0)])
    assert net.active == 0 and not link.flows


# --------------------------------------------------------------------------------------
# capacity changes (a throttled uplink)


def test_capacity_change_mid_transfer_settles_and_finishes_at_the_new_rate():
    # 1000 B over a 100 B/s resource; at t = 4 s the capacity drops to 50 B/s.
    # By then 4 x 100 = 400 B are sent; the other 600 B take 600 / 50 = 12 s: the end
    # moves from 10 s to 4 + 12 = 16 s.
    env, net, (r,) = _net(100.0)
    done = net.transfer(1000.0, (r,))

    def throttle():
        yield env.timeout(4.0)
        net.set_capacity(r, 50.0)

    env.process(throttle())
    env.run(done)
    assert env.now == approx(16.0)
    assert r.bytes_total == approx(1000.0)
    assert r.peak_capacity_bps == 100.0


def test_capacity_rise_mid_transfer_brings_the_end_forward_for_every_sharer():
    # Two 1000 B transfers share 100 B/s (50 B/s each); at t = 10 s each has 500 B
    # left and the capacity rises to 400 B/s (200 B/s each): 500 / 200 = 2.5 s more,
    # both end at 12.5 s (not at 20 s as before the change).
    env, net, (r,) = _net(100.0)
    a = net.transfer(1000.0, (r,))
    b = net.transfer(1000.0, (r,))

    def throttle():
        yield env.timeout(10.0)
        net.set_capacity(r, 400.0)

    env.process(throttle())
    env.run(env.all_of([a, b]))
    assert env.now == approx(12.5)
    assert r.peak_capacity_bps == 400.0


def test_capacity_change_of_a_resource_that_is_not_the_bottleneck_changes_nothing():
    # A flow over r0 (100 B/s) and r1 (1000 B/s) runs at 100 B/s; r1 dropping to
    # 500 B/s leaves it the wider one: 1000 B still take 10 s.
    env, net, (r0, r1) = _net(100.0, 1000.0)
    done = net.transfer(1000.0, (r0, r1))

    def throttle():
        yield env.timeout(3.0)
        net.set_capacity(r1, 500.0)

    env.process(throttle())
    env.run(done)
    assert env.now == approx(10.0)


def test_capacity_must_stay_positive():
    env, net, (r,) = _net(100.0)
    with pytest.raises(ValueError, match="capacity must be positive"):
        net.set_capacity(r, 0.0)
