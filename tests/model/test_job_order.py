"""Job order and staggering (issue 16 §1): a DPM server's ``job_order``
(``dpm``: first come, first served; ``longest_first``: LBF, the longest predicted
backup first) and a protection group's ``start_offset`` (DPM's "Offset start time
by"). Every expected value is worked out by hand in the test's comment."""

from __future__ import annotations

from typing import Any

import simpy
from hypothesis import given, settings

from hvsim.model.dpm import offset_times
from hvsim.model.slots import JobSlots, RankedJobSlots, SlotsInOrder
from hvsim.model.trace import SlotLog
from tests.builders import INSTANT_WRITERS, base_scenario, run
from tests.model.test_guest_jobs import estate as guest_estate
from tests.model.test_guest_jobs import run as guest_run
from tests.model.test_job_slots import CAPACITY, JOBS, _run, _simpy

H = 3600.0
DAY = 86400.0


def estate(links: dict[str, str], used: dict[str, str], *, pool: str = "10 GB/s") -> dict:
    """One standalone 2012 host per VM (``hv-NAME``, local storage of 10 GB/s with a
    hardware VSS provider: a snapshot takes 1 s), each on its own link to the switch
    of ``links[NAME]`` at 100 % efficiency, the DPM server on 100 Gbps, a pool writing
    at ``pool``; writers flush at once and a snapshot's release takes no time, so a
    job lasts 1 s + its bytes over its bottleneck. VMs listed in ``used``'s order,
    ``used[NAME]`` used on one disk, no I/O of their own."""
    doc = base_scenario(horizon_days=1)
    doc["clusters"] = []
    doc["hosts"] = [
        {
            "name": f"hv-{n}",
            "os": "2012",
            "storage": {
                "capacity": "10 TB",
                "read": "10 GB/s",
                "write": "10 GB/s",
                "vss_provider": "hardware",
            },
        }
        for n in used
    ]
    doc["links"] = [
        {"between": [f"hv-{n}", "sw"], "bandwidth": links[n], "efficiency": 1.0} for n in used
    ] + [{"between": ["dpm1", "sw"], "bandwidth": "100 Gbps"}]
    doc["dpm_servers"][0]["pool"]["write"] = pool
    doc["vss"] = {**INSTANT_WRITERS, "release_time": "0 s"}
    doc["vms"] = [
        {
            "name": n,
            "host": f"hv-{n}",
            "io_rate": "0 B/s",
            "disks": [{"size": "400 GB", "used": u}],
        }
        for n, u in used.items()
    ]
    return doc


def two_two_three_three_four(slots: int, order: str) -> dict[str, Any]:
    # Jobs of 2, 2, 3, 3 and 4 h: initial replicas (a fixed size, whenever they start)
    # of 72, 72, 108, 108, 144 GB over 80 Mbps links at 100 % (1e7 B/s), all at 00:00,
    # queued in that order (the VMs' order). Each also takes its 1 s snapshot.
    hours = {"j1": 2, "j2": 2, "j3": 3, "j4": 3, "j5": 4}
    doc = estate({n: "80 Mbps" for n in hours}, {n: f"{h * 36} GB" for n, h in hours.items()})
    doc["dpm_servers"][0]["max_parallel_jobs"] = slots
    doc["dpm_servers"][0]["job_order"] = order
    doc["protection_groups"][0]["express_full_times"] = ["00:00"]
    return doc


def _starts(res: Any) -> dict[str, float]:
    return dict(zip(res.jobs["vm"], res.jobs["start_s"], strict=True))


def test_two_slots_dpm_order_takes_9_h_on_2_2_3_3_4():
    # FIFO on two slots (a job = its hours + 1 s of snapshot):
    #   slot A: j1 0-7201,       j3 7201-18002,  j5 18002-32403
    #   slot B: j2 0-7201,       j4 7201-18002
    # makespan 9 h + 3 s (three snapshots on slot A's chain).
    res = run(two_two_three_three_four(2, "dpm"))
    assert res.jobs["end_s"].max() == 9 * H + 3
    assert _starts(res) == {"j1": 0, "j2": 0, "j3": 7201, "j4": 7201, "j5": 18002}


