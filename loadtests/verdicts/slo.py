"""Service-level objectives and the verdict of a load-test run against them.

The verdict is a pure function of measured figures and targets: no Locust, no I/O. The CLI turns
`Verdict.passed` into an exit code (0 pass, 1 breached).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Measured", "RuleResult", "SloTargets", "Verdict", "judge"]


@dataclass(frozen=True)
class SloTargets:
    """Targets of one scenario's `[slo]` table (latencies in ms, rates as fractions)."""

    p95_ms: Mapping[str, float] = field(default_factory=dict)
    p99_ms: Mapping[str, float] = field(default_factory=dict)
    error_rate_max: float | None = None
    booking_success_min: float | None = None
    waiting_room_wait_max_s: float | None = None
    overbooked_max: int | None = 0

    @classmethod
    def from_object(cls, slo: Any) -> SloTargets:
        """Read targets from a `Scenario.slo`-like object or a mapping (missing keys: no rule)."""
        if slo is None:
            return cls()

        def read(name: str, default: Any) -> Any:
            if isinstance(slo, Mapping):
                return slo.get(name, default)
            return getattr(slo, name, default)

        return cls(
            p95_ms=dict(read("p95_ms", {}) or {}),
            p99_ms=dict(read("p99_ms", {}) or {}),
            error_rate_max=read("error_rate_max", None),
            booking_success_min=read("booking_success_min", None),
            waiting_room_wait_max_s=read("waiting_room_wait_max_s", None),
            overbooked_max=read("overbooked_max", 0),
        )


@dataclass(frozen=True)
class Measured:
    """What a run measured, in the units the targets use.

    `p95_ms`/`p99_ms` map a route to its percentile (HDR histogram when available: exact,
    corrected for coordinated omission); a route absent from the maps had no requests.
    `None` for a scalar means "not measured" (e.g. no bookings attempted, invariants unreadable).
    """

    p95_ms: Mapping[str, float] = field(default_factory=dict)
    p99_ms: Mapping[str, float] = field(default_factory=dict)
    error_rate: float | None = None
    booking_success: float | None = None
    waiting_room_wait_max_s: float | None = None
    overbooked: int | None = None


@dataclass(frozen=True)
class RuleResult:
    rule: str
    target: float
    measured: float | None
    passed: bool
    detail: str


@dataclass(frozen=True)
class Verdict:
    rules: tuple[RuleResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rules)

    @property
    def breached(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if not r.passed)

    def to_records(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.rules]


def _at_most(rule: str, target: float, measured: float | None, unit: str) -> RuleResult:
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        # No sample: nothing was violated, but the report says so rather than inventing a value.
        return RuleResult(rule, target, None, True, "no data")
    passed = measured <= target
    return RuleResult(
        rule,
        target,
        measured,
        passed,
        f"{measured:.4g}{unit} <= {target:g}{unit}"
        if passed
        else f"{measured:.4g}{unit} > {target:g}{unit}",
    )


def _at_least(rule: str, target: float, measured: float | None) -> RuleResult:
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return RuleResult(rule, target, None, True, "no data")
    passed = measured >= target
    return RuleResult(
        rule,
        target,
        measured,
        passed,
        f"{measured:.4g} >= {target:g}" if passed else f"{measured:.4g} < {target:g}",
    )


def judge(measured: Measured, targets: SloTargets) -> Verdict:
    """Check every target; a rule without a measurement passes with detail "no data",
    except the overbooking rule: unreadable invariants breach it (safety cannot be assumed)."""
    rules: list[RuleResult] = []
    for route, target in sorted(targets.p95_ms.items()):
        rules.append(_at_most(f"p95_ms[{route}]", float(target), measured.p95_ms.get(route), "ms"))
    for route, target in sorted(targets.p99_ms.items()):
        rules.append(_at_most(f"p99_ms[{route}]", float(target), measured.p99_ms.get(route), "ms"))
    if targets.error_rate_max is not None:
        rules.append(_at_most("error_rate_max", targets.error_rate_max, measured.error_rate, ""))
    if targets.booking_success_min is not None:
        rules.append(
            _at_least("booking_success_min", targets.booking_success_min, measured.booking_success)
        )
    if targets.waiting_room_wait_max_s is not None:
        rules.append(
            _at_most(
                "waiting_room_wait_max_s",
                targets.waiting_room_wait_max_s,
                measured.waiting_room_wait_max_s,
                "s",
            )
        )
    if targets.overbooked_max is not None:
        if measured.overbooked is None:
            rules.append(
                RuleResult(
                    "overbooked_max", targets.overbooked_max, None, False, "invariants unreadable"
                )
            )
        else:
            rules.append(
                _at_most("overbooked_max", targets.overbooked_max, measured.overbooked, "")
            )
    return Verdict(tuple(rules))
