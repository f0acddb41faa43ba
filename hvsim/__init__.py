"""hvsim: discrete-event simulation and capacity planning of Hyper-V protection with DPM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hvsim.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
from hvsim.scenario.schema import Scenario
from hvsim.seeds import MAX_SEED, check_seed

if TYPE_CHECKING:
    from hvsim.overrun import RunawayError
    from hvsim.results import Results
    from hvsim.simulation import simulate

# Results, RunawayError and simulate bring pandas and SimPy (about half a second to
# import): loaded on first use, so `hvsim validate`, `hvsim schema` and `--help` start
# without them.
_LAZY = {
    "Results": "hvsim.results",
    "RunawayError": "hvsim.overrun",
    "simulate": "hvsim.simulation",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from hvsim.version import installed_version

        globals()[name] = value = installed_version()
        return value
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hvsim' has no attribute {name!r}")


__all__ = [
    "MAX_SEED",
    "Results",
    "RunawayError",
    "Scenario",
    "ScenarioError",
    "check_seed",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
]