def test_two_slots_longest_first_takes_8_h_on_2_2_3_3_4():
    # LBF (LPT) on two slots: all five wait before the first grant (they fire at the
    # same minute); predictions on the first job are bytes / pool rate, proportional
    # to the hours, ties (j1, j2; j3, j4) by arrival:
    #   slot A: j5 (4 h) 0-14401,   j1 (2 h) 14401-21602
    #   slot B: j3 (3 h) 0-10801,   j4 (3 h) 10801-21602,  then j2 (2 h) 21602-28803
    # (at 21602 both slots free; j2 is the last) makespan 8 h + 3 s.
    res = run(two_two_three_three_four(2, "longest_first"))
    assert res.jobs["end_s"].max() == 8 * H + 3
    assert _starts(res) == {"j5": 0, "j3": 0, "j4": 10801, "j1": 14401, "j2": 21602}


def test_one_slot_both_orders_take_the_sum_14_h():
    # One slot: 2+2+3+3+4 = 14 h and five snapshots, whatever the order.
    dpm = run(two_two_three_three_four(1, "dpm"))
    lbf = run(two_two_three_three_four(1, "longest_first"))
    assert dpm.jobs["end_s"].max() == lbf.jobs["end_s"].max() == 14 * H + 5
    # ... in the order asked: FIFO j1..j5; LBF j5, j3, j4, j1, j2.
    assert dpm.jobs.sort_values("start_s")["vm"].tolist() == ["j1", "j2", "j3", "j4", "j5"]
    assert lbf.jobs.sort_values("start_s")["vm"].tolist() == ["j5", "j3", "j4", "j1", "j2"]


def history_estate(order: str) -> dict[str, Any]:
    # b: 36 GB over 80 Mbps (1e7 B/s): its initial replica takes 3600 + 1 s.
    # a: 72 GB over 800 Mbps (1e8 B/s): 720 + 1 s. One DPM slot, two nights (22:00).
    doc = estate({"b": "80 Mbps", "a": "800 Mbps"}, {"b": "36 GB", "a": "72 GB"})
    doc["horizon_days"] = 2
    doc["dpm_servers"][0]["max_parallel_jobs"] = 1
    doc["dpm_servers"][0]["job_order"] = order
    return doc


def test_longest_first_predicts_from_bytes_on_the_first_job_and_from_history_after():
    # Night 1 (22:00 = 79,200 s): no history, predictions 36 GB and 72 GB over the pool's
    # 10 GB/s: a (7.2 s) before b (3.6 s), though b was queued first: a 79200-79921,
    # b 79921-83522. Night 2 (165,600 s): history, b took 3601 s and a 721 s: b first.
    jobs = run(history_estate("longest_first")).jobs
    first = jobs[jobs["scheduled_s"] == 22 * H].set_index("vm")["start_s"]
    assert first.to_dict() == {"a": 22 * H, "b": 22 * H + 721}
    second = jobs[jobs["scheduled_s"] == DAY + 22 * H].set_index("vm")["start_s"]
    assert second["b"] == DAY + 22 * H
    assert second["a"] > second["b"]


def test_dpm_order_is_arrival_order_every_night():
    # FIFO: b (listed first) goes first both nights: 79200-82801, then a.
    jobs = run(history_estate("dpm")).jobs
    for night in (22 * H, DAY + 22 * H):
        starts = jobs[jobs["scheduled_s"] == night].set_index("vm")["start_s"]
        assert starts["b"] == night
        assert starts["a"] > starts["b"]


# -- RankedJobSlots itself ---------------------------------------------------------


def _ranked(env: simpy.Environment, capacity: int) -> JobSlots:
    return RankedJobSlots(env, capacity, "x", "dpm", SlotLog())


@settings(max_examples=100, deadline=None)
@given(CAPACITY, JOBS)
def test_ranked_slots_without_priorities_grant_like_simpy_resource(capacity, jobs):
    assert _run(_ranked, capacity, jobs) == _run(_simpy, capacity, jobs)


