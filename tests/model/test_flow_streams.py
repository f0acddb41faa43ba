"""Open-ended streams (a VM's own I/O while its CSV is redirected) in the flow
network; transfers are covered by tests/model/test_flows.py."""

from __future__ import annotations

import simpy
from pytest import approx

from hvsim.model.flows import FlowNetwork


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
