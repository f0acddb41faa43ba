"""Job slots: the one mechanism that limits concurrent jobs (per host, per DPM server,
per CSV group, per CSV during a serialized scan, live and storage migrations per
host), and the one way to hold several of them.

A request releases itself, as a ``simpy.Resource`` request does (SimPy's
``resources/base.py`` ``Put.__exit__`` and ``resources/resource.py``
``Request.__exit__``)::

    with host.backup_slots.request() as slot:
        yield slot
        ...                       # the slot is given back on leaving the block

and ``SlotsInOrder`` takes several slots one after another, always in the same
order, and gives them back in reverse::

    with SlotsInOrder(csv_group, host_slots, dpm_slots) as slots:
        yield from slots.take()
        ...

``RankedJobSlots`` also serves a job order other than first come, first served: a
request may carry a priority (a backup's predicted duration, for a DPM server whose
``job_order`` is ``longest_first``), and the waiting request of the highest priority
is served first.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Generator
from types import TracebackType

import simpy

from hvsim.model.trace import SlotLog


class SlotRequest(simpy.Event):
    """A request for one of a JobSlots' slots: fires when granted. Used in ``with``,
    it gives the slot back (or withdraws from the queue) on leaving the block, except
    when the process is being closed (GeneratorExit), as SimPy's requests do."""

    __slots__ = ("slots",)

    def __init__(self, slots: JobSlots):
        super().__init__(slots.env)
        self.slots = slots

    def __enter__(self) -> SlotRequest:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # SimPy: "Don't release the resource on generator cleanups" (a process closed
        # while it holds the slot is never resumed, and nothing waits on its release).
        if exc_type is not GeneratorExit:
            self.slots.release(self)


class JobSlots:
    """A limit on concurrent jobs that logs (time, name, kind, in use, queued) in a
    SlotLog whenever a job asks for a slot, gets one, or gives one back. A hand-over
    (a release whose slot goes to a waiting job) is two rows at the same time, the
    release's and the grant's; the last row at a time is the state from then on, so
    the log's time-averages equal the jobs' held and waiting times
    (tests/model/test_slot_log.py).

    Grants follow ``simpy.Resource`` exactly: requests wait first come, first served;
    a request is granted on arrival when a slot is free and nobody waits; a release
    frees the slot at once and hands it to the head of the queue when the release
    event is processed (SimPy's Release event). The same event order, without the
    put/get queue machinery of SimPy's generic resources, which cost about a tenth
    of a run (tests/model/test_job_slots.py compares the two).

    With fewer events than SimPy where leaving one out cannot move another: no grant
    event for a release with nobody waiting and nothing else due at its instant
    (_give_back), one grant event for the releases of a SlotsInOrder block (_Grants),
    and a hand-over's first request processed in its grant event's step when nothing
    else is due then (_grant_each).
    """

    __slots__ = ("env", "capacity", "name", "kind", "users", "queue", "_log", "_id")

    def __init__(self, env: simpy.Environment, capacity: int, name: str, kind: str, log: SlotLog):
        if capacity < 1:
            raise ValueError(f"{kind} {name}: job slots must be at least 1")
        self.env = env
        self.capacity = capacity
        self.name = name
        self.kind = kind
        self.users = 0  # slots in use
        self.queue: deque[SlotRequest] = deque()  # requests waiting, oldest first
        self._log = log
        self._id = log.register(name, kind)

    def request(self, priority: float | None = None) -> SlotRequest:
        """An event that fires when the caller holds a slot; give it back by leaving
        its ``with`` block (or with release). A JobSlots serves first come, first
        served: ``priority`` is for RankedJobSlots, and a JobSlots does not look at it
        (the world makes every slot a RankedJobSlots when a DPM server orders its jobs
        otherwise, hvsim.model.infrastructure.Parts)."""
        req = SlotRequest(self)
        self.queue.append(req)
        granted = self._grant(False)
        if granted is not None:
            _granted_on_arrival(granted)
        self._log.add(self.env._now, self._id, self.users, len(self.queue))
        return req

    def release(self, request: SlotRequest) -> None:
        """Give back the slot ``request`` holds (or withdraw it if still waiting)."""
        if self._give_back(request) or self.env.peek() == self.env._now:
            _Grants(self.env, [self])

    def _give_back(self, request: SlotRequest) -> bool:
        """The bookkeeping of a release, without its grant event: whether the grant
        event is needed (a job waits).

        The grant event (SimPy's Release) hands the slot to the head of the queue
        when it is processed. With nobody waiting it grants nothing, unless until
        then the slot is taken, a job queues and another holder gives a slot back, all
        at this instant before it: only events due now can do that, so without any
        (the callers' peek) it is left out. (The releasing step's other callbacks and
        the processes it starts run before it too, but none of them both queues for
        and gives back a slot of one JobSlots: a process asks for one slot, then
        waits, and of the processes one event resumes, a VM's busy event's waiters,
        only the first goes on.) Leaving an event out shifts the ids of the events
        scheduled after it alike: no two change order."""
        if request.triggered:
            self.users -= 1
        else:
            self.queue.remove(request)
        self._log.add(self.env._now, self._id, self.users, len(self.queue))
        return bool(self.queue)

    def _grant(self, handover: bool) -> SlotRequest | None:
        """One grant, to the head of the queue, as SimPy's _trigger_put: the request
        granted (for the caller to trigger), or None. A hand-over (a grant from a
        grant event) logs a row of its own; request() logs its grants itself."""
        if self.queue and self.users < self.capacity:
            self.users += 1
            req = self.queue.popleft()
            if handover:
                self._log.add(self.env._now, self._id, self.users, len(self.queue))
            return req
        return None


