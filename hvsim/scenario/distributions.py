"""Constants or distributions for scenario fields, drawn per VM from seeded streams.

A field that takes a distribution accepts either a constant (``"100 GiB"``,
``0.03``, ``true``) or a mapping with ``dist`` and its parameters:

- ``{dist: fixed, value: X}``
- ``{dist: uniform, low: A, high: B}``
- ``{dist: normal, mean: M, sd: S}`` (draws outside the field's bounds are clipped to them)
- ``{dist: lognormal, median: M, sigma: S}`` (``sigma`` is the shape of ln X)
- ``{dist: triangular, low: A, mode: C, high: B}``
- ``{dist: choice, values: [..], weights: [..]}`` (weights optional, normalised)

Parameters carry the field's unit (``"20 GiB"``). ``choice`` also works for
categorical fields (guest OS, on/off switches).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from annotated_types import GroupedMetadata
from pydantic import BeforeValidator, ValidationInfo, WithJsonSchema

from hvsim.scenario.units import KIND_MAXIMUM, OutOfRange, allowed, parse_quantity

PARAMS: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "triangular": ("low", "mode", "high"),
    "choice": ("values", "weights"),
}


class ParameterError(ValueError):
    """What is wrong with one parameter of a distribution. ``at`` is the parameter's
    place in the field's mapping (``("low",)``, ``("values", 2)``) and ``given`` its
    value: the problem line names ``vms[0].memory.values[2]`` and that value, not the
    field and its whole mapping, where a wrong item among several was hard to find."""

    def __init__(self, message: str, at: tuple[str | int, ...], given: Any):
        super().__init__(message)
        self.at = at
        self.given = given


def _param(value: dict, name: str, convert) -> Any:
    """``convert(value[name])``, its error located at the parameter."""
    try:
        return convert(value[name])
    except ParameterError:
        raise
    except ValueError as exc:
        raise ParameterError(str(exc), (name,), value[name]) from None


def _each_value(values: list, convert) -> tuple[Any, ...]:
    """The converted items of a choice's ``values``, an error located at its item."""
    out = []
    for i, v in enumerate(values):
        try:
            out.append(convert(v))
        except ValueError as exc:
            raise ParameterError(str(exc), ("values", i), v) from None
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Dist:
    """A validated distribution of a numeric or categorical field, in base units."""

    kind: str
    params: tuple[Any, ...]
    floor: float | None = None
    ceiling: float | None = None

    @property
    def is_constant(self) -> bool:
        return self.kind == "fixed" or (self.kind == "choice" and len(self.params[0]) == 1)

    def sample(self, rng: np.random.Generator) -> Any:
        k, p = self.kind, self.params
        if k == "fixed":
            return p[0]
        if k == "choice":
            values, weights = p
            if len(values) == 1:
                return values[0]
            return values[int(rng.choice(len(values), p=weights))]
        if k == "uniform":
            x = rng.uniform(p[0], p[1])
        elif k == "normal":
            x = rng.normal(p[0], p[1])
        elif k == "lognormal":
            x = p[0] * float(np.exp(rng.normal(0.0, p[1])))
        else:  # triangular
            x = p[1] if p[0] == p[2] else rng.triangular(p[0], p[1], p[2])
        x = float(x)
        if self.floor is not None and x < self.floor:
            x = self.floor
        if self.ceiling is not None and x > self.ceiling:
            x = self.ceiling
        return x

    def mean(self) -> Any:
        """Expected value (numeric kinds); used by scans and reports, not by draws."""
        k, p = self.kind, self.params
        if k == "fixed":
            return p[0]
        if k == "choice":
            return float(np.dot(p[0], p[1]))
        if k == "uniform":
            return (p[0] + p[1]) / 2
        if k == "normal":
            return p[0]
        if k == "lognormal":
            return p[0] * float(np.exp(p[1] ** 2 / 2))
        return (p[0] + p[1] + p[2]) / 3

    def expected(self) -> float:
        """Mean of the draws themselves, which a normal or lognormal has clipped to
        [floor, ceiling] (``mean()`` is the unclipped distribution's): the expected
        value of clip(X, floor, ceiling) from the normal CDF."""
        k, p = self.kind, self.params
        if k not in ("normal", "lognormal"):
            return float(self.mean())
        lo = -math.inf if self.floor is None else self.floor
        hi = math.inf if self.ceiling is None else self.ceiling
        if p[1] == 0:
            return min(max(float(p[0]), lo), hi)
        if k == "normal":
            mu, sd = p
            a, b = (lo - mu) / sd, (hi - mu) / sd  # the bounds in standard units
            inside = mu * (_cdf(b) - _cdf(a)) + sd * (_pdf(a) - _pdf(b))
        else:  # lognormal: X = median * exp(sigma * Z)
            median, sd = p
            a = (math.log(lo / median) if lo > 0 else -math.inf) / sd
            b = (math.log(hi / median) if hi < math.inf else math.inf) / sd
            inside = median * math.exp(sd**2 / 2) * (_cdf(b - sd) - _cdf(a - sd))
        below = lo * _cdf(a) if lo > -math.inf else 0.0
        above = hi * (1 - _cdf(b)) if hi < math.inf else 0.0
        return below + inside + above


