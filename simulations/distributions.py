"""Service, patience and walking-time distributions for the centre model (times in minutes).

Each distribution is a frozen dataclass with a `mean_min` and a vectorised `sample(rng, size)`
that draws from an injected `numpy.random.Generator`; nothing here touches global randomness.
Configs describe them as TOML tables, e.g. `{dist = "lognormal", mean = 4, sd = 1.5, shift = 1}`;
`parse_distribution` validates such a table and names the offending key in its error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from surge.errors import SurgeError

__all__ = [
    "Constant",
    "Distribution",
    "DistributionError",
    "Empirical",
    "Exponential",
    "Lognormal",
    "Normal",
    "Triangular",
    "Uniform",
    "parse_distribution",
]


class DistributionError(SurgeError, ValueError):
    """A distribution table that cannot be used: unknown kind, missing or negative parameter."""


@dataclass(frozen=True)
class Constant:
    value: float
    shift: float = 0.0

    @property
    def mean_min(self) -> float:
        return self.value + self.shift

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value + self.shift)


@dataclass(frozen=True)
class Exponential:
    mean: float
    shift: float = 0.0

    @property
    def mean_min(self) -> float:
        return self.mean + self.shift

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean, size) + self.shift


@dataclass(frozen=True)
class Normal:
    """Normal(mean, sd) truncated at 0 (negative draws are redrawn), then shifted."""

    mean: float
    sd: float
    shift: float = 0.0

    @property
    def mean_min(self) -> float:
        if self.sd == 0:
            return max(self.mean, 0.0) + self.shift
        alpha = -self.mean / self.sd
        survivor = 0.5 * math.erfc(alpha / math.sqrt(2))
        density = math.exp(-0.5 * alpha * alpha) / math.sqrt(2 * math.pi)
        return self.mean + self.sd * density / survivor + self.shift

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        draws = rng.normal(self.mean, self.sd, size)
        negative = draws < 0
        while negative.any():
            draws[negative] = rng.normal(self.mean, self.sd, int(negative.sum()))
            negative = draws < 0
        return draws + self.shift


@dataclass(frozen=True)
class Lognormal:
    """Lognormal with the given mean and sd of the times themselves (not of their logarithm)."""

    mean: float
    sd: float
    shift: float = 0.0

    @property
    def mean_min(self) -> float:
        return self.mean + self.shift

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        sigma2 = math.log1p((self.sd / self.mean) ** 2)
        mu = math.log(self.mean) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), size) + self.shift


@dataclass(frozen=True)
class Triangular:
    low: float
    mode: float
    high: float
    shift: float = 0.0

    @property
    def mean_min(self) -> float:
        return (self.low + self.mode + self.high) / 3 + self.shift

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.low == self.high:
            return np.full(size, self.low + self.shift)
        return rng.triangular(self.low, self.mode, self.high, size) + self.shift


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float
    shift: float = 0.0

    @property
    def mean_min(self) -> float:
        return (self.low + self.high) / 2 + self.shift

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size) + self.shift


@dataclass(frozen=True)
class Empirical:
    """Resamples observed times with equal weights."""

    values: tuple[float, ...] = field(default_factory=tuple)
    shift: float = 0.0

    @property
    def mean_min(self) -> float:
        return float(np.mean(self.values)) + self.shift

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size) + self.shift


Distribution = Constant | Exponential | Normal | Lognormal | Triangular | Uniform | Empirical

_PARAMETERS: dict[str, tuple[type, tuple[str, ...]]] = {
    "constant": (Constant, ("value",)),
    "exponential": (Exponential, ("mean",)),
    "normal": (Normal, ("mean", "sd")),
    "lognormal": (Lognormal, ("mean", "sd")),
    "triangular": (Triangular, ("low", "mode", "high")),
    "uniform": (Uniform, ("low", "high")),
    "empirical": (Empirical, ("values",)),
}


def _number(table: Mapping[str, Any], key: str, where: str) -> float:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DistributionError(f"{where}: '{key}' must be a finite number, got {value!r}")
    if value < 0:
        raise DistributionError(f"{where}: '{key}' must not be negative, got {value}")
    return float(value)


def parse_distribution(table: Any, where: str = "distribution") -> Distribution:
    """Build a distribution from a config table; `where` names it in error messages."""
    if isinstance(table, Distribution):
        return table
    if not isinstance(table, Mapping):
        raise DistributionError(f"{where}: expected a table like {{dist = ...}}, got {table!r}")
    kind = table.get("dist")
    if kind not in _PARAMETERS:
        known = ", ".join(sorted(_PARAMETERS))
        raise DistributionError(f"{where}: unknown distribution {kind!r} (known: {known})")
    cls, required = _PARAMETERS[kind]
    unknown = set(table) - {"dist", "shift", *required}
    if unknown:
        raise DistributionError(f"{where}: unexpected key(s) {sorted(unknown)} for dist={kind!r}")
    missing = [key for key in required if key not in table]
    if missing:
        raise DistributionError(f"{where}: dist={kind!r} needs {', '.join(missing)}")
    shift = _number(table, "shift", where) if "shift" in table else 0.0
    if kind == "empirical":
        values = table["values"]
        if not isinstance(values, list | tuple) or not values:
            raise DistributionError(f"{where}: 'values' must be a non-empty list of numbers")
        numbers = tuple(_number({"values": v}, "values", where) for v in values)
        return Empirical(values=numbers, shift=shift)
    params = {key: _number(table, key, where) for key in required}
    if kind in ("exponential", "lognormal") and params["mean"] <= 0:
        raise DistributionError(f"{where}: dist={kind!r} needs mean > 0")
    if kind == "triangular" and not params["low"] <= params["mode"] <= params["high"]:
        raise DistributionError(f"{where}: triangular needs low <= mode <= high")
    if kind == "uniform" and params["low"] > params["high"]:
        raise DistributionError(f"{where}: uniform needs low <= high")
    if kind == "normal" and params["sd"] == 0 and params["mean"] == 0:
        raise DistributionError(f"{where}: normal with mean 0 and sd 0 is degenerate")
    return cls(**params, shift=shift)
