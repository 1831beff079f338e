"""`surge bench gate`'s change-point scoring on synthetic noise (the benchmark resamples real noise)."""

from __future__ import annotations

import numpy as np

from surge.bench.gate import change_point_scores


def test_scores_rise_with_the_step_and_stay_in_range() -> None:
    noise = np.random.default_rng(0).normal(0.0, 0.05, 500)
    scores = change_point_scores(noise, histories=30, seed=1)
    small, large = scores["+10%"], scores["+25%"]
    assert large["recall"] >= 0.9 and large["recall"] >= small["recall"]
    assert 0.0 <= large["mean_delay_commits"] <= 5.0
    assert large["recall_ci95"][0] <= large["recall"] <= large["recall_ci95"][1]
    assert 0.5 <= large["precision"] <= 1.0
