"""Load shapes as data: a piecewise-linear table of (time, level) points.

The level is a number of concurrent users (closed model, played by a Locust `LoadTestShape`) or an
arrival rate in arrivals/s (open model, played by `loadtests.driver.open_model.ArrivalUser`). No Locust
import here: the tables are built and tested as plain data, and `loadtests/shapes/locust_shape.py` plays
them in Locust.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loadtests.errors import LoadTestInputError

__all__ = [
    "SHAPE_KINDS",
    "LoadProfile",
    "Window",
    "parse_duration_s",
    "ramp",
    "replay",
    "soak",
    "spike",
    "steps",
]

SHAPE_KINDS = ("ramp", "steps", "spike", "soak", "replay")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, None: 1.0}


def parse_duration_s(text: str | float) -> float:
    """'30s', '2m', '1h', '1.5min' or a bare number of seconds -> seconds."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _DURATION.match(str(text))
        if not match:
            raise LoadTestInputError(f"invalid duration {text!r}: use e.g. 30s, 2m, 1h")
        value = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not math.isfinite(value) or value <= 0:
        raise LoadTestInputError(f"invalid duration {text!r}: must be positive")
    return value


@dataclass(frozen=True)
class Window:
    """A flat part of a profile (one step of a step shape)."""

    start_s: float
    end_s: float
    level: float


@dataclass(frozen=True)
class LoadProfile:
    """Piecewise-linear level over time; `points` are (t_s, level) with non-decreasing t_s.

    Two points at the same time make a jump (a step or a spike edge). The profile ends at the
    last point's time: `level_at` returns None after it, which stops the test.
    """

    kind: str
    unit: str  # "users" or "arrivals_per_s"
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise ValueError("a load profile needs at least two points")
        times = [t for t, _ in self.points]
        if any(b < a for a, b in zip(times, times[1:], strict=False)):
            raise ValueError("load profile times must not decrease")
        if times[0] != 0:
            raise ValueError("a load profile starts at t=0")
        if any(level < 0 or not math.isfinite(level) for _, level in self.points):
            raise ValueError("load profile levels must be finite and >= 0")

    @property
    def duration_s(self) -> float:
        return self.points[-1][0]

    @property
    def peak(self) -> float:
        return max(level for _, level in self.points)

    def level_at(self, t_s: float) -> float | None:
        """Level at time t_s (the later value at a jump), or None once the profile is over."""
        if t_s < 0:
            return self.points[0][1]
        if t_s >= self.duration_s:
            return None
        for (t0, v0), (t1, v1) in zip(self.points, self.points[1:], strict=False):
            if t0 <= t_s < t1:
                return v0 + (v1 - v0) * (t_s - t0) / (t1 - t0)
        return None  # pragma: no cover - unreachable: t_s < duration_s

    def integral(self, start_s: float = 0.0, end_s: float | None = None) -> float:
        """Area under the profile: expected arrivals when the level is a rate per second."""
        end_s = self.duration_s if end_s is None else min(end_s, self.duration_s)
        total = 0.0
        for (t0, v0), (t1, v1) in zip(self.points, self.points[1:], strict=False):
            a, b = max(t0, start_s), min(t1, end_s)
            if b <= a or t1 == t0:
                continue
            va = v0 + (v1 - v0) * (a - t0) / (t1 - t0)
            vb = v0 + (v1 - v0) * (b - t0) / (t1 - t0)
            total += (va + vb) / 2 * (b - a)
        return total

    def windows(self, min_length_s: float = 1.0) -> list[Window]:
        """Flat segments (constant level for at least `min_length_s`): the steps of a step shape."""
        found = []
        for (t0, v0), (t1, v1) in zip(self.points, self.points[1:], strict=False):
            if v0 == v1 and t1 - t0 >= min_length_s:
                found.append(Window(t0, t1, v0))
        return found

    def table(self) -> list[dict[str, float]]:
        return [{"t_s": t, "level": level} for t, level in self.points]

    def to_json_points(self) -> list[list[float]]:
        return [[t, level] for t, level in self.points]


def _check_level(name: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise LoadTestInputError(f"invalid {name} {value!r}: must be a positive number")
    return float(value)


def ramp(
    peak: float, duration_s: float, ramp_s: float | None = None, unit: str = "users"
) -> LoadProfile:
    """0 -> peak linearly over `ramp_s` (default: half the run), then hold until `duration_s`."""
    peak = _check_level("peak", peak)
    ramp_s = duration_s / 2 if ramp_s is None else min(ramp_s, duration_s)
    return LoadProfile("ramp", unit, ((0.0, 0.0), (ramp_s, peak), (duration_s, peak)))


def steps(levels: Sequence[float], hold_s: float, unit: str = "users") -> LoadProfile:
    """Hold each level for `hold_s` in turn (capacity search: where does latency bend?)."""
    if not levels:
        raise LoadTestInputError("a step shape needs at least one level")
    points: list[tuple[float, float]] = []
    for i, level in enumerate(levels):
        level = _check_level("step level", level)
        points += [(i * hold_s, level), ((i + 1) * hold_s, level)]
    return LoadProfile("steps", unit, tuple(points))


def spike(
    base: float,
    peak: float,
    duration_s: float,
    spike_at_s: float | None = None,
    spike_s: float | None = None,
    unit: str = "users",
) -> LoadProfile:
    """`base` load with one sudden jump to `peak` (a televised announcement) and back."""
    base, peak = _check_level("base", base), _check_level("peak", peak)
    spike_at_s = duration_s / 3 if spike_at_s is None else spike_at_s
    spike_s = duration_s / 3 if spike_s is None else spike_s
    end_spike = min(spike_at_s + spike_s, duration_s)
    return LoadProfile(
        "spike",
        unit,
        (
            (0.0, base),
            (spike_at_s, base),
            (spike_at_s, peak),
            (end_spike, peak),
            (end_spike, base),
            (duration_s, base),
        ),
    )


def soak(level: float, duration_s: float, unit: str = "users") -> LoadProfile:
    """Constant load for a long time (leaks, pool exhaustion, slow drift)."""
    level = _check_level("level", level)
    return LoadProfile("soak", unit, ((0.0, level), (duration_s, level)))


def replay(
    rate_per_min: Callable[[float], float],
    duration_min: float,
    scale: float,
    compress: float,
    resolution_s: float = 1.0,
) -> LoadProfile:
    """A scenario's arrival curve, scaled down and time-compressed, as arrivals per wall second.

    One wall second plays `compress` real seconds, and each real visitor becomes `scale` load-test
    visitors: arrivals/s = rate_per_min(t_min) * scale * compress / 60. `--scale 0.0005
    --compress 60` turns 3 hours and 2M visitors into 3 minutes and ~1,000 visitors.
    """
    scale, compress = _check_level("scale", scale), _check_level("compress", compress)
    wall_s = duration_min * 60.0 / compress
    if wall_s < 2 * resolution_s:
        raise LoadTestInputError(
            f"replay lasts {wall_s:.3g}s at --compress {compress:g}: use a smaller compression"
        )
    n = math.ceil(wall_s / resolution_s)
    points = []
    for i in range(n + 1):
        t_s = min(i * resolution_s, wall_s)
        t_min = t_s * compress / 60.0
        points.append((t_s, max(0.0, float(rate_per_min(t_min))) * scale * compress / 60.0))
    return LoadProfile("replay", "arrivals_per_s", tuple(points))
