"""On-demand jobs (restores, ad-hoc backups): a Poisson stream per DPM server that
takes job slots like every other job. With nothing else to wait for, a DPM server
with c slots is an M/M/c queue, which is how the queueing is validated."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np
import simpy

from hvsim.model.dpm import DpmServerState
from hvsim.model.schedule import poisson_arrivals
from hvsim.model.trace import OnDemandRecord, Trace

if TYPE_CHECKING:
    from hvsim.scenario import schema


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
        path: str = "",
    ):
        self.path = path  # its place in the scenario, e.g. "on_demand[0]"
        self.env = env
        self.dpm = dpm
        self.rate_per_s = per_hour / 3600.0
        self.mean_duration_s = mean_duration_s
        self.exponential = exponential
        self.rng = rng
        self.trace = trace
        self.horizon_s = horizon_s
        self.running = 0
        self._arrived = 0  # jobs numbered in order of arrival

    @classmethod
    def build(
        cls,
        spec: schema.OnDemandJobs,
        index: int,
        env: simpy.Environment,
        dpm: DpmServerState,
        rng: np.random.Generator,
        trace: Trace,
        horizon_s: float,
    ) -> OnDemandStream:
        return cls(
            env,
            dpm,
            spec.per_hour,
            spec.mean_duration,
            spec.duration == "exponential",
            rng,
            trace,
            horizon_s,
            f"on_demand[{index}]",
        )

    def arrivals(self) -> Generator[simpy.Event, object, None]:
        """The stream's jobs, each taking one of the DPM server's slots on arrival."""
        return poisson_arrivals(self.env, self.rate_per_s, self.rng, self.horizon_s, self._arrive)

    def _arrive(self) -> None:
        self._arrived += 1
        hold = (
            float(self.rng.exponential(self.mean_duration_s))
            if self.exponential
            else self.mean_duration_s
        )
        self.env.process(self.job(self._arrived, hold))

    def job(self, n: int, hold_s: float) -> Generator[simpy.Event, object, None]:
        env = self.env
        self.running += 1
        arrived = env.now
        with self.dpm.job_slots.request() as slot:
            yield slot
            start = env.now
            yield env.timeout(hold_s)
        self.running -= 1
        self.trace.on_demand.append(OnDemandRecord(n, self.dpm.name, arrived, start, env.now))
