"""The store of finished runs: one JSON file per run, keyed by the run's key, so a
sweep killed and started again recomputes nothing it already finished."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from hvsim.files import atomic_write
from hvsim.runs.plan import RunSpec

# 2: records carry a checksum of their content (format 1 records are computed again).
CACHE_FORMAT = 2


def record_checksum(content: dict[str, Any]) -> str:
    """sha256 of a record's canonical JSON (sorted keys, no spaces), without its
    ``checksum`` field."""
    body = {k: v for k, v in content.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_kpi_value(value: Any) -> bool:
    """A stored KPI is a finite number, or null (a KPI that was not a number)."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


class RunStore:
    """One JSON file per finished run, written whole (a uniquely named temporary file,
    then an atomic rename). Each record carries its key and the checksum of its
    content; a record is used only when both match, its format is current and every
    KPI is a number, so an edited, truncated or misplaced record is computed again
    rather than reported as a result."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def check(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        """(record, None) for a record that can be used; (None, None) when there is
        none; (None, why) when there is one that cannot be used."""
        try:
            text = self.path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError):
            return None, "unreadable"
        try:
            data = json.loads(text)
        except ValueError:
            return None, "not JSON"
        if not isinstance(data, dict):
            return None, "not a record"
        if data.get("format") != CACHE_FORMAT:
            return None, "another record format"
        if data.get("key") != key:
            return None, "another run's record"
        if data.get("checksum") != record_checksum(data):
            return None, "checksum does not match"
        kpis = data.get("kpis")
        if not isinstance(kpis, dict) or not kpis:
            return None, "no KPIs"
        if not all(_is_kpi_value(v) for v in kpis.values()):
            return None, "a KPI is not a number"
        return data, None

    def get(self, key: str) -> dict[str, Any] | None:
        """The record of ``key`` if it can be used, else None."""
        return self.check(key)[0]

    def put(self, spec: RunSpec, outcome: dict[str, Any]) -> None:
        from hvsim.version import installed_version

        self.folder.mkdir(parents=True, exist_ok=True)
        content = {
            "format": CACHE_FORMAT,
            "key": spec.key,
            "seed": spec.seed,
            "values": spec.values,
            "hvsim": installed_version(),
            "wall_s": round(outcome["wall_s"], 3),
            "kpis": outcome["kpis"],
        }
        # Through JSON first, so the checksum is of what a reader will load.
        record = json.loads(json.dumps(content, default=str))
        record["checksum"] = record_checksum(record)
        atomic_write(self.path(spec.key), json.dumps(record, indent=1) + "\n")


def rejected_line(rejected: int) -> str:
    """The words for stored runs whose records did not check (console, summary.md)."""
    runs = (
        "stored run did not match its record and was"
        if rejected == 1
        else ("stored runs did not match their records and were")
    )
    return f"{rejected} {runs} computed again"
