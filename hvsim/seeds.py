"""Seeds of runs: what a seed may be, checked in one place (the CLI, simulate and
the run planner all ask here)."""

from __future__ import annotations

import numbers
from typing import Any

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