def test_ranked_slots_serve_unranked_first_then_highest_priority_then_arrival():
    # One slot held by h from 0 to 10. Waiting at 1..5: p=1, p=5, none, p=5, none.
    # At 10: the unranked in arrival order (u1 at 3, u2 at 5), then p=5 by arrival
    # (a at 2, b at 4), then p=1; each holds 10 s.
    env = simpy.Environment()
    slots = RankedJobSlots(env, 1, "x", "dpm", SlotLog())
    got: list[tuple[float, str]] = []

    def job(name: str, at: float, priority: float | None):
        yield env.timeout(at)
        with SlotsInOrder(slots, priority=priority) as held:
            yield from held.take()
            got.append((env.now, name))
            yield env.timeout(10)

    for name, at, p in [
        ("h", 0, None),
        ("p1", 1, 1.0),
        ("a", 2, 5.0),
        ("u1", 3, None),
        ("b", 4, 5.0),
        ("u2", 5, None),
    ]:
        env.process(job(name, at, p))
    env.run()
    assert got == [(0, "h"), (10, "u1"), (20, "u2"), (30, "a"), (40, "b"), (50, "p1")]


def test_a_withdrawn_ranked_request_leaves_the_queue():
    # h holds 0-10; x (p=9) asks at 1 and withdraws at 2; y (p=1) gets the slot at 10.
    env = simpy.Environment()
    slots = RankedJobSlots(env, 1, "x", "dpm", SlotLog())
    got: list[tuple[float, str]] = []

    def holder():
        with slots.request() as req:
            yield req
            got.append((env.now, "h"))
            yield env.timeout(10)

    def quitter():
        yield env.timeout(1)
        req = slots.request(9.0)
        yield env.timeout(1)
        slots.release(req)

    def waiter():
        yield env.timeout(1)
        with slots.request(1.0) as req:
            yield req
            got.append((env.now, "y"))

    for p in (holder(), quitter(), waiter()):
        env.process(p)
    env.run()
    assert got == [(0, "h"), (10, "y")]


# -- start offsets -----------------------------------------------------------------


def offset_estate(offset: str | None) -> dict[str, Any]:
    # Groups ga (a1, a2: 36 GB each) and gb (b1, b2: 18 GB each), both at 22:00, on a
    # pool writing 10 MB/s (1e7 B/s) that is every job's bottleneck (links 10 Gbps).
    links = {n: "10 Gbps" for n in ("a1", "a2", "b1", "b2")}
    used = {"a1": "36 GB", "a2": "36 GB", "b1": "18 GB", "b2": "18 GB"}
    doc = estate(links, used, pool="10 MB/s")
    doc["protection_groups"] = [
        {"name": "ga", "dpm_server": "dpm1", "members": ["a*"], "retention_days": 1},
        {"name": "gb", "dpm_server": "dpm1", "members": ["b*"], "retention_days": 1},
    ]
    if offset is not None:
        doc["protection_groups"][1]["start_offset"] = offset
    return doc


def test_an_offset_group_starts_later_and_shares_the_pool_from_then():
    # gb offset by 1 h: its jobs are scheduled and start at 23:00 (82,800 s), exactly.
    # ga: snapshots 22:00:00-22:00:01, then 2 flows of 5e6 B/s; by 23:00:01 each sent
    # 1.8e10, 1.8e10 left. gb: snapshots 23:00:00-01, then 4 flows of 2.5e6 B/s, each
    # with 1.8e10 to send: all four end 7200 s later, at 01:00:01 (90,001 s).
    # The window stays the planner's: every deadline is 06:00 (108,000 s).
    jobs = run(offset_estate("1 h")).jobs.set_index("vm")
    assert jobs.loc[["b1", "b2"], "scheduled_s"].tolist() == [23 * H, 23 * H]
    assert jobs.loc[["b1", "b2"], "start_s"].tolist() == [23 * H, 23 * H]
    assert jobs.loc[["a1", "a2"], "start_s"].tolist() == [22 * H, 22 * H]
    assert jobs["end_s"].tolist() == [25 * H + 1] * 4
    assert jobs["window_end_s"].tolist() == [DAY + 6 * H] * 4


