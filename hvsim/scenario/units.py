"""Human units in scenario files, converted once at the boundary.

Inside the model everything is seconds, bytes and bytes per second (floats).
Scenario files take ``100 GiB``, ``1 Gbps``, ``500 MB/s``, ``30 s`` and ``22:00``.
A bare number means the base unit (bytes, bytes/s, seconds).
"""

from __future__ import annotations

import re

_NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?)"
# Matched against the stripped text: with \s* at both ends as well, a number followed
# by many spaces and a stray character made the regex backtrack quadratically (a
# quarter of a million spaces took minutes).
_PATTERN = re.compile(rf"{_NUMBER}\s*([A-Za-z/%]*)")

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
    "eb": 1e18,
    "kib": 2.0**10,
    "mib": 2.0**20,
    "gib": 2.0**30,
    "tib": 2.0**40,
    "pib": 2.0**50,
    "eib": 2.0**60,
}

# Rates: bytes per second (``MB/s``, upper-case B) or bits per second (``Gbps``,
# ``Mbit/s``). Case matters here only: ``Mb/s`` or ``Gb/s`` could mean either, so
# they are refused rather than guessed (a factor of 8).
_PREFIXES: dict[str, float] = {
    "": 1.0,
    "k": 1e3,
    "m": 1e6,
    "g": 1e9,
    "t": 1e12,
    "p": 1e15,
    "e": 1e18,
    "ki": 2.0**10,
    "mi": 2.0**20,
    "gi": 2.0**30,
    "ti": 2.0**40,
    "pi": 2.0**50,
    "ei": 2.0**60,
}
_DECIMAL = ("", "k", "m", "g", "t", "p", "e")
# The spellings listed in error messages; _rate_factor also takes other cases
# where they cannot be misread (``gbps``, ``KB/s``, ``GBit/s``).
RATE_UNITS: dict[str, float] = {
    "B/s": 1.0,
    "kB/s": 1e3,
    "MB/s": 1e6,
    "GB/s": 1e9,
    "TB/s": 1e12,
    "PB/s": 1e15,
    "KiB/s": 2.0**10,
    "MiB/s": 2.0**20,
    "GiB/s": 2.0**30,
    "TiB/s": 2.0**40,
    "bps": 1 / 8,
    "kbps": 1e3 / 8,
    "Mbps": 1e6 / 8,
    "Gbps": 1e9 / 8,
    "Tbps": 1e12 / 8,
    "Pbps": 1e15 / 8,
    "kbit/s": 1e3 / 8,
    "Mbit/s": 1e6 / 8,
    "Gbit/s": 1e9 / 8,
    "Tbit/s": 1e12 / 8,
}


def _rate_factor(unit: str) -> float | None:
    """Bytes per second in one ``unit``; None if unknown. Raises on ambiguous units."""
    if unit == "":
        return 1.0
    low = unit.lower()
    if low.endswith("bit/s") and low[:-5] in _DECIMAL:
        return _PREFIXES[low[:-5]] / 8
    if unit.endswith("bps") and low[:-3] in _DECIMAL:
        return _PREFIXES[low[:-3]] / 8
    if unit.endswith("B/s") and low[:-3] in _PREFIXES:
        return _PREFIXES[low[:-3]]
    if unit.endswith("b/s") and low[:-3] in _PREFIXES:
        prefix = unit[:-3]
        bits = "" if prefix.endswith("i") else f" or '{prefix}bps' for bits"
        raise ValueError(
            f"ambiguous rate unit '{unit}': write '{prefix}B/s' for bytes{bits} per second"
        )
    return None


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

# Largest values a scenario may give. Far beyond any estate (a VHDX holds at most
# 64 TB, an NTFS volume 256 TB; the fastest links are 400 Gbps), but small enough that
# times and bytes stay exact enough in floats and fit pandas' timestamps: with a
# 1e300-byte disk or a 1e300 s release time a run crashed or never ended.
MAX_DURATION_S = 3660 * 86400.0  # the longest horizon (schema.MAX_HORIZON_DAYS)
KIND_MAXIMUM = {"size": 1e18, "rate": 1e15, "duration": MAX_DURATION_S}
KIND_MAXIMUM_TEXT = {
    "size": "1 EB (1e18 bytes)",
    "rate": "1 PB/s (1e15 bytes/s)",
    "duration": "3660 d (ten years, the longest horizon)",
}
KIND_ZERO_TEXT = {"size": "0 bytes", "rate": "0 B/s", "duration": "0 s"}