_FRACTION_WORDS = "a fraction from 0 to 1 (0 % to 100 %)"


def _cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _pdf(z: float) -> float:
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi) if math.isfinite(z) else 0.0


def _allowed(kind: str, minimum: float, exclusive: bool, maximum: float | None, least_text: str):
    """The values a field takes, in words (units.allowed for quantities)."""
    if kind in KIND_MAXIMUM and (least_text or minimum == 0):
        return allowed(kind, least_text, exclusive=exclusive)
    if kind == "fraction" and (minimum, exclusive, maximum) == (0, False, 1):
        return _FRACTION_WORDS
    noun = "a fraction" if kind == "fraction" else "a number"
    low = f"greater than {minimum:g}" if exclusive else f"from {minimum:g}"
    if maximum is None:
        return f"{noun} {low}" if exclusive else f"{noun} of {minimum:g} or more"
    return f"{noun} {low} and at most {maximum:g}" if exclusive else f"{noun} {low} to {maximum:g}"


def _in_range(x: float, minimum: float, exclusive: bool, maximum: float | None) -> bool:
    if not np.isfinite(x):
        return False
    if x < minimum or (exclusive and x <= minimum):
        return False
    return maximum is None or x <= maximum


def _validator(
    kind: str,
    minimum: float,
    exclusive: bool,
    maximum: float | None,
    least: float | None,
    least_text: str,
):
    """Build a before-validator for a numeric field of ``kind`` that may be a distribution."""
    if maximum is None:
        # Draws of a normal or lognormal are clipped to the largest value the field
        # could be given as a constant (units.KIND_MAXIMUM), never beyond.
        maximum = KIND_MAXIMUM.get(kind)
    # ... and to the least value it takes (a draw below a field's least, say a VM's
    # memory under 32 MiB, becomes that least).
    floor = least if least is not None else (minimum if not exclusive else None)
    words = _allowed(kind, minimum, exclusive, maximum, least_text)
    # A spread (a normal's sd) carries the unit of its field but may be zero.
    spread_words = _allowed(kind, 0.0, False, KIND_MAXIMUM.get(kind), "")

    def convert(x: object, name: str, spread: bool = False) -> float:
        if kind == "fraction":
            v = _fraction(x)
        elif kind == "count":
            if isinstance(x, bool) or not isinstance(x, int | float):
                raise ValueError("expected a number")
            v = _finite_float(x)
        else:
            try:
                v = parse_quantity(x, kind)
            except OutOfRange:
                v = float("nan")
        if spread:
            if not _in_range(v, 0.0, False, None):
                raise ValueError(f"{name} must be {spread_words}")
        elif not _in_range(v, minimum, exclusive, maximum) or (least is not None and v < least):
            raise ValueError(f"{name} must be {words}")
        return v

    def validate(value: object, info: ValidationInfo) -> Dist:
        if isinstance(value, Dist):
            return value
        field = info.field_name or kind
        if not isinstance(value, dict):
            return Dist("fixed", (convert(value, field),))
        return _from_mapping(value, field, convert, floor, maximum)

    return validate


def _finite_float(x: int | float) -> float:
    try:
        return float(x)
    except OverflowError:
        return float("inf")  # refused with the field's range


