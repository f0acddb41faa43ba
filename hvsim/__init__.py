"""hvsim: discrete-event simulation and capacity planning of Hyper-V protection with DPM."""

from __future__ import annotations

from hvsim.results import Results
from hvsim.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
from hvsim.scenario.schema import Scenario

__all__ = ["Results", "Scenario", "ScenarioError", "load_scenario", "scenario_from_dict",
           "simulate"]
__version__ = "0.1.0"


def simulate(scenario: Scenario, seed: int = 1) -> Results:
    """Run one replication of ``scenario`` with ``seed``; same inputs, same tables."""
    from hvsim.engine import build_world, run_world
    from hvsim.results import collect

    world = build_world(scenario, int(seed))
    run_world(world)
    return collect(world, scenario.name, int(seed), scenario.start_date)