class OutOfRange(ValueError):
    """A quantity that is not finite or larger than its kind's maximum. The field
    that took it says its own allowed range (``allowed``)."""


def allowed(kind: str, least_text: str = "", exclusive: bool = False) -> str:
    """The values a field of ``kind`` takes, in words: 'a size from 1 MiB to 1 EB
    (1e18 bytes)', 'a duration greater than 0 s and at most 3660 d (...)'."""
    top = KIND_MAXIMUM_TEXT[kind]
    if least_text:
        return f"a {kind} from {least_text} to {top}"
    if exclusive:
        return f"a {kind} greater than {KIND_ZERO_TEXT[kind]} and at most {top}"
    return f"a {kind} from {KIND_ZERO_TEXT[kind]} to {top}"


def parse_quantity(value: object, kind: str) -> float:
    """Convert ``value`` (number or string with unit) of ``kind`` to base units.

    Refuses values that are not finite or larger than ``KIND_MAXIMUM[kind]``
    (OutOfRange); zero and negative values pass (each field decides whether it
    takes them)."""
    return _bounded(_parse_quantity(value, kind), kind)


def _bounded(v: float, kind: str) -> float:
    if v != v or v in (float("inf"), float("-inf")):
        raise OutOfRange(f"{kind} must be a finite number, at most {KIND_MAXIMUM_TEXT[kind]}")
    if v > KIND_MAXIMUM[kind]:
        raise OutOfRange(f"{kind} must be at most {KIND_MAXIMUM_TEXT[kind]}")
    return v


def _parse_quantity(value: object, kind: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a {kind} such as {KIND_EXAMPLES[kind]}")
    if isinstance(value, int | float):
        return _to_float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a {kind} such as {KIND_EXAMPLES[kind]}")
    match = _PATTERN.fullmatch(value.strip())
    if not match:
        raise ValueError(f"expected a {kind} such as {KIND_EXAMPLES[kind]}")
    number, unit = float(match.group(1)), match.group(2)
    if kind == "rate":
        factor = _rate_factor(unit)
    else:
        factor = KIND_UNITS[kind].get(unit.lower())
    if factor is None:
        known = ", ".join(k for k in KIND_UNITS[kind] if k)
        raise ValueError(f"unknown {kind} unit '{unit}' (known: {known})")
    return number * factor


def _to_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        raise OutOfRange("number too large") from None


def parse_clock(value: object) -> float:
    """``'22:00'`` -> seconds after midnight. Times run 00:00 to 23:59."""
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 22:00 as the sexagesimal integer 1320 (minutes).
        # It cannot yield less than 60 (1:00), so a smaller number is a bare number
        # such as 22 meant as 22:00: refuse it rather than read it as 00:22.
        if 0 <= value < 60:
            raise ValueError("a bare number is not a time of day; write HH:MM such as '22:00'")
        hours, minutes = divmod(value, 60)
        shown = f"{hours}:{minutes:02d}" if hours < 1000 else f"{value} minutes"
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,2}:\d{2}\s*", value):
        hours, minutes = (int(p) for p in value.strip().split(":"))
        shown = value.strip()
    else:
        raise ValueError("expected a time of day HH:MM between 00:00 and 23:59")
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"time of day must lie between 00:00 and 23:59, not {shown}")
    return hours * 3600.0 + minutes * 60.0


def format_clock(seconds: float) -> str:
    seconds = int(seconds) % 86400
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def format_size(size_bytes: float) -> str:
    """Bytes in decimal units with three significant digits: '40.0 TB', '1.07 GB'."""
    units = (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
    unit, factor = next(((u, f) for u, f in units if size_bytes >= f * 0.9995), ("bytes", 1.0))
    x = size_bytes / factor
    decimals = 0 if x >= 99.95 or factor == 1.0 else 1 if x >= 9.995 else 2
    return f"{x:.{decimals}f} {unit}"