# Events that resume one process and run nothing after it: the model yields each
# Timeout and SlotRequest from one process only, and an Initialize starts one.
_SOLE_WAITER = (simpy.Timeout, SlotRequest, simpy.events.Initialize)


def _granted_on_arrival(req: SlotRequest) -> None:
    """Grant ``req`` on its arrival; its caller yields it next (every caller does).
    SimPy schedules it and processes it in a step of its own. When no other event is
    due at this instant, and the event the caller's process was resumed by runs
    nothing after it (_SOLE_WAITER), that step is the very next one: nothing runs
    between the yield and it. The request is then made processed at once, so the
    yield goes straight on (a process does so with an event already processed): the
    same order, one event fewer, the ids of later events shifted alike."""
    env = req.env
    proc = env.active_process
    if proc is not None and isinstance(proc.target, _SOLE_WAITER) and env.peek() > env._now:
        req._ok = True
        req._value = None
        req.callbacks = None  # type: ignore[assignment]
    else:
        req.succeed()


class _Grants(simpy.Event):
    """The grant event of the releases one step makes one after another (a job
    leaving its SlotsInOrder block): SimPy schedules one Release event per slot,
    consecutively, at one time and priority, so they are processed consecutively
    (what they schedule comes after all of them); one event granting for each slot
    in the same order processes the same, one event instead of several."""

    __slots__ = ("slots",)

    def __init__(self, env: simpy.Environment, slots: list[JobSlots]):
        super().__init__(env)
        self.slots = slots
        self.callbacks.append(_grant_each)
        self._ok = True
        self._value = None
        env.schedule(self)


def _grant_each(event: simpy.Event) -> None:
    """Grant for each slot of a _Grants, in order. SimPy would schedule each granted
    request and process it in a step of its own, in that order, after every event
    already due at this instant. With none due when this event is processed, the
    first granted request's step is the very next one, and nothing runs between two
    steps: its callbacks (its job resuming) run here, after the grants, instead (the
    same order, one event fewer; the ids of later events shift alike)."""
    assert isinstance(event, _Grants)
    env = event.env
    now_free = env.peek() > env._now
    first: SlotRequest | None = None
    for slots in event.slots:
        req = slots._grant(True)
        if req is None:
            continue
        if first is None and now_free:
            first = req
        else:
            req.succeed()
    if first is not None:
        first._ok = True
        first._value = None
        callbacks, first.callbacks = first.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(first)


