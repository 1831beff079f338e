"""The A/B statistics on synthetic samples: coverage over time, a known ratio, A/A."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loadtests.verdicts.ab import (
    CLEAN,
    REGRESSION,
    UNDECIDED,
    ABRule,
    confidence_sequence,
    judge_route,
    overall,
    pair_log_ratios,
)


def _pairs(rng: np.random.Generator, ratio: float, pairs: int, per_slice: int = 40):
    """Lognormal latencies around 5 ms; each slice has its own machine factor shared by A and B."""
    p50, p95 = [], []
    for _ in range(pairs):
        machine = math.exp(rng.normal(0, 0.3))  # slow drift of the shared machine
        a = 5.0 * machine * rng.lognormal(0, 0.4, per_slice)
        b = 5.0 * machine * ratio * rng.lognormal(0, 0.4, per_slice)
        logs = pair_log_ratios(a, b)
        assert logs is not None
        p50.append(logs[0])
        p95.append(logs[1])
    return p50, p95


def test_the_sequence_covers_the_mean_at_every_time_at_its_level() -> None:
    rng = np.random.default_rng(1)
    alpha, runs, horizon, misses = 0.1, 200, 80, 0
    for _ in range(runs):
        x = rng.normal(0.3, 1.0, horizon)
        for n in range(8, horizon + 1):  # looked at after every draw from the 8th on
            _, low, high = confidence_sequence(x[:n], alpha)
            if not low <= 0.3 <= high:
                misses += 1
                break
    # 0 misses would mean a uselessly wide interval; above alpha means it is not time-uniform.
    assert 0 < misses / runs <= alpha


def test_the_sequence_narrows_and_is_unbounded_on_one_value() -> None:
    assert confidence_sequence([0.2], 0.05)[1:] == (-math.inf, math.inf)
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, 400)
    widths = []
    for n in (10, 100, 400):
        _, low, high = confidence_sequence(x[:n], 0.05)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0


def test_a_known_ratio_is_recovered_with_its_interval() -> None:
    rng = np.random.default_rng(3)
    p50, p95 = _pairs(rng, 1.5, 30)
    verdict = judge_route("availability", p50, p95, ABRule(), routes=3)
    assert verdict.p50.low < 1.5 < verdict.p50.high
    assert verdict.p95.low < 1.5 < verdict.p95.high
    assert verdict.p50.estimate == pytest.approx(1.5, rel=0.05)
    assert verdict.verdict == REGRESSION


def test_a_over_a_decides_clean() -> None:
    rng = np.random.default_rng(4)
    p50, p95 = _pairs(rng, 1.0, 30)
    verdict = judge_route("search", p50, p95, ABRule(), routes=3)
    assert verdict.p50.low < 1.0 < verdict.p50.high
    assert verdict.verdict == CLEAN


def test_no_verdict_before_min_pairs_and_a_ratio_at_the_threshold_stays_undecided() -> None:
    rng = np.random.default_rng(5)
    p50, p95 = _pairs(rng, 2.0, 5)
    assert judge_route("r", p50, p95, ABRule(min_pairs=8), routes=1).verdict == UNDECIDED
    p50, p95 = _pairs(rng, 1.10, 30)
    assert judge_route("r", p50, p95, ABRule(max_slowdown=1.10), routes=1).verdict == UNDECIDED


def test_overall_verdict_and_exit_codes() -> None:
    rng = np.random.default_rng(6)
    clean = judge_route("a", *_pairs(rng, 1.0, 30), ABRule(), routes=2)
    slow = judge_route("b", *_pairs(rng, 2.0, 30), ABRule(), routes=2)
    open_ = judge_route("c", *_pairs(rng, 1.0, 3), ABRule(), routes=2)
    assert overall({"a": clean, "b": slow}) == (REGRESSION, 3)
    assert overall({"a": clean}) == (CLEAN, 0)
    assert overall({"a": clean, "c": open_}) == (UNDECIDED, 4)


@pytest.mark.parametrize(
    "kwargs", [{"max_slowdown": 1.0}, {"alpha": 0.0}, {"alpha": 1.5}, {"min_pairs": 1}]
)
def test_bad_rules_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ABRule(**kwargs)
