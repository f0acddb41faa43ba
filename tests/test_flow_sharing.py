"""Flow-level bandwidth sharing against hand calculations and a slow reference."""

from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest import approx

from hvsim.model.flows import FlowNetwork


def _finish_times(net: FlowNetwork, env: simpy.Environment, specs, limit=None) -> list[float]:
    """Run transfers (start_s, bytes, route, cap) and return each one's finish time."""
    slots = simpy.Resource(env, capacity=limit) if limit else None
    done: list[float] = [0.0] * len(specs)

    def one(i, start, nbytes, route, cap):
        if start:
            yield env.timeout(start)
        if slots is None:
            yield net.transfer(nbytes, route, cap)
        else:
            with slots.request() as req:
                yield req
                yield net.transfer(nbytes, route, cap)
        done[i] = env.now

    for i, (start, nbytes, route, cap) in enumerate(specs):
        env.process(one(i, start, nbytes, route, cap))
    env.run()
    return done


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 20),
    limit=st.integers(1, 25),
    nbytes=st.floats(1e3, 1e12),
    bandwidth=st.floats(1e3, 1e10),
)
def test_n_transfers_over_one_saturated_link_take_n_times_bytes_over_bandwidth(
    n, limit, nbytes, bandwidth
):
    # Whatever the concurrency limit, the link is never idle while work remains,
    # so the last transfer ends at n x bytes / bandwidth (work conservation).
    env = simpy.Environment()
    net = FlowNetwork(env)
    link = net.add_resource("link", "network", bandwidth)
    done = _finish_times(net, env, [(0.0, nbytes, [link], None)] * n, limit=limit)
    assert max(done) == approx(n * nbytes / bandwidth, rel=1e-9)
    assert link.bytes_total == approx(n * nbytes, rel=1e-9)
    assert net.bytes_started == approx(net.bytes_delivered, rel=1e-12)


def test_two_flows_sharing_a_link_get_equal_rates_and_another_link_is_unaffected():
    # Link A (100 B/s) carries two 100-byte flows: 50 B/s each, both end at 2 s.
    # Link B (100 B/s) carries one 100-byte flow alone: it ends at 1 s.
    env = simpy.Environment()
    net = FlowNetwork(env)
    a = net.add_resource("A", "network", 100.0)
    b = net.add_resource("B", "network", 100.0)
    done = _finish_times(net, env, [(0, 100, [a], None), (0, 100, [a], None), (0, 100, [b], None)])
    assert done == approx([2.0, 2.0, 1.0])


def test_max_min_fair_shares_on_two_links_by_hand():
    # A = 10, B = 4. f1 on A; f2 on A and B; f3 on B. B's fair share (2) is the
    # smallest: f2 = f3 = 2; f1 takes what A has left: 10 - 2 = 8.
    env = simpy.Environment()
    net = FlowNetwork(env)
    a = net.add_resource("A", "network", 10.0)
    b = net.add_resource("B", "network", 4.0)
    net.transfer(80, [a])
    net.transfer(20, [a, b])
    net.transfer(40, [b])
    rates = sorted((f.id, f.rate) for r in (a, b) for f in r.flows.values())
    assert dict(rates) == approx({0: 8.0, 1: 2.0, 2: 2.0})
    # f1: 80 B at 8 -> 10 s; f2: 20 B at 2 -> 10 s; f3: 20 B at 2 in 10 s, then B
    # alone (4 B/s) for the last 20 B -> 15 s.
    env.run()
    assert env.now == approx(15.0)


def test_a_rate_cap_limits_one_flow_and_frees_the_rest_for_the_others():
    # Link 100: a flow capped at 20 and an uncapped one: 20 and 80.
    env = simpy.Environment()
    net = FlowNetwork(env)
    link = net.add_resource("L", "network", 100.0)
    net.transfer(1e6, [link], cap_bps=20.0)
    net.transfer(1e6, [link])
    assert sorted(f.rate for f in link.flows.values()) == approx([20.0, 80.0])