class RankedJobSlots(JobSlots):
    """JobSlots whose waiting requests may carry a priority (a backup's predicted
    duration): a request without one is served first come, first served, exactly as
    JobSlots serves it, and ahead of every request with one; among those, the highest
    priority first, equal priorities by arrival (a heap keyed (-priority, arrival),
    O(log n) a request). Without a request with a priority it grants exactly as
    JobSlots.

    A request with a priority is never granted on arrival: its grant is an event at
    the same time, processed after every event already due then (SimPy processes
    events of equal time in the order they were scheduled), so the jobs a schedule
    fires at the same minute all wait before the first of them is served, and the
    longest goes first, not the first to arrive. It waits no time for it."""

    __slots__ = ("_ranked", "_arrivals")

    def __init__(self, env: simpy.Environment, capacity: int, name: str, kind: str, log: SlotLog):
        super().__init__(env, capacity, name, kind, log)
        # Waiting requests with a priority: (-priority, arrival number, request).
        self._ranked: list[tuple[float, int, SlotRequest]] = []
        self._arrivals = 0

    def request(self, priority: float | None = None) -> SlotRequest:
        """An event that fires when the caller holds a slot: without ``priority``
        first come, first served, ahead of every request with one; with one, after
        the waiting requests of a higher priority or of the same and earlier."""
        if priority is None:
            req = SlotRequest(self)
            self.queue.append(req)
            granted = self._grant(False)
            if granted is not None:
                _granted_on_arrival(granted)
        else:
            req = SlotRequest(self)
            heapq.heappush(self._ranked, (-priority, self._arrivals, req))
            self._arrivals += 1
            self._schedule_grant()
        self._log.add(self.env._now, self._id, self.users, len(self.queue) + len(self._ranked))
        return req

    def _give_back(self, request: SlotRequest) -> bool:
        """As JobSlots._give_back; a request with a priority may arrive at this
        instant and its grant must weigh it, so the grant event is always needed."""
        if request.triggered:
            self.users -= 1
        elif request in self.queue:
            self.queue.remove(request)
        else:
            ranked = self._ranked
            i = next(k for k, entry in enumerate(ranked) if entry[2] is request)
            ranked[i] = ranked[-1]
            ranked.pop()
            heapq.heapify(ranked)  # a withdrawal is rare: O(n), as deque.remove
        self._log.add(self.env._now, self._id, self.users, len(self.queue) + len(self._ranked))
        return True

    def _schedule_grant(self) -> None:
        _Grants(self.env, [self])

    def _grant(self, handover: bool) -> SlotRequest | None:
        # One grant per call, as JobSlots: the oldest request without a priority, else
        # the highest priority.
        if self.users < self.capacity:
            if self.queue:
                req = self.queue.popleft()
            elif self._ranked:
                req = heapq.heappop(self._ranked)[2]
            else:
                return None
            self.users += 1
            if handover:
                self._log.add(
                    self.env._now, self._id, self.users, len(self.queue) + len(self._ranked)
                )
            return req
        return None


class SlotsInOrder:
    """Several job slots, taken one after another in the order given and given back
    in reverse when the ``with`` block ends (None stands for a limit that does not
    apply). Every job takes its slots in one fixed order (CSV group, host, DPM server;
    hosts by name for migrations), holding nothing while it queues for the first, so
    jobs never deadlock. ``priority`` (a backup's predicted duration, None for none)
    goes with the request at each of them, so a job order holds at every queue."""

    __slots__ = ("_slots", "_held", "_priority", "_next")

    def __init__(self, *slots: JobSlots | None, priority: float | None = None):
        self._slots = slots
        self._held: list[SlotRequest] = []
        self._priority = priority
        self._next = 0  # the next of _slots to ask for

    def take(self) -> Generator[SlotRequest, object, None]:
        """Ask for each slot in turn, waiting for each before asking for the next."""
        req = self.next_request()
        while req is not None:
            yield req
            req = self.next_request()

    def next_request(self) -> SlotRequest | None:
        """take() one step at a time, for a job that yields without a ``yield from``
        (one generator fewer to pass through at each resume): the request for the
        next slot, which the caller yields before asking again; None once every slot
        is asked for."""
        slots = self._slots
        i = self._next
        while i < len(slots):
            each = slots[i]
            i += 1
            if each is not None:
                self._next = i
                priority = self._priority
                req = each.request() if priority is None else each.request(priority)
                self._held.append(req)
                return req
        self._next = i
        return None

    def __enter__(self) -> SlotsInOrder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        held = self._held
        if exc_type is GeneratorExit:
            held.clear()  # as SlotRequest.__exit__: nothing given back on generator cleanup
            return
        # Given back in reverse, with one grant event for all (_Grants).
        slots: list[JobSlots] = []
        needed = False
        while held:
            request = held.pop()
            slots.append(request.slots)
            needed = request.slots._give_back(request) or needed
        if slots and (needed or slots[0].env.peek() == slots[0].env._now):
            _Grants(slots[0].env, slots)
