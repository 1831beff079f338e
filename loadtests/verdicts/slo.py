"""The verdict of a load-test run against its service-level objectives.

The objectives are the scenario's `Slo` (`simulations.scenario.slo`, the one model shared with
the simulation); `judge` is a pure function of measured figures and that `Slo`: no Locust, no
I/O. The CLI turns `Verdict.passed` into an exit code (0 pass, 1 breached).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulations.scenario.slo import Slo

__all__ = ["JourneyMeasured", "Measured", "RuleResult", "Verdict", "judge"]


@dataclass(frozen=True)
class JourneyMeasured:
    """What the reference journey measured. `None` means "not measured" (no bookings attempted,
    no visitor admitted by the waiting room, invariants unreadable)."""

    booking_success: float | None = None
    waiting_room_wait_max_s: float | None = None
    overbooked: int | None = None
    invariants_applicable: bool = True
    """False when the target gave no way to read its invariants (no admin key): the
    overbooking rule is then reported as not applicable instead of breached."""


@dataclass(frozen=True)
class Measured:
    """What a run measured, in the units the objectives use.

    `p95_ms`/`p99_ms` map a request name to its percentile (HDR histogram when available: exact,
    corrected for coordinated omission); a name absent from the maps had no requests.
    `error_rate` is `None` when no request was made. `journey` is `None` when the reference
    journey did not run: its objectives (`Slo.journey`) are then not judged.
    """

    p95_ms: Mapping[str, float] = field(default_factory=dict)
    p99_ms: Mapping[str, float] = field(default_factory=dict)
    error_rate: float | None = None
    journey: JourneyMeasured | None = None
    may_be_unused: frozenset[str] = frozenset()
    """Request names the journey has but a run may not use (the reference journey's queue
    routes without a waiting room): a latency target on one of them passes with "no data"."""


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


def _missing(measured: float | None) -> bool:
    return measured is None or (isinstance(measured, float) and math.isnan(measured))


def _at_most(rule: str, target: float, measured: float | None, unit: str) -> RuleResult:
    if _missing(measured):
        # No sample: nothing was violated, but the report says so rather than inventing a value.
        return RuleResult(rule, target, None, True, "no data")
    passed = measured <= target
    sign = "<=" if passed else ">"
    return RuleResult(
        rule, target, measured, passed, f"{measured:.4g}{unit} {sign} {target:g}{unit}"
    )


def _latency(
    rule: str, name: str, target: float, measured: Measured, values: Mapping[str, float]
) -> RuleResult:
    """A latency target: a request name no request used fails with "no data" naming it (a
    typo in the SLO cannot pass silently), unless the journey may legitimately not use it."""
    value = values.get(name)
    if _missing(value) and name not in measured.may_be_unused:
        return RuleResult(rule, target, None, False, f"no data: no request named {name!r}")
    return _at_most(rule, target, value, "ms")


def _at_least(rule: str, target: float, measured: float | None) -> RuleResult:
    if _missing(measured):
        return RuleResult(rule, target, None, True, "no data")
    passed = measured >= target
    sign = ">=" if passed else "<"
    return RuleResult(rule, target, measured, passed, f"{measured:.4g} {sign} {target:g}")


def judge(measured: Measured, slo: Slo) -> Verdict:
    """Check every objective of `slo` against `measured`.

    A latency target on a request name no request used fails with "no data" naming it, unless
    the name is in `measured.may_be_unused`. Another rule without a measurement passes with
    detail "no data", except the overbooking rule: unreadable invariants breach it (safety
    cannot be assumed) unless reading them was not possible at all (no admin key: "not
    applicable"). The journey's rules are judged
    only when the reference journey ran (`measured.journey` is not None); of them, the load test
    checks booking success, the longest waiting-room wait and overbooking (the waiting-room p95
    and abandonment targets are the model's).
    """
    rules: list[RuleResult] = []
    for route, target in sorted(slo.p95_ms.items()):
        rules.append(_latency(f"p95_ms[{route}]", route, target, measured, measured.p95_ms))
    for route, target in sorted(slo.p99_ms.items()):
        rules.append(_latency(f"p99_ms[{route}]", route, target, measured, measured.p99_ms))
    rules.append(_at_most("error_rate_max", slo.error_rate_max, measured.error_rate, ""))
    ran = measured.journey
    if ran is not None:
        goal = slo.journey
        rules.append(
            _at_least("booking_success_min", goal.booking_success_min, ran.booking_success)
        )
        rules.append(
            _at_most(
                "waiting_room_wait_max_s",
                goal.waiting_room_wait_max_s,
                ran.waiting_room_wait_max_s,
                "s",
            )
        )
        if ran.overbooked is None and not ran.invariants_applicable:
            rules.append(
                RuleResult(
                    "overbooked_max",
                    goal.overbooked_max,
                    None,
                    True,
                    "not applicable: no admin key",
                )
            )
        elif ran.overbooked is None:
            rules.append(
                RuleResult(
                    "overbooked_max", goal.overbooked_max, None, False, "invariants unreadable"
                )
            )
        else:
            rules.append(_at_most("overbooked_max", goal.overbooked_max, ran.overbooked, ""))
    return Verdict(tuple(rules))
