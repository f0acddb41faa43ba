"""hvsim: discrete-event simulation and capacity planning of Hyper-V protection with DPM."""

from __future__ import annotations

import numbers
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
    if name == "__version__":
        globals()[name] = value = installed_version()
        return value
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


def installed_version() -> str:
    """hvsim's version from the installed package's metadata (pyproject.toml's), or
    "unknown" when hvsim runs from a folder it was not installed from."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hvsim")
    except PackageNotFoundError:
        return "unknown"


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


def simulate(
    scenario: Scenario, seed: int = 1, progress: Callable[[float], None] | None = None
) -> Results:
    """Run one replication of ``scenario`` with ``seed`` (0 to 2**32 - 1); same
    inputs, same tables.

    ``progress`` (optional) is called with the simulated day once a day."""
    from hvsim.engine import build_world, run_world
    from hvsim.results import collect

    seed = check_seed(seed)
    world = build_world(scenario, seed)
    run_world(world, progress)
    return collect(world, scenario.name, seed, scenario.start_date)
