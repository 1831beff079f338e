"""`surge sim validate`: the shipped simulation components against exact theory.

Every case runs product code in a configuration with an exact answer (no model written for the
check): the centre model (`simulations.validation.center_cases`), and the national model's
waiting room (event-driven and ticked), web/DB tier, retry loop and slot choice
(`simulations.validation.national_cases`). Identities (Little's law with L and W from the same
run, utilisation from the same run's work, conservation of visitors) are labelled `identity`
and counted apart from the `theory` checks. Intervals are Bonferroni-simultaneous over all the
checks (`simulations.validation.checks`).

Runs start empty and discard a warm-up in model time (mean service times): 500 of 5,000, about
13 relaxation times 1/(sqrt(c mu) - sqrt(lambda))^2 of the c = 10, lambda = 9 systems; `quick`
runs 600 with a warm-up of 200 (5 of them). The ticked room runs 4 ticks and the tier 20 ticks
per unit.
"""

from __future__ import annotations

from simulations.validation.center_cases import center_cases
from simulations.validation.checks import (
    FAMILY_LEVEL,
    Case,
    Check,
    check_level,
    checks_frame,
    run_cases,
)
from simulations.validation.national_cases import national_cases

__all__ = ["Case", "Check", "FAMILY_LEVEL", "check_level", "checks_frame", "validate"]

RUN_FULL = (500.0, 5_000.0)
RUN_QUICK = (200.0, 600.0)


def validate(
    quick: bool = False, replications: int = 10, seed: int = 2021, progress: bool = False
) -> list[Check]:
    """Run every case; one `Check` per (case, metric), identities included (`Check.kind`),
    each with its Bonferroni-adjusted interval (`Check.level`)."""
    warmup, horizon = RUN_QUICK if quick else RUN_FULL
    cases = center_cases(warmup, horizon) + national_cases(warmup, horizon)
    return run_cases(cases, replications, seed, progress)
