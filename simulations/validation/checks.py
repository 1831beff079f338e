"""Simultaneous checks of simulated figures against exact values, over replications.

A `Case` runs one shipped component in a configuration with exact answers
(`simulations.validation.center_cases`, `simulations.validation.national_cases`); each
replication returns its metrics, and each metric becomes a `Check`: the Student-t interval of
its mean over the replications against the exact value. Checks come in two kinds:

- `theory`: an exact result the component could get wrong (Erlang C and A, Burke's theorem, a
  finite-buffer queue's Markov chain, the law of the retry loop, the slot-choice probabilities);
  these make the total;
- `identity`: a relation that holds for any sample path whatever the rules (Little's law with
  L and W from the same run, utilisation = offered work x accepted share / capacity,
  conservation of visitors); reported and counted apart, never in the total.

The intervals are simultaneous: with m checks of both kinds, each interval has level
1 - 0.05/m (Bonferroni), so the whole family covers every exact value with probability >= 95 %.
A check passes when the exact value lies in its interval or within 2 % of the simulated mean
(for intervals tighter than that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulations.replications import confidence_interval

__all__ = ["Case", "Check", "FAMILY_LEVEL", "TOLERANCE", "check_level", "checks_frame", "run_cases"]

TOLERANCE = 0.02
FAMILY_LEVEL = 0.95  # all checks at once (Bonferroni)


@dataclass(frozen=True)
class Case:
    """`run(rng)` simulates one replication of `component` and returns its metrics."""

    name: str
    component: str
    run: Callable[[np.random.Generator], dict[str, float]]
    exact: dict[str, float]
    identities: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    model: str
    metric: str
    exact: float
    mean: float
    ci_low: float
    ci_high: float
    level: float = 0.95
    kind: str = "theory"  # or "identity"
    component: str = ""

    @property
    def passed(self) -> bool:
        inside = self.ci_low <= self.exact <= self.ci_high
        close = abs(self.mean - self.exact) <= TOLERANCE * abs(self.exact)
        return bool(inside or close)


def check_level(n_checks: int, family_level: float = FAMILY_LEVEL) -> float:
    """Per-check interval level so that `n_checks` intervals hold together with `family_level`."""
    return 1.0 - (1.0 - family_level) / n_checks


def run_cases(
    cases: list[Case], replications: int, seed: int, progress: bool = False
) -> list[Check]:
    """Every case over `replications` independent streams; one `Check` per metric."""
    if replications < 2:
        raise ValueError(f"replications: need >= 2 for an interval (got {replications})")
    streams = np.random.SeedSequence(seed).spawn(len(cases))
    iterator = list(zip(cases, streams, strict=True))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="validate", unit="model")
    level = check_level(sum(len(c.exact) + len(c.identities) for c in cases))
    checks: list[Check] = []
    for case, stream in iterator:
        rows = [case.run(np.random.default_rng(s)) for s in stream.spawn(replications)]
        frame = pd.DataFrame(rows)
        for kind, table in (("theory", case.exact), ("identity", case.identities)):
            for metric, value in table.items():
                mean, low, high = confidence_interval(frame[metric].to_numpy(), level)
                checks.append(
                    Check(
                        case.name,
                        metric,
                        float(value),
                        mean,
                        low,
                        high,
                        level,
                        kind,
                        case.component,
                    )
                )
    return checks


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": c.model,
                "component": c.component,
                "kind": c.kind,
                "metric": c.metric,
                "exact": c.exact,
                "simulated": c.mean,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "level": c.level,
                "passed": c.passed,
            }
            for c in checks
        ]
    )
