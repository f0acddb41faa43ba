"""What the advisor may change: knobs, each a field of the scenario and its allowed
values (the ``--vary`` grammar: ``protection_groups[1].start_offset=0 min,30 min``),
with an optional cost per value (``--cost PATH=C1,C2,...``, the planner's price of an
upgrade), and one structural knob, ``dpm_servers=1,2,3``: the number of DPM servers,
the estate spread over them (hvsim.advise.scale_out).

A design is one choice per knob: an index into its values, or None for "as the
input has it". Knobs set on paths are applied first, then the scale-out, so a
protection group split over new servers carries its offset and schedule with it."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hvsim.runs.vary import Vary, get_path, parse_value, parse_vary, set_path
from hvsim.scenario.loader import ScenarioError, scenario_from_dict

SERVERS = "dpm_servers"

Choice = tuple[int | None, ...]


@dataclass(frozen=True)
class Knob:
    """A field and its allowed values (``labels`` as written), with their costs."""

    vary: Vary
    costs: tuple[float, ...] | None = None

    @property
    def path(self) -> str:
        return self.vary.path

    @property
    def labels(self) -> tuple[str, ...]:
        return self.vary.labels

    @property
    def servers(self) -> bool:
        """The number of DPM servers (a scale-out), not a field."""
        return self.vary.path == SERVERS

    def cost(self, index: int | None) -> float:
        if self.costs is None or index is None:
            return 0.0
        return self.costs[index]


def parse_knob(text: str, source: str = "advise") -> Knob:
    """``PATH=V1,V2,...`` (``dpm_servers=1,2,3`` for the number of DPM servers)."""
    vary = parse_vary(text, source)
    if vary.path == SERVERS:
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in vary.values):
            raise ScenarioError(
                [f"{source}: --knob {text}: dpm_servers takes whole numbers of servers, e.g. 1,2,3"]
            )
    return Knob(vary)


def parse_costs(texts: Sequence[str], knobs: Sequence[Knob], source: str = "advise") -> list[Knob]:
    """``knobs`` with the costs of each ``--cost PATH=C1,C2,...`` (one per value)."""
    by_path = {k.path: k for k in knobs}
    costed: dict[str, tuple[float, ...]] = {}
    for text in texts:
        path, sep, rest = text.partition("=")
        path = path.strip()
        if not sep or path not in by_path:
            known = ", ".join(by_path) or "none given"
            raise ScenarioError(
                [f"{source}: --cost {text}: expected PATH=C1,C2,... for a --knob PATH ({known})"]
            )
        values = [parse_value(v.strip(), source) for v in rest.split(",")]
        if len(values) != len(by_path[path].labels) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in values
        ):
            raise ScenarioError(
                [
                    f"{source}: --cost {text}: expected {len(by_path[path].labels)} costs "
                    f"(numbers >= 0), one per value of {path}"
                ]
            )
        costed[path] = tuple(float(v) for v in values)
    return [Knob(k.vary, costed.get(k.path, k.costs)) for k in knobs]


def apply(
    doc: dict[str, Any], knobs: Sequence[Knob], choice: Choice, source: str = "advise"
) -> dict[str, Any]:
    """A copy of ``doc`` with each knob set to its chosen value (None: as in ``doc``)."""
    out = copy.deepcopy(doc)
    servers = None
    for knob, index in zip(knobs, choice, strict=True):
        if index is None:
            continue
        if knob.servers:
            servers = knob.vary.values[index]
        else:
            set_path(out, knob.vary.steps, copy.deepcopy(knob.vary.values[index]), source)
    if servers is not None:
        from hvsim.advise.scale_out import scale_out

        out = scale_out(out, servers, source)
    return out


def canonical(doc: dict[str, Any], source: str = "advise") -> str:
    """The scenario as validated, with every default: equal for equal designs, however
    their values were written."""
    return scenario_from_dict(copy.deepcopy(doc), source).model_dump_json()


def input_choice(doc: dict[str, Any], knobs: Sequence[Knob], source: str = "advise") -> Choice:
    """Each knob's value in the input (its index), or None where the input holds a
    value the knob does not list. Every value of every knob is checked here, alone
    on the input, so a bad value stops the advisor before any run."""
    base = canonical(doc, source)
    choice: list[int | None] = []
    problems: list[str] = []
    for k, knob in enumerate(knobs):
        found = None
        for i in range(len(knob.labels)):
            single: list[int | None] = [None] * len(knobs)
            single[k] = i
            try:
                if canonical(apply(doc, knobs, tuple(single), source), source) == base:
                    found = i if found is None else found
            except ScenarioError as exc:
                problems.extend(p for p in exc.problems if p not in problems)
        choice.append(found)
    if problems:
        raise ScenarioError(problems)
    return tuple(choice)


def describe_value(knob: Knob, index: int | None, doc: dict[str, Any]) -> str:
    """The knob's value as written, or the input's value (``index`` None)."""
    if index is not None:
        return knob.labels[index]
    if knob.servers:
        return str(len(doc.get(SERVERS) or []))
    try:
        return str(get_path(doc, knob.vary.steps))
    except KeyError:
        return "default"