def test_without_offset_both_groups_fire_at_the_same_minute():
    # All four at 22:00:01 share 1e7 B/s (2.5e6 each): b1, b2 (1.8e10) end 7200 s
    # later, 00:00:01; a1, a2 then send their last 1.8e10 at 5e6: 3600 s, 01:00:01.
    jobs = run(offset_estate(None)).jobs.set_index("vm")
    assert jobs["start_s"].tolist() == [22 * H] * 4
    assert jobs.loc[["b1", "b2"], "end_s"].tolist() == [DAY + 1] * 2
    assert jobs.loc[["a1", "a2"], "end_s"].tolist() == [25 * H + 1] * 2


def test_an_offset_past_midnight_wraps_to_that_clock_time():
    # 22:00 + 3 h = 01:00, every day from day 0; 06:00 + 30 min stays on its day;
    # sorted after the move.
    assert offset_times([22 * H, 6 * H], 3 * H) == (1 * H, 9 * H)
    assert offset_times([22 * H], 0.0) == (22 * H,)
    # In a run of one day, gb's one express full runs at 01:00 of day 0, due by the
    # window's end at 06:00.
    jobs = run(offset_estate("3 h")).jobs.set_index("vm")
    assert jobs.loc[["b1", "b2"], "scheduled_s"].tolist() == [1 * H, 1 * H]
    assert jobs.loc[["b1", "b2"], "window_end_s"].tolist() == [6 * H, 6 * H]


def test_a_guest_level_offset_moves_its_express_full_and_its_sync_grid():
    # SQL, hourly syncs, express full at 20:00, offset 20 min, replica by removable
    # media (first sync one interval after t = 0): syncs at 00:20, 01:20, ... 23:20
    # (1200 + 3600 k s, k = 0..23), the one at 20:20 being the express full.
    db = {"size": "200 GB", "log_per_day": "9.6 GB", "daily_change": 0.03}
    doc = guest_estate(
        [{"name": "sql-1", "sql": db}],
        [{"name": "pg", "members": ["sql-1"], "sync_frequency": "60 min"}],
        horizon_days=1,
    )
    doc["protection_groups"][0]["start_offset"] = "20 min"
    jobs = guest_run(doc).jobs
    assert jobs["scheduled_s"].tolist() == [1200 + 3600 * k for k in range(24)]
    fulls = jobs[jobs["kind"] == "express_full"]["scheduled_s"].tolist()
    assert fulls == [20 * H + 1200]


def test_longest_first_orders_guest_level_initial_replicas_and_fulls_too():
    # Two SQL databases in one VM, 20 GB then 100 GB, initial replicas over the network
    # at 00:00 on one DPM slot; the pool (100 MB/s, 1e8 B/s) is the bottleneck: 200 s
    # and 1000 s. DPM's order: sql1 0-200, sql2 200-1200. longest_first (predicted
    # 20e9 and 100e9 B over the pool's 1e8 B/s): sql2 0-1000, sql1 1000-1200.
    def starts(order: str) -> dict[str, float]:
        dbs = [{"size": size, "log_per_day": "0.96 GB"} for size in ("20 GB", "100 GB")]
        doc = guest_estate(
            [{"name": "sql-1", "disks": [{"size": "400 GiB"}], "sql": dbs}],
            [{"name": "pg", "members": ["sql-1"], "initial_replica": "network"}],
            horizon_days=1,
            max_parallel_jobs=1,
            job_order=order,
        )
        jobs = guest_run(doc).jobs
        first = jobs[jobs["kind"] == "initial_replica"]
        return dict(zip(first["data_source"], first["start_s"], strict=True))

    assert starts("dpm") == {"sql-1/sql1": 0, "sql-1/sql2": 200}
    assert starts("longest_first") == {"sql-1/sql2": 0, "sql-1/sql1": 1000}
