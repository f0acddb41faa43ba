"""Planning runs: every combination of the varied values with its seeds, each run
keyed by a hash of the canonical scenario, the varied values, the seed and the
source of what decides its KPIs (so a stored run is reused only by the same
model on the same input)."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvsim.runs.vary import Vary, resolved_path, set_path
from hvsim.scenario.loader import ScenarioError, parse_yaml_nodes, scenario_from_dict
from hvsim.seeds import check_seed

# What decides a run's KPIs, relative to the hvsim package (a folder: every .py file
# under it). A stored run is reused only while all of these are unchanged; moving
# the command line, the reports or the runner does not invalidate the stores. A
# module that simulate() loads must be here: tests/runs/test_store.py checks it, and a
# listed path that no longer exists stops the fingerprint with its name.
KPI_SOURCES = (
    "__init__.py",  # the public API
    "seeds.py",  # check_seed()
    "scenario/",  # parsing, defaults, templates: the scenario a run simulates
    "model/",
    "world.py",  # the world: World, stream(), build_world
    "simulation.py",  # simulate() and the run
    "invariants.py",
    "overrun.py",  # runaway runs fail
    "results.py",  # tables and KPIs
    "recommend.py",  # res.recommendations, which simulate() sets
    "parts.py",  # a run's independent parts
    "merge.py",  # the order of their rows in one run's tables
)


@dataclass(frozen=True)
class RunSpec:
    """One run to do: picklable, so it goes to a process pool (any start method) or a
    Dask worker as it is."""

    index: int
    key: str
    doc: dict[str, Any]
    seed: int
    values: dict[str, Any]
    source: str


def load_document(path: str | Path) -> dict[str, Any]:
    """The raw scenario document of a file (validated once, so mistakes show here)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: (file): cannot read ({exc.__class__.__name__})"]) from None
    doc, nodes = parse_yaml_nodes(text, str(path))
    scenario_from_dict(copy.deepcopy(doc), str(path), nodes)
    return doc


_FINGERPRINT: str | None = None


def kpi_source_files(root: Path) -> list[Path]:
    """The files of KPI_SOURCES under the package folder ``root``, sorted."""
    files: set[Path] = set()
    for entry in KPI_SOURCES:
        path = root / entry
        if entry.endswith("/") and path.is_dir():
            files.update(path.rglob("*.py"))
        elif not entry.endswith("/") and path.is_file():
            files.add(path)
        else:
            raise RuntimeError(f"hvsim.runs.plan.KPI_SOURCES: {entry} is not in {root}")
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def source_fingerprint(root: Path) -> str:
    """Hash of the files of KPI_SOURCES under the package folder ``root``."""
    h = hashlib.sha256()
    for path in kpi_source_files(root):
        rel = path.relative_to(root).as_posix()
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def model_fingerprint() -> str:
    """The fingerprint of this hvsim's KPI sources (computed once)."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        _FINGERPRINT = source_fingerprint(Path(__file__).parent.parent)
    return _FINGERPRINT


def run_key(scenario_json: str, varied: dict[str, str], seed: int) -> str:
    material = json.dumps(
        {
            "scenario": hashlib.sha256(scenario_json.encode()).hexdigest(),
            "varied": varied,
            "seed": int(seed),
            "model": model_fingerprint(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def plan_runs(
    doc: dict[str, Any],
    source: str,
    varies: Sequence[Vary] = (),
    replications: int = 1,
    base_seed: int = 1,
    fixed_values: dict[str, Any] | None = None,
    start_index: int = 0,
) -> list[RunSpec]:
    """Every combination of the varied values (the first --vary changes slowest), each
    with seeds base_seed .. base_seed + replications - 1. Every combination is
    validated here, so a bad value stops the sweep before any run starts."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    base_seed = check_seed(base_seed)
    # A field by index or by name (dpm_servers[0], dpm_servers[dpm01]) is one field.
    resolved = [resolved_path(doc, v.steps) for v in varies]
    for k, (v, field) in enumerate(zip(varies, resolved, strict=True)):
        if field in resolved[:k]:
            raise ScenarioError([f"{source}: {v.path}: varied twice ({v.path})"])
    base_json = scenario_from_dict(copy.deepcopy(doc), source).model_dump_json()
    specs: list[RunSpec] = []
    problems: list[str] = []
    combos = itertools.product(*(range(len(v.values)) for v in varies))
    for combo in combos:
        varied_doc = copy.deepcopy(doc)
        values: dict[str, Any] = dict(fixed_values or {})
        labels: dict[str, str] = {}
        try:
            for v, field, i in zip(varies, resolved, combo, strict=True):
                set_path(varied_doc, v.steps, copy.deepcopy(v.values[i]), source)
                values[v.column] = v.table_values()[i]
                labels[field] = v.labels[i]  # a run's key: the same by index or by name
            scenario_from_dict(copy.deepcopy(varied_doc), source)
        except ScenarioError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
            continue
        for r in range(replications):
            seed = base_seed + r
            specs.append(
                RunSpec(
                    index=start_index + len(specs),
                    key=run_key(base_json, labels, seed),
                    doc=varied_doc,
                    seed=seed,
                    values=values,
                    source=source,
                )
            )
    if problems:
        raise ScenarioError(problems)
    return specs


def combination_label(values: dict[str, Any]) -> str:
    """``path=value, ...`` of one combination of varied values ("all runs" if none)."""
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "all runs"


def describe(values: dict[str, Any], seed: int) -> str:
    """One run in words: its varied values and its seed."""
    parts = [f"{k}={v}" for k, v in values.items()]
    return ", ".join(parts + [f"seed {seed}"])
