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
    """

    __slots__ = ("env", "capacity", "name", "kind", "users", "queue", "_log", "_id", "_grant_cb")

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
        self._grant_cb = self._grant

    def request(self, priority: float | None = None) -> SlotRequest:
        """An event that fires when the caller holds a slot; give it back by leaving
        its ``with`` block (or with release). A JobSlots serves first come, first
        served: ``priority`` is for RankedJobSlots, and a JobSlots does not look at it
        (the world makes every slot a RankedJobSlots when a DPM server orders its jobs
        otherwise, hvsim.model.infrastructure.Parts)."""
        req = SlotRequest(self)
        self.queue.append(req)
        self._grant(None)
        self._log.add(self.env._now, self._id, self.users, len(self.queue))
        return req

    def release(self, request: SlotRequest) -> None:
        """Give back the slot ``request`` holds (or withdraw it if still waiting)."""
        env = self.env
        if request.triggered:
            self.users -= 1
        else:
            self.queue.remove(request)
        # The grant event (SimPy's Release) hands the slot to the head of the queue
        # when it is processed. With nobody waiting it grants nothing, unless until
        # then the slot is taken, a job queues and another holder gives a slot back,
        # all at this instant before it: only events due now can do that, so without
        # any (peek) it is left out. (This step's other callbacks and the processes
        # it starts run before it too, but none of them both queues for and gives
        # back a slot of one JobSlots: a process asks for one slot, then waits.)
        # Leaving it out shifts the ids of later events alike: no two change order.
        if self.queue or env.peek() == env._now:
            done = simpy.Event(env)
            done.callbacks.append(self._grant_cb)
            done._ok = True
            done._value = None
            env.schedule(done)
        self._log.add(env._now, self._id, self.users, len(self.queue))

    def _grant(self, event: object) -> None:
        # One grant per call, to the head of the queue, as SimPy's _trigger_put.
        if self.queue and self.users < self.capacity:
            self.users += 1
            req = self.queue.popleft()
            if event is None:
                req.succeed()
            else:
                # A grant after a release (a hand-over): request() logs its own grants.
                self._log.add(self.env._now, self._id, self.users, len(self.queue))
                self._hand_over(req)

    def _hand_over(self, req: SlotRequest) -> None:
        """Grant ``req`` from a grant event. SimPy schedules the request and processes
        it in a step of its own; when no other event is due at this instant, that step
        is the very next one (nothing runs between two steps), so the request's
        callbacks (its job resuming) run here instead: the same order, one event fewer,
        and the ids of later events shifted alike."""
        env = self.env
        if env.peek() > env._now:
            req._ok = True
            req._value = None
            callbacks, req.callbacks = req.callbacks, None  # type: ignore[assignment]
            for callback in callbacks:
                callback(req)
        else:
            req.succeed()


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
            self._grant(None)
        else:
            req = SlotRequest(self)
            heapq.heappush(self._ranked, (-priority, self._arrivals, req))
            self._arrivals += 1
            self._schedule_grant()
        self._log.add(self.env._now, self._id, self.users, len(self.queue) + len(self._ranked))
        return req

    def release(self, request: SlotRequest) -> None:
        """Give back the slot ``request`` holds (or withdraw it if still waiting)."""
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
        self._schedule_grant()
        self._log.add(self.env._now, self._id, self.users, len(self.queue) + len(self._ranked))

    def _schedule_grant(self) -> None:
        done = simpy.Event(self.env)
        done.callbacks.append(self._grant_cb)
        done._ok = True
        done._value = None
        self.env.schedule(done)

    def _grant(self, event: object) -> None:
        # One grant per call, as JobSlots: the oldest request without a priority, else
        # the highest priority.
        if self.users < self.capacity:
            if self.queue:
                req = self.queue.popleft()
            elif self._ranked:
                req = heapq.heappop(self._ranked)[2]
            else:
                return
            self.users += 1
            if event is None:
                req.succeed()
            else:
                self._log.add(
                    self.env._now, self._id, self.users, len(self.queue) + len(self._ranked)
                )
                self._hand_over(req)


class SlotsInOrder:
    """Several job slots, taken one after another in the order given and given back
    in reverse when the ``with`` block ends (None stands for a limit that does not
    apply). Every job takes its slots in one fixed order (CSV group, host, DPM server;
    hosts by name for migrations), holding nothing while it queues for the first, so
    jobs never deadlock. ``priority`` (a backup's predicted duration, None for none)
    goes with the request at each of them, so a job order holds at every queue."""

    __slots__ = ("_slots", "_held", "_priority")

    def __init__(self, *slots: JobSlots | None, priority: float | None = None):
        self._slots = slots
        self._held: list[SlotRequest] = []
        self._priority = priority

    def take(self) -> Generator[SlotRequest, object, None]:
        """Ask for each slot in turn, waiting for each before asking for the next."""
        priority = self._priority
        for slots in self._slots:
            if slots is not None:
                req = slots.request() if priority is None else slots.request(priority)
                self._held.append(req)
                yield req

    def __enter__(self) -> SlotsInOrder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        held = self._held
        while held:
            held.pop().__exit__(exc_type, exc, tb)
