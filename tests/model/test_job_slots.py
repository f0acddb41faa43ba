"""JobSlots (hvsim/model/slots.py) grants slots exactly as simpy.Resource
does: same holders at the same times in the same order, with ties at equal times.
JobSlots replaces simpy.Resource for speed, so SimPy itself is the reference."""

from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from hvsim.model.slots import JobSlots, RankedJobSlots, SlotsInOrder
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


# Jobs as (arrival, hold, gap) triples and a slot count: the draws that compare a slot
# implementation with simpy.Resource (here and in test_job_order).
JOBS = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(0, 3)), min_size=1, max_size=25
)
CAPACITY = st.integers(1, 4)


@settings(max_examples=200, deadline=None)
@given(CAPACITY, JOBS)
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


def _run_in_with_blocks(make_slots, capacity, jobs):
    """As _run, but each job holds its slot in a ``with`` block (the form every job
    of the model uses), and every third one fails inside it: the block gives the
    slot back either way."""
    env = simpy.Environment()
    slots = make_slots(env, capacity)
    seen = []

    def job(i, arrival, hold, again):
        yield env.timeout(arrival)
        try:
            with slots.request() as req:
                yield req
                seen.append((env.now, i, "granted"))
                yield env.timeout(hold)
                if i % 3 == 0:
                    raise RuntimeError("the job failed")
        except RuntimeError:
            seen.append((env.now, i, "failed"))
        seen.append((env.now, i, "released"))
        if again:
            with slots.request() as req:
                yield req
                seen.append((env.now, i, "granted again"))
                yield env.timeout(again)

    for i, spec in enumerate(jobs):
        env.process(job(i, *spec))
    env.run()
    return seen


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 3),
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(0, 3)),
        min_size=1,
        max_size=20,
    ),
)
def test_a_request_in_a_with_block_releases_itself_as_a_simpy_request_does(capacity, jobs):
    assert _run_in_with_blocks(_jobslots, capacity, jobs) == _run_in_with_blocks(
        _simpy, capacity, jobs
    )


def test_a_process_closed_while_it_holds_a_slot_keeps_it_as_in_simpy():
    # SimPy does not release on GeneratorExit (resources/resource.py, Request.__exit__):
    # a closed process is never resumed, and nothing may run on its behalf.
    held = []
    for make in (_jobslots, _simpy):
        env = simpy.Environment()
        slots = make(env, 1)

        def holder(slots=slots, env=env):
            with slots.request() as req:
                yield req
                yield env.timeout(10)

        proc = env.process(holder())
        env.run(until=1)
        proc._generator.close()
        env.run()
        held.append(slots.users if isinstance(slots, JobSlots) else slots.count)
    assert held == [1, 1]


def _two_slot_jobs(make_take_both, jobs):
    """Jobs given as (arrival, hold) each take slots a (capacity 1) then b (capacity
    2) with the holder ``make_take_both(env)`` returns, hold both, and leave; returns
    the (time, job, event) sequence."""
    env = simpy.Environment()
    take_both = make_take_both(env)
    seen = []

    def job(i, arrival, hold):
        yield env.timeout(arrival)
        yield from take_both(i, hold, seen)
        seen.append((env.now, i, "left"))

    for i, spec in enumerate(jobs):
        env.process(job(i, *spec))
    env.run()
    return seen


def _nested_simpy_requests(env):
    # The reference: two simpy.Resource requests in nested with blocks, which take a
    # then b and give back b then a.
    a, b = simpy.Resource(env, 1), simpy.Resource(env, 2)

    def take_both(i, hold, seen):
        with a.request() as ra:
            yield ra
            with b.request() as rb:
                yield rb
                seen.append((env.now, i, "holds both"))
                yield env.timeout(hold)

    return take_both


