"""hvsim: discrete-event simulation and capacity planning of Hyper-V protection with DPM."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hvsim.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
from hvsim.scenario.schema import Scenario

if TYPE_CHECKING:
    from hvsim.overrun import RunawayError
    from hvsim.results import Results

# Results and RunawayError bring pandas (about half a second to import): loaded on
# first use, so `hvsim validate`, `hvsim schema` and `--help` start without them.
_LAZY = {"Results": "hvsim.results", "RunawayError": "hvsim.overrun"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hvsim' has no attribute {name!r}")


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
