"""hvsim: discrete-event simulation and capacity planning of Hyper-V protection with DPM."""

from __future__ import annotations

from collections.abc import Callable

from hvsim.overrun import RunawayError
from hvsim.results import Results
from hvsim.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
from hvsim.scenario.schema import Scenario

__all__ = [
    "Results",
    "RunawayError",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
]
__version__ = "0.1.0"


def simulate(
    scenario: Scenario, seed: int = 1, progress: Callable[[float], None] | None = None
) -> Results:
    """Run one replication of ``scenario`` with ``seed``; same inputs, same tables.

    ``progress`` (optional) is called with the simulated day once a day."""
    from hvsim.engine import build_world, run_world
    from hvsim.results import collect

    world = build_world(scenario, int(seed))
    run_world(world, progress)
    return collect(world, scenario.name, int(seed), scenario.start_date)