def _slots_in_order(env):
    log = SlotLog()
    a, b = JobSlots(env, 1, "a", "x", log), JobSlots(env, 2, "b", "x", log)

    def take_both(i, hold, seen):
        with SlotsInOrder(a, None, b) as held:  # None: a limit that does not apply
            yield from held.take()
            seen.append((env.now, i, "holds both"))
            yield env.timeout(hold)

    return take_both


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), min_size=1, max_size=15))
def test_slots_in_order_take_in_order_and_give_back_in_reverse_as_nested_simpy_requests(jobs):
    assert _two_slot_jobs(_slots_in_order, jobs) == _two_slot_jobs(_nested_simpy_requests, jobs)


def test_slots_in_order_give_back_the_last_taken_first_even_when_the_job_fails():
    env = simpy.Environment()
    log = SlotLog()
    a, b = JobSlots(env, 1, "a", "x", log), JobSlots(env, 1, "b", "x", log)

    def job():
        with SlotsInOrder(a, b) as held:
            yield from held.take()
            raise RuntimeError("failed while holding both")

    proc = env.process(job())
    proc.defused = True  # the failure is the point, not an error of the run
    env.run()
    # Rows: a taken, b taken, then b given back before a.
    assert [(log.names[i], used) for i, used in zip(log.slot, log.in_use, strict=True)] == [
        ("a", 1),
        ("b", 1),
        ("b", 0),
        ("a", 0),
    ]


def _chains(kind, capacity_a, capacity_b, jobs):
    """Jobs given as (arrival, hold) each take slot a then slot b, hold both for
    ``hold`` seconds (0: give them back at once, so releases, grants and arrivals tie
    at one instant), give them back, and wait a zero timeout; returns the (time, job,
    event) sequence. The jobs arriving at 2 s wait for one shared event that fires
    then (as a VM's busy event resumes all its waiters in one step), the others for
    a timeout of their own. ``kind``: "simpy" (nested simpy.Resource requests, the
    reference), "slots" (JobSlots in a SlotsInOrder, whose releases share one grant
    event) or "ranked" (RankedJobSlots without priorities, which grant as JobSlots)."""
    env = simpy.Environment()
    seen = []
    if kind == "simpy":
        a, b = simpy.Resource(env, capacity_a), simpy.Resource(env, capacity_b)
    else:
        make = JobSlots if kind == "slots" else RankedJobSlots
        log = SlotLog()
        a, b = make(env, capacity_a, "a", "x", log), make(env, capacity_b, "b", "x", log)

    gate = env.event()
    env.timeout(2).callbacks.append(lambda _: gate.succeed())  # no process around it

    def job(i, arrival, hold):
        yield gate if arrival == 2 else env.timeout(arrival)
        if kind == "simpy":
            with a.request() as ra:
                yield ra
                seen.append((env.now, i, "holds a"))
                with b.request() as rb:
                    yield rb
                    seen.append((env.now, i, "holds both"))
                    if hold:
                        yield env.timeout(hold)
        else:
            with SlotsInOrder(a, b) as held:
                for req in held.take():
                    yield req
                    seen.append((env.now, i, "holds a" if req.slots is a else "holds both"))
                if hold:
                    yield env.timeout(hold)
        seen.append((env.now, i, "left"))
        yield env.timeout(0)
        seen.append((env.now, i, "after"))

    for i, spec in enumerate(jobs):
        env.process(job(i, *spec))
    env.run()
    return seen


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=12),
)
def test_fewer_grant_events_leave_the_order_of_simpy_resource(capacity_a, capacity_b, jobs):
    # The events JobSlots leaves out (a release's grant event with nobody waiting,
    # several releases' grants in one event, a hand-over's request processed in its
    # grant's step, a request granted on arrival processed at once) must not move a
    # single event: whole-second arrivals, zero holds and the shared event make many
    # of them tie at one instant.
    reference = _chains("simpy", capacity_a, capacity_b, jobs)
    assert _chains("slots", capacity_a, capacity_b, jobs) == reference
    assert _chains("ranked", capacity_a, capacity_b, jobs) == reference
