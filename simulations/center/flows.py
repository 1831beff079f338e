"""Patient flows through a centre: classes with shares and routes, walk-ins, punctuality, closing.

- `[[classes]]`: `name`, `share` (shares sum to 1), optional `route` (station names in visiting
  order; default every station in config order) and `service` (per-station distributions that
  replace the station's own for this class, e.g. a 30-min observation). Every patient,
  booked or walk-in, draws a class from the shares.
- `[arrivals.walk_ins]`: Poisson walk-ins (`rate_per_hour`, `from_min`, `to_min`) beside the
  appointments.
- `[arrivals.punctuality]`: asymmetric lateness: with probability `early_share` a patient comes
  `early` minutes before the slot, else `late` minutes after (two non-negative distributions).
- `[closing]`: `at_min`, no admission from then on; overtime is measured from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulations.distributions import Distribution, parse_distribution

__all__ = [
    "Closing",
    "FlowError",
    "PatientClass",
    "Punctuality",
    "WalkIns",
    "parse_classes",
    "parse_closing",
    "parse_punctuality",
    "parse_walk_ins",
]


class FlowError(ValueError):
    """A class, walk-in, punctuality or closing table that cannot be used."""


@dataclass(frozen=True)
class PatientClass:
    name: str
    share: float
    route: tuple[str, ...]
    service: Mapping[str, Distribution] = field(default_factory=dict)


@dataclass(frozen=True)
class WalkIns:
    rate_per_hour: float
    from_min: float
    to_min: float

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        span = self.to_min - self.from_min
        count = rng.poisson(self.rate_per_hour / 60 * span) if span > 0 else 0
        return np.sort(self.from_min + rng.random(count) * span)


@dataclass(frozen=True)
class Punctuality:
    """Lateness = -early draw with probability `early_share`, else +late draw (minutes)."""

    early_share: float
    early: Distribution
    late: Distribution

    @property
    def mean_lateness_min(self) -> float:
        return (1 - self.early_share) * self.late.mean_min - self.early_share * self.early.mean_min

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        is_early = rng.random(size) < self.early_share
        early, late = self.early.sample(rng, size), self.late.sample(rng, size)
        return np.where(is_early, -early, late)


@dataclass(frozen=True)
class Closing:
    at_min: float


def _number(table: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    if key not in table:
        if default is None:
            raise FlowError(f"{where}: missing '{key}'")
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FlowError(f"{where}: '{key}' must be a number, got {value!r}")
    if value < 0:
        raise FlowError(f"{where}: '{key}' must not be negative, got {value}")
    return float(value)


def _only(table: Mapping[str, Any], keys: set[str], where: str) -> None:
    unknown = set(table) - keys
    if unknown:
        raise FlowError(f"{where}: unexpected key(s) {sorted(unknown)}")


def parse_classes(raw: Any, stations: Sequence[str]) -> tuple[PatientClass, ...]:
    """Validate `[[classes]]`; without it, one class visiting every station in order."""
    if raw is None:
        return (PatientClass("all", 1.0, tuple(stations)),)
    if not isinstance(raw, list) or not raw or not all(isinstance(t, Mapping) for t in raw):
        raise FlowError("[[classes]]: expected a non-empty list of tables")
    classes = []
    for i, table in enumerate(raw):
        name = table.get("name")
        if not isinstance(name, str) or not name:
            raise FlowError(f"classes[{i}]: 'name' must be a non-empty string")
        where = f"class {name!r}"
        _only(table, {"name", "share", "route", "service"}, where)
        route = table.get("route", list(stations))
        if not isinstance(route, list) or not route or not all(isinstance(s, str) for s in route):
            raise FlowError(f"{where}: 'route' must be a non-empty list of station names")
        for station in route:
            if station not in stations:
                raise FlowError(f"{where}: route names unknown station {station!r}")
        if len(set(route)) != len(route):
            raise FlowError(f"{where}: route visits a station twice")
        services = table.get("service", {})
        if not isinstance(services, Mapping):
            raise FlowError(f"{where}: 'service' must map station names to distributions")
        for station in services:
            if station not in route:
                raise FlowError(f"{where}: service for {station!r}, which is not on its route")
        parsed = {s: parse_distribution(d, f"{where} service.{s}") for s, d in services.items()}
        classes.append(PatientClass(name, _number(table, "share", where), tuple(route), parsed))
    if len({c.name for c in classes}) != len(classes):
        raise FlowError("[[classes]]: class names must be unique")
    total = sum(c.share for c in classes)
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        raise FlowError(f"[[classes]]: shares must sum to 1, got {total:g}")
    return tuple(classes)


def parse_walk_ins(raw: Any, open_minutes: float) -> WalkIns | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise FlowError("[arrivals.walk_ins]: expected a table")
    where = "[arrivals.walk_ins]"
    _only(raw, {"rate_per_hour", "from_min", "to_min"}, where)
    start = _number(raw, "from_min", where, 0.0)
    end = _number(raw, "to_min", where, open_minutes)
    if end < start:
        raise FlowError(f"{where}: 'to_min' must not be before 'from_min'")
    return WalkIns(_number(raw, "rate_per_hour", where), start, end)


def parse_punctuality(raw: Any) -> Punctuality | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise FlowError("[arrivals.punctuality]: expected a table")
    where = "[arrivals.punctuality]"
    _only(raw, {"early_share", "early", "late"}, where)
    share = _number(raw, "early_share", where)
    if share > 1:
        raise FlowError(f"{where}: 'early_share' is a probability, got {share}")
    zero = {"dist": "constant", "value": 0}
    early = parse_distribution(raw.get("early", zero), f"{where} early")
    late = parse_distribution(raw.get("late", zero), f"{where} late")
    return Punctuality(share, early, late)


def parse_closing(raw: Any) -> Closing | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise FlowError("[closing]: expected a table")
    _only(raw, {"at_min"}, "[closing]")
    return Closing(_number(raw, "at_min", "[closing]"))
