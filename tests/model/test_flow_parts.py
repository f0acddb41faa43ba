"""FlowNetwork.set_parts: independent parts of one network, each with its own
completion timer, behave exactly as if each part ran alone in its own environment.

Why exact (==) equality is expected: parts share no resource, so max-min sharing in
one part never sees the flows of another, and with a timer per part a flow is
settled and finished only in events of its own part, at the same simulated times
and with the same float arithmetic as alone. With one timer for the whole network
(no set_parts) that fails: the timer of one part finishes a flow of another part up
to _EPS_BYTES (1e-3 B) early, which the near-coincident case below shows by hand.
"""

from __future__ import annotations

import pytest
import simpy

from hvsim.model.flows import FlowNetwork

# Part A: two resources; part B: two others. Capacities in B/s.
A_RES = [("a0", 1e8), ("a1", 6e7)]
B_RES = [("b0", 1e8), ("b1", 5e7)]


def _script_a(env, net, res, ends):
    """Transfers (start s, bytes, route, cap) sharing a0/a1, and a stream on a0."""

    def one(label, start, nbytes, route, cap=None):
        yield env.timeout(start)
        yield net.transfer(nbytes, [res[r] for r in route], cap)
        ends[label] = env.now

    def stream():
        yield env.timeout(3.0)
        streams = net.open_streams([([res["a0"]], 1e7)])
        yield env.timeout(5.0)
        ends["a-stream-bytes"] = net.close_streams(streams)

    env.process(one("a1", 0.0, 1e9, ["a0"]))
    env.process(one("a2", 1.0, 5e8, ["a0", "a1"]))
    env.process(one("a3", 2.0, 3e8, ["a1"], 2e7))
    env.process(one("a4", 2.5, 7.77e8, ["a1", "a0"]))
    env.process(stream())


def _script_b(env, net, res, ends):
    """Transfers sharing b0/b1 and a capacity cut of b0 at 4 s."""

    def one(label, start, nbytes, route, cap=None):
        yield env.timeout(start)
        yield net.transfer(nbytes, [res[r] for r in route], cap)
        ends[label] = env.now

    def throttle():
        yield env.timeout(4.0)
        net.set_capacity(res["b0"], 4e7)

    env.process(one("b1", 0.0, 7e8, ["b0", "b1"]))
    env.process(one("b2", 0.5, 2e8, ["b1"]))
    env.process(one("b3", 1.5, 9.1e8, ["b0"], 3e7))
    env.process(throttle())


def _accounting(net, names):
    return {
        n: (
            net.resources[n].bytes_total,
            net.resources[n].busy_s,
            net.resources[n].bottleneck_s,
        )
        for n in names
    }


def _alone(resources, script):
    env = simpy.Environment()
    net = FlowNetwork(env)
    res = {n: net.add_resource(n, "network", c) for n, c in resources}
    ends: dict[str, float] = {}
    script(env, net, res, ends)
    env.run()
    net.close_accounting()
    return ends, _accounting(net, res)


def _together(parts: bool, scripts=((A_RES, _script_a), (B_RES, _script_b))):
    """Both parts in one network on one environment, split by set_parts unless
    ``parts`` is False (the whole network one part, one timer)."""
    env = simpy.Environment()
    net = FlowNetwork(env)
    res = {}
    part_of = []
    for p, (resources, _) in enumerate(scripts):
        for n, c in resources:
            res[n] = net.add_resource(n, "network", c)
            part_of.append(p)
    if parts:
        net.set_parts(part_of)
    ends: dict[str, float] = {}
    for _, script in scripts:
        script(env, net, res, ends)
    env.run()
    net.close_accounting()
    return ends, _accounting(net, res), net


def test_two_parts_in_one_network_end_and_account_exactly_as_each_part_alone():
    ends_a, acc_a = _alone(A_RES, _script_a)
    ends_b, acc_b = _alone(B_RES, _script_b)
    ends, acc, _ = _together(parts=True)
    assert ends == {**ends_a, **ends_b}
    assert acc == {**acc_a, **acc_b}
    # The scripts overlap in time (both parts have flows under way from 0 s until
    # past 8 s: a1 alone on a0 would need 1e9 / 1e8 = 10 s), so the equality is not
    # that of two runs one after the other.
    assert min(ends_a["a1"], ends_b["b1"]) > 8.0