def _fraction(x: object) -> float:
    if isinstance(x, str) and x.strip().endswith("%"):
        number = x.strip()[:-1].strip()
        try:
            return float(number) / 100.0
        except ValueError:
            raise ValueError("expected a fraction such as 0.03 or '3 %'") from None
    if isinstance(x, int | float) and not isinstance(x, bool):
        return _finite_float(x)
    raise ValueError("expected a fraction such as 0.03 or '3 %'")


def _from_mapping(
    value: dict, field: str, convert, floor: float | None, maximum: float | None
) -> Dist:
    kind = value.get("dist")
    if not isinstance(kind, str) or kind not in PARAMS:
        at = ("dist",) if "dist" in value else ()
        raise ParameterError(f"'dist' must be one of {', '.join(PARAMS)}", at, kind)
    allowed = set(PARAMS[kind]) | {"dist"}
    unknown = sorted(set(value) - allowed, key=str)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(str, unknown))} for dist {kind}")
    required = [n for n in PARAMS[kind] if n != "weights"]
    missing = [n for n in required if n not in value]
    if missing:
        raise ValueError(f"dist {kind} needs {', '.join(missing)}")

    def param(name: str, spread: bool = False) -> float:
        return _param(value, name, lambda x: convert(x, f"{name} of {field}", spread))

    if kind == "choice":
        values = value["values"]
        if not isinstance(values, list) or not values:
            raise ParameterError("choice needs a non-empty list 'values'", ("values",), values)
        conv = _each_value(values, lambda v: convert(v, f"each value of {field}"))
        return Dist("choice", (conv, _weights(value.get("weights"), len(conv))))
    if kind == "fixed":
        return Dist("fixed", (param("value"),))
    if kind == "uniform":
        low, high = param("low"), param("high")
        if high < low:
            raise ValueError("uniform needs low <= high")
        return Dist("uniform", (low, high))
    if kind == "triangular":
        low, mode, high = param("low"), param("mode"), param("high")
        if not low <= mode <= high:
            raise ValueError("triangular needs low <= mode <= high")
        return Dist("triangular", (low, mode, high))
    if kind == "normal":
        mean = param("mean")
        sd = param("sd", spread=True)
        # A normal can draw outside the field's bounds: such draws are clipped to a
        # small positive floor (or the minimum itself) and to the maximum, never
        # passed on as nonsense.
        low = floor if floor is not None else max(mean * 1e-3, 1e-9)
        return Dist("normal", (mean, sd), low, maximum)
    median = param("median")
    sigma = value["sigma"]
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not 0 <= sigma <= 10:
        raise ParameterError(
            f"sigma of {field} must be a number from 0 to 10 (the shape of ln X)",
            ("sigma",),
            sigma,
        )
    return Dist("lognormal", (median, float(sigma)), floor, maximum)


def _weights(weights: object, n: int) -> tuple[float, ...]:
    if weights is None:
        return tuple([1.0 / n] * n)
    if not isinstance(weights, list) or len(weights) != n:
        raise ParameterError(
            f"'weights' must be a list of {n} numbers, one per value", ("weights",), weights
        )
    ws = []
    for i, w in enumerate(weights):
        if isinstance(w, bool) or not isinstance(w, int | float):
            raise ParameterError("'weights' must be numbers >= 0", ("weights", i), w)
        try:
            ws.append(float(w))
        except OverflowError:
            ws.append(math.inf)
        if not (np.isfinite(ws[-1]) and ws[-1] >= 0):
            raise ParameterError("'weights' must be finite numbers >= 0", ("weights", i), w)
    total = sum(ws)
    if total <= 0:
        raise ParameterError("'weights' must not all be zero", ("weights",), weights)
    if not np.isfinite(total):  # huge weights: scale them to at most 1 first
        ws = [w / max(ws) for w in ws]
        total = sum(ws)
    return tuple(w / total for w in ws)


def _categorical_validator(allowed: tuple[Any, ...], type_name: str):
    def convert(x: object) -> Any:
        if type_name == "boolean":
            if not isinstance(x, bool):
                raise ValueError("expected true or false")
            return x
        if x not in allowed:
            raise ValueError(f"expected one of {', '.join(map(str, allowed))}")
        return x

    def validate(value: object) -> Dist:
        if isinstance(value, Dist):
            return value
        if not isinstance(value, dict):
            return Dist("fixed", (convert(value),))
        if value.get("dist") != "choice":
            raise ParameterError(
                "a categorical field takes a value or {dist: choice, values: [..]}",
                ("dist",) if "dist" in value else (),
                value.get("dist"),
            )
        unknown = sorted(set(value) - {"dist", "values", "weights"}, key=str)
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(map(str, unknown))} for dist choice")
        values = value.get("values")
        if not isinstance(values, list) or not values:
            at = ("values",) if "values" in value else ()
            raise ParameterError("choice needs a non-empty list 'values'", at, values)
        conv = _each_value(values, convert)
        return Dist("choice", (conv, _weights(value.get("weights"), len(conv))))

    return validate


