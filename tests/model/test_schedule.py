"""The schedules of the model (hvsim/model/schedule.py) and their one rule at the
horizon: nothing starts at or after it."""

from __future__ import annotations

import numpy as np
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from hvsim.model.schedule import DAY_S, daily, daily_count, poisson_arrivals

H = 3600.0


def test_daily_times_start_before_the_horizon_and_one_due_at_it_does_not():
    # 00:00 and 12:00 over a day and a half: day 0 at 0 and 12 h, day 1 at 24 h; day
    # 1's 12:00 is the horizon itself (36 h), so it does not start.
    assert list(daily((0.0, 12 * H), 36 * H)) == [0.0, 12 * H, 24 * H]
    assert list(daily((0.0, 12 * H), 36 * H + 1)) == [0.0, 12 * H, 24 * H, 36 * H]
    assert list(daily((), 10 * DAY_S)) == []


def test_daily_from_a_first_day_every_few_days_as_a_restore_drill_uses_it():
    # 02:00 on days 1, 4, 7, ... of a 9-day run: 1 d 2 h, 4 d 2 h, 7 d 2 h; day 10 is
    # past the horizon. The horizon at 7 d 2 h itself leaves only the first two.
    got = list(daily((2 * H,), 9 * DAY_S, first_day=1, every_days=3))
    assert got == [DAY_S + 2 * H, 4 * DAY_S + 2 * H, 7 * DAY_S + 2 * H]
    got = list(daily((2 * H,), 7 * DAY_S + 2 * H, first_day=1, every_days=3))
    assert got == [DAY_S + 2 * H, 4 * DAY_S + 2 * H]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 95), min_size=0, max_size=4, unique=True),
    st.integers(1, 20 * 96),
)
def test_the_estimate_counts_the_daily_times_a_run_starts(quarters, horizon_q):
    # Whole quarter hours: the arithmetic and the iteration meet exactly at the edges.
    times = sorted(q * 900.0 for q in quarters)
    assert daily_count(times, horizon_q * 900.0) == len(list(daily(times, horizon_q * 900.0)))


def test_poisson_arrivals_start_before_the_horizon_with_the_callers_draws_in_between():
    # The same stream drawn by hand: a gap, then the caller's draw, then the next gap;
    # the last gap that would arrive at or after the horizon ends the stream.
    rate, horizon = 1 / 600.0, 4 * H
    env, rng, seen = simpy.Environment(), np.random.default_rng(7), []

    def arrive():
        seen.append((env.now, float(rng.random())))

    env.process(poisson_arrivals(env, rate, rng, horizon, arrive))
    env.run()
    ref, t, expected = np.random.default_rng(7), 0.0, []
    while True:
        gap = float(ref.exponential(1.0 / rate))
        if t + gap >= horizon:
            break
        t += gap
        expected.append((t, float(ref.random())))
    assert seen == expected and len(seen) > 10