def test_when_a_flow_ends_the_others_speed_up():
    # 100 B/s link: 50 B and 150 B start together at 50 each; the first ends at
    # 1 s; the second then runs alone at 100 for its last 100 B: ends at 2 s.
    env = simpy.Environment()
    net = FlowNetwork(env)
    link = net.add_resource("L", "network", 100.0)
    done = _finish_times(net, env, [(0, 50, [link], None), (0, 150, [link], None)])
    assert done == approx([1.0, 2.0])


def test_staggered_arrivals_on_a_busy_link_still_finish_at_total_over_bandwidth():
    # Arrivals at 0, 0.5, 1.0, 1.5 s, 100 B each on a 100 B/s link: never idle,
    # so all work (400 B) is done at 4 s.
    env = simpy.Environment()
    net = FlowNetwork(env)
    link = net.add_resource("L", "network", 100.0)
    done = _finish_times(net, env, [(t, 100, [link], None) for t in (0, 0.5, 1.0, 1.5)])
    assert max(done) == approx(4.0)


def test_a_zero_byte_transfer_completes_at_once():
    env = simpy.Environment()
    net = FlowNetwork(env)
    link = net.add_resource("L", "network", 100.0)
    assert net.transfer(0, [link]).triggered


def test_an_open_stream_takes_its_demand_and_returns_the_bytes_it_moved():
    # 100 B/s link; a stream wanting 60 and a 100-byte transfer: fair share 50 each
    # (the stream wants more than 50), the transfer ends at 2 s; the stream then
    # gets its full 60 for 1 s: 2 x 50 + 60 = 160 bytes.
    env = simpy.Environment()
    net = FlowNetwork(env)
    link = net.add_resource("L", "network", 100.0)
    moved = []

    def scenario():
        streams = net.open_streams([([link], 60.0)])
        yield net.transfer(100, [link])
        assert env.now == approx(2.0)
        yield env.timeout(1.0)
        moved.append(net.close_streams(streams))

    env.process(scenario())
    env.run()
    assert moved == approx([160.0])
    assert net.active == 0
    assert net.bytes_started == approx(net.bytes_delivered)


def reference_max_min(capacities, routes, caps):
    """Slow, obviously correct progressive filling: raise every unfrozen rate by
    the same amount until a resource (or a flow's cap) saturates; freeze; repeat."""
    n = len(routes)
    rates = [0.0] * n
    frozen = [False] * n
    while not all(frozen):
        increments = []
        for r, cap in enumerate(capacities):
            users = [i for i in range(n) if r in routes[i] and not frozen[i]]
            if users:
                used = sum(rates[i] for i in range(n) if r in routes[i])
                increments.append((cap - used) / len(users))
        for i in range(n):
            if not frozen[i] and caps[i] is not None:
                increments.append(caps[i] - rates[i])
        step = min(increments)
        for i in range(n):
            if not frozen[i]:
                rates[i] += step
        for r, cap in enumerate(capacities):
            used = sum(rates[i] for i in range(n) if r in routes[i])
            if used >= cap * (1 - 1e-12):
                for i in range(n):
                    if r in routes[i]:
                        frozen[i] = True
        for i in range(n):
            if caps[i] is not None and rates[i] >= caps[i] * (1 - 1e-12):
                frozen[i] = True
    return rates


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(1.0, 1000.0), min_size=1, max_size=6).flatmap(
        lambda caps: st.tuples(
            st.just(caps),
            st.lists(
                st.tuples(
                    st.sets(st.integers(0, len(caps) - 1), min_size=1, max_size=len(caps)),
                    st.one_of(st.none(), st.floats(0.5, 500.0)),
                ),
                min_size=1,
                max_size=12,
            ),
        )
    )
)
def test_fast_allocation_matches_the_progressive_filling_reference(case):
    capacities, flows = case
    env = simpy.Environment()
    net = FlowNetwork(env)
    res = [net.add_resource(f"r{i}", "network", c) for i, c in enumerate(capacities)]
    for route, cap in flows:
        net.transfer(1e9, [res[i] for i in sorted(route)], cap)
    got = {f.id: f.rate for r in res for f in r.flows.values()}
    want = reference_max_min(capacities, [set(r) for r, _ in flows], [c for _, c in flows])
    assert [got[i] for i in range(len(flows))] == approx(want, rel=1e-6)
