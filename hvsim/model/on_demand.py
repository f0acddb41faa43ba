"""On-demand jobs (restores, ad-hoc backups): a Poisson stream per DPM server that
takes job slots like every other job. With nothing else to wait for, a DPM server
with c slots is an M/M/c queue, which is how the queueing is validated."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import simpy

from hvsim.model.infrastructure import DpmServerState
from hvsim.model.trace import OnDemandRecord, Trace


class OnDemandStream:
    def __init__(
        self,
        env: simpy.Environment,
        dpm: DpmServerState,
        per_hour: float,
        mean_duration_s: float,
        exponential: bool,
        rng: np.random.Generator,
        trace: Trace,
        horizon_s: float,
    ):
        self.env = env
        self.dpm = dpm
        self.rate_per_s = per_hour / 3600.0
        self.mean_duration_s = mean_duration_s
        self.exponential = exponential
        self.rng = rng
        self.trace = trace
        self.horizon_s = horizon_s
        self.running = 0

    def arrivals(self) -> Generator:
        env, rng = self.env, self.rng
        n = 0
        while True:
            gap = float(rng.exponential(1.0 / self.rate_per_s))
            if env.now + gap >= self.horizon_s:
                return
            yield env.timeout(gap)
            n += 1
            hold = (
                float(rng.exponential(self.mean_duration_s))
                if self.exponential
                else self.mean_duration_s
            )
            env.process(self.job(n, hold))

    def job(self, n: int, hold_s: float) -> Generator:
        env = self.env
        self.running += 1
        arrived = env.now
        with self.dpm.job_slots.request() as slot:
            yield slot
            start = env.now
            yield env.timeout(hold_s)
        self.running -= 1
        self.trace.on_demand.append(OnDemandRecord(n, self.dpm.name, arrived, start, env.now))
