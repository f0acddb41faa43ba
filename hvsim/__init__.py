"""hvsim: discrete-event simulation and capacity planning of Hyper-V protection with DPM."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

from hvsim.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
from hvsim.scenario.schema import Scenario

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


# Seeds are whole numbers 0 to 2**32 - 1 (numpy's classic seed range): SeedSequence
# refuses negative ones, and seeds SEED..SEED+R-1 stay 64-bit integers in the tables.
MAX_SEED = 2**32 - 1


def check_seed(seed: Any) -> int:
    """``seed`` as an int, or ValueError saying what a seed may be."""
    try:
        value = int(seed)
        whole = isinstance(seed, numbers.Real) and not isinstance(seed, bool) and value == seed
    except (OverflowError, ValueError, TypeError):  # inf, NaN, not a number
        whole = False
    if not whole or not 0 <= value <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, not {seed!r}")
    return value
