"""When things start: each day's scheduled times, and Poisson arrivals.

The model's one rule at the horizon, written here once: nothing starts at or after
the horizon (``starts_before``); what started before it runs to its end, so every
started job has an end (hvsim.overrun says how far past the horizon a run may go).
Every schedule, stream and deferred action of the model asks ``starts_before``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import simpy

DAY_S = 86400.0


def starts_before(at_s: float, horizon_s: float) -> bool:
    """Whether something due at ``at_s`` starts: only before the horizon."""
    return at_s < horizon_s


def daily(
    times_s: Sequence[float], horizon_s: float, *, first_day: int = 0, every_days: int = 1
) -> Iterator[float]:
    """Each day's ``times_s`` (seconds after midnight, sorted), on days ``first_day``,
    ``first_day + every_days``, ..., as long as they start before the horizon."""
    if not times_s:
        return
    day = first_day
    while True:
        for t in times_s:
            at = day * DAY_S + t
            if not starts_before(at, horizon_s):
                return
            yield at
        day += every_days


def daily_count(times_s: Sequence[float], horizon_s: float) -> int:
    """How many times ``daily(times_s, horizon_s)`` yields, by arithmetic (for
    estimates before a run)."""
    return sum(math.ceil((horizon_s - t) / DAY_S) for t in times_s if starts_before(t, horizon_s))


def poisson_arrivals(
    env: simpy.Environment,
    rate_per_s: float,
    rng: np.random.Generator,
    horizon_s: float,
    arrive: Callable[[], object],
) -> Generator[simpy.Event, object, None]:
    """A Poisson stream, as one process: ``arrive()`` at each arrival, from now on,
    while arrivals start before the horizon. Each gap is drawn from ``rng`` when the
    previous arrival is done, so ``arrive`` may draw from the same stream."""
    mean_gap_s = 1.0 / rate_per_s
    while True:
        gap = float(rng.exponential(mean_gap_s))
        if not starts_before(env.now + gap, horizon_s):
            return
        yield env.timeout(gap)
        arrive()