def _one_flow(name: str, nbytes: float):
    """A part with one resource of 1e8 B/s and one transfer of ``nbytes`` from 0 s."""

    def script(env, net, res, ends):
        def one():
            yield net.transfer(nbytes, [res[name]])
            ends[name] = env.now

        env.process(one())

    return [(name, 1e8)], script


@pytest.mark.parametrize("b_later", [True, False])
def test_flows_of_two_parts_ending_within_1e_12_s_each_end_at_their_own_time(b_later):
    # A: 1e9 B at 1e8 B/s ends at 10 s. B: 1e-4 B more (or less): 1e-4 / 1e8 = 1e-12 s
    # later (or earlier), where 1e-12 s x 1e8 B/s = 1e-4 B < _EPS_BYTES (1e-3 B).
    delta = 1e-4 if b_later else -1e-4
    a = _one_flow("a0", 1e9)
    b = _one_flow("b0", 1e9 + delta)
    ends_a, acc_a = _alone(*a)
    ends_b, acc_b = _alone(*b)
    assert ends_a["a0"] == 10.0
    assert ends_b["b0"] == (1e9 + delta) / 1e8
    assert ends_b["b0"] != 10.0
    assert abs(ends_b["b0"] - 10.0) < 1e-11

    ends, acc, _ = _together(parts=True, scripts=(a, b))
    assert ends == {**ends_a, **ends_b}
    assert acc == {**acc_a, **acc_b}

    # One part (one timer): whichever ends first takes the other along, its last
    # 1e-4 B being under _EPS_BYTES, so both end at the first end.
    ends_one, _, _ = _together(parts=False, scripts=(a, b))
    first = min(10.0, ends_b["b0"])
    assert ends_one == {"a0": first, "b0": first}


def test_a_part_s_timer_event_only_arms_its_own_part_s_timer():
    env = simpy.Environment()
    net = FlowNetwork(env)
    res = {}
    for n, c in A_RES + B_RES:
        res[n] = net.add_resource(n, "network", c)
    net.set_parts([0, 0, 1, 1])
    ends: dict[str, float] = {}
    _script_a(env, net, res, ends)
    _script_b(env, net, res, ends)
    armed_during: list[tuple[int, int]] = []
    current: list[int] = []
    arm, on_timer = net._arm_timer, net._on_timer

    def recording_arm(part=0):
        if current:
            armed_during.append((current[-1], part))
        arm(part)

    def recording_on_timer(part, version):
        current.append(part)
        try:
            on_timer(part, version)
        finally:
            current.pop()

    net._arm_timer = recording_arm
    net._on_timer = recording_on_timer
    env.run()
    # Both parts' timer events ended transfers and re-armed a timer, each its own.
    assert {p for p, _ in armed_during} == {0, 1}
    assert all(event_part == armed for event_part, armed in armed_during)


def test_set_parts_rejects_a_wrong_length_a_negative_part_and_a_late_call():
    env = simpy.Environment()
    net = FlowNetwork(env)
    r = [net.add_resource(f"r{i}", "network", 1e8) for i in range(3)]
    with pytest.raises(ValueError, match="3 resources"):
        net.set_parts([0, 1])
    with pytest.raises(ValueError, match="0 or more"):
        net.set_parts([0, -1, 1])
    net.set_parts([0, 0, 1])
    net.transfer(1e9, [r[0]])
    with pytest.raises(ValueError, match="under way"):
        net.set_parts([0, 1, 1])


def test_a_route_may_not_leave_its_part():
    env = simpy.Environment()
    net = FlowNetwork(env)
    r = [net.add_resource(f"r{i}", "network", 1e8) for i in range(3)]
    net.set_parts([0, 0, 1])
    with pytest.raises(ValueError, match="crosses parts"):
        net.transfer(1e9, [r[1], r[2]])
    with pytest.raises(ValueError, match="crosses parts"):
        net.open_streams([([r[2], r[0]], 1e6)])
    assert net.active == 0