def _dist_schema(kind: str, description: str) -> dict[str, Any]:
    scalar: dict[str, Any] = (
        {"anyOf": [{"type": "number"}, {"type": "string"}]}
        if kind not in ("count",)
        else {"type": "number"}
    )
    forms: list[dict[str, Any]] = [scalar]
    for name, params in PARAMS.items():
        props: dict[str, Any] = {"dist": {"const": name}}
        for p in params:
            if p in ("values", "weights"):
                props[p] = {
                    "type": "array",
                    "items": scalar if p == "values" else {"type": "number"},
                }
            elif p == "sigma":
                props[p] = {"type": "number", "minimum": 0}
            else:
                props[p] = scalar
        forms.append(
            {
                "type": "object",
                "properties": props,
                "required": ["dist", *[p for p in params if p != "weights"]],
                "additionalProperties": False,
            }
        )
    return {"anyOf": forms, "description": description}


class DistCheck(GroupedMetadata):
    """How a field of ``kind`` (size, rate, duration, fraction, count) is read: a
    constant or a distribution, with values above ``minimum`` and, if given, at least
    ``least`` (named ``least_text`` in messages). The field is written
    ``Annotated[Dist, DistCheck(...)]`` (a type mypy reads); pydantic unpacks the
    validator and the JSON schema from it."""

    def __init__(
        self,
        kind: str,
        *,
        minimum: float = 0.0,
        exclusive: bool = True,
        maximum: float | None = None,
        least: float | None = None,
        least_text: str = "",
    ):
        self.kind = kind  # read by the scenario reference
        self.validator = BeforeValidator(
            _validator(kind, minimum, exclusive, maximum, least, least_text)
        )
        self.schema = WithJsonSchema(_dist_schema(kind, f"{kind}: a constant or a distribution"))

    def __iter__(self) -> Iterator[object]:
        yield self.validator
        yield self.schema


class CategoryCheck(GroupedMetadata):
    """How a categorical field is read: a value or a weighted choice, written
    ``Annotated[Dist, CategoryCheck(...)]``."""

    def __init__(self, allowed: tuple[Any, ...], type_name: str = "string"):
        self.kind = type_name  # read by the scenario reference
        scalar: dict[str, Any]
        if type_name == "boolean":
            scalar = {"type": "boolean"}
        else:
            scalar = {"enum": list(allowed)}
        schema = {
            "anyOf": [
                scalar,
                {
                    "type": "object",
                    "properties": {
                        "dist": {"const": "choice"},
                        "values": {"type": "array", "items": scalar},
                        "weights": {"type": "array", "items": {"type": "number"}},
                    },
                    "required": ["dist", "values"],
                    "additionalProperties": False,
                },
            ]
        }
        self.validator = BeforeValidator(_categorical_validator(allowed, type_name))
        self.schema = WithJsonSchema(schema)

    def __iter__(self) -> Iterator[object]:
        yield self.validator
        yield self.schema


def DistOf(
    kind: str,
    *,
    minimum: float = 0.0,
    exclusive: bool = True,
    maximum: float | None = None,
    least: float | None = None,
    least_text: str = "",
) -> Any:
    """The annotated type ``Annotated[Dist, DistCheck(...)]`` as a value (for
    ``TypeAdapter``)."""
    check = DistCheck(
        kind,
        minimum=minimum,
        exclusive=exclusive,
        maximum=maximum,
        least=least,
        least_text=least_text,
    )
    return Annotated[Dist, check]


def CategoryOf(allowed: tuple[Any, ...], type_name: str = "string") -> Any:
    """The annotated type ``Annotated[Dist, CategoryCheck(...)]`` as a value."""
    return Annotated[Dist, CategoryCheck(allowed, type_name)]


def fixed(value: Any) -> Dist:
    return Dist("fixed", (value,))
