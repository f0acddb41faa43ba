"""JobSlots (hvsim/model/infrastructure.py) grants slots exactly as simpy.Resource
does: same holders at the same times in the same order, with ties at equal times.
JobSlots replaces simpy.Resource for speed, so SimPy itself is the reference."""

from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from hvsim.model.infrastructure import JobSlots
from hvsim.model.trace import SlotLog


def _run(make_slots, capacity, jobs):
    """Jobs given as (arrival, hold, second_hold) in whole seconds, so that many
    events tie; each takes a slot, holds it, gives it back, and half of them then
    ask again. Returns the (time, job, event) sequence as it happened."""
    env = simpy.Environment()
    slots = make_slots(env, capacity)
    seen = []

    def job(i, arrival, hold, again):
        yield env.timeout(arrival)
        req = slots.request()
        yield req
        seen.append((env.now, i, "granted"))
        yield env.timeout(hold)
        slots.release(req)
        seen.append((env.now, i, "released"))
        if again:
            req = slots.request()
            yield req
            seen.append((env.now, i, "granted again"))
            yield env.timeout(again)
            slots.release(req)

    for i, spec in enumerate(jobs):
        env.process(job(i, *spec))
    env.run()
    return seen


def _simpy(env, capacity):
    return simpy.Resource(env, capacity=capacity)


def _jobslots(env, capacity):
    return JobSlots(env, capacity, "x", "dpm", SlotLog())


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(0, 3)),
        min_size=1,
        max_size=25,
    ),
)
def test_job_slots_grant_like_simpy_resource(capacity, jobs):
    assert _run(_jobslots, capacity, jobs) == _run(_simpy, capacity, jobs)


def test_a_queued_job_gets_the_slot_when_the_holder_releases_it_first_come_first_served():
    # One slot; A holds 0-10, B arrives at 1, C at 2: B runs 10-20, C 20-30.
    seen = _run(_jobslots, 1, [(0, 10, 0), (1, 10, 0), (2, 10, 0)])
    grants = [(t, i) for t, i, what in seen if what == "granted"]
    assert grants == [(0, 0), (10, 1), (20, 2)]


def _rows(log):
    return [
        (log.names[i], log.kinds[i], used, queued)
        for i, used, queued in zip(log.slot, log.in_use, log.queued, strict=True)
    ]


def test_the_log_records_slots_in_use_and_queued_at_each_request_grant_and_release():
    env = simpy.Environment()
    log = SlotLog()
    slots = JobSlots(env, 1, "dpm1", "dpm", log)
    a = slots.request()
    slots.request()
    slots.release(a)
    assert _rows(log) == [("dpm1", "dpm", 1, 0), ("dpm1", "dpm", 1, 1), ("dpm1", "dpm", 0, 1)]
    env.run()
    assert (slots.users, len(slots.queue)) == (1, 0)  # the waiting request got it
    # ... and the hand-over's grant is a row of its own, at the release's time.
    assert _rows(log)[3:] == [("dpm1", "dpm", 1, 0)]
    assert set(log.time_s) == {0.0}
