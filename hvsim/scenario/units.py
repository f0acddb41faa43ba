"""Human units in scenario files, converted once at the boundary.

Inside the model everything is seconds, bytes and bytes per second (floats).
Scenario files take ``100 GiB``, ``1 Gbps``, ``500 MB/s``, ``30 s`` and ``22:00``.
A bare number means the base unit (bytes, bytes/s, seconds).
"""

from __future__ import annotations

import re

_NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?)"
_PATTERN = re.compile(rf"^\s*{_NUMBER}\s*([A-Za-z/%]*)\s*$")

SIZE_UNITS: dict[str, float] = {
    "": 1.0,
    "b": 1.0,
    "byte": 1.0,
    "bytes": 1.0,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "pb": 1e15,
    "kib": 2.0**10,
    "mib": 2.0**20,
    "gib": 2.0**30,
    "tib": 2.0**40,
    "pib": 2.0**50,
}

# Rates: bytes per second (``MB/s``) or bits per second (``Gbps``, ``Mbit/s``).
RATE_UNITS: dict[str, float] = {
    "": 1.0,
    "b/s": 1.0,
    "kb/s": 1e3,
    "mb/s": 1e6,
    "gb/s": 1e9,
    "tb/s": 1e12,
    "kib/s": 2.0**10,
    "mib/s": 2.0**20,
    "gib/s": 2.0**30,
    "bps": 1 / 8,
    "kbps": 1e3 / 8,
    "mbps": 1e6 / 8,
    "gbps": 1e9 / 8,
    "kbit/s": 1e3 / 8,
    "mbit/s": 1e6 / 8,
    "gbit/s": 1e9 / 8,
}

DURATION_UNITS: dict[str, float] = {
    "": 1.0,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}

KIND_UNITS = {"size": SIZE_UNITS, "rate": RATE_UNITS, "duration": DURATION_UNITS}
KIND_EXAMPLES = {"size": "'100 GiB'", "rate": "'1 Gbps' or '500 MB/s'", "duration": "'30 s'"}


def parse_quantity(value: object, kind: str) -> float:
    """Convert ``value`` (number or string with unit) of ``kind`` to base units."""
    if isinstance(value, bool):
        raise ValueError(f"expected a {kind} such as {KIND_EXAMPLES[kind]}")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a {kind} such as {KIND_EXAMPLES[kind]}")
    match = _PATTERN.match(value)
    if not match:
        raise ValueError(f"expected a {kind} such as {KIND_EXAMPLES[kind]}")
    number, unit = float(match.group(1)), match.group(2)
    if kind == "rate" and unit == "B/s":
        unit = "b/s"
    factor = KIND_UNITS[kind].get(unit.lower())
    # Case matters for bits versus bytes only in rates: 'Mb/s' is ambiguous, so
    # only the spelled-out forms above are accepted.
    if factor is None:
        known = ", ".join(sorted(k for k in KIND_UNITS[kind] if k))
        raise ValueError(f"unknown {kind} unit '{unit}' (known: {known})")
    return number * factor


def parse_clock(value: object) -> float:
    """``'22:00'`` -> seconds after midnight. Times run 00:00 to 23:59."""
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 22:00 as the sexagesimal integer 1320.
        hours, minutes = divmod(value, 60)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,2}:\d{2}\s*", value):
        hours, minutes = (int(p) for p in value.strip().split(":"))
    else:
        raise ValueError("expected a time of day HH:MM between 00:00 and 23:59")
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError("time of day must lie between 00:00 and 23:59")
    return hours * 3600.0 + minutes * 60.0


def format_clock(seconds: float) -> str:
    seconds = int(seconds) % 86400
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
