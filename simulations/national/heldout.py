"""Held-out validation, pre-registered: predict figures the model was not fitted to, then score.

A held-out scenario (e.g. `france-2021-07-12-to-14`) carries the parameters fitted to one
evening, the assumptions that carry the model past it (each a `[priors]` range), and the
figures to predict (`[heldout.<name>]`: a window of local date-times and a kind). `predict`
runs an ensemble: a Latin hypercube (`scipy.stats.qmc`) over the priors, one replication per
sample with its own seed, and returns each held-out figure's median and 5-95 % band. The
predictions are written to JSON and committed before the public figures are; `score` then
compares them with the observed figures (a JSON of `{name: {low, high, source}}`): the error of
the median against the middle of the public range, and the Winkler interval score of the 90 %
band, which charges the band's width plus 2/alpha times any miss, so a band wide enough to
cover anything scores badly.

Kinds: `bookings` (bookings in [start, end)), `bookings_per_min` (their mean per minute).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from simulations.scenario.errors import ScenarioError
from simulations.scenario.scenario import HeldOut, Scenario, apply_overrides

__all__ = [
    "ALPHA",
    "measure",
    "predict",
    "prior_samples",
    "score",
    "summarise",
    "winkler",
]

ALPHA = 0.10  # the band is the central 90 %: 5th to 95th percentile


def measure(timeseries: pd.DataFrame, figure: HeldOut) -> float:
    """The figure as counted in one run's per-minute time series (needs its `time` column)."""
    if "time" not in timeseries:
        raise ScenarioError("held-out figures need the scenario's start_date (a `time` column)")
    window = timeseries[(timeseries["time"] >= figure.start) & (timeseries["time"] < figure.end)]
    minutes = (pd.Timestamp(figure.end) - pd.Timestamp(figure.start)).total_seconds() / 60.0
    if len(window) < minutes:
        raise ScenarioError(
            f"held-out window {figure.start}..{figure.end} is not inside the scenario's run"
        )
    total = float(window["bookings"].sum())
    return total if figure.kind == "bookings" else total / minutes


def prior_samples(scenario: Scenario, samples: int, seed: int) -> pd.DataFrame:
    """`samples` points of a Latin hypercube over the scenario's priors (one column per key);
    integer parameters are rounded."""
    keys = list(scenario.priors)
    if samples < 1:
        raise ScenarioError(f"samples must be >= 1 (got {samples})")
    if not keys:
        return pd.DataFrame(index=range(samples))
    unit = qmc.LatinHypercube(d=len(keys), seed=np.random.default_rng(seed)).random(samples)
    low = np.array([scenario.priors[k].low for k in keys])
    high = np.array([scenario.priors[k].high for k in keys])
    frame = pd.DataFrame(low + unit * (high - low), columns=keys)
    for key in keys:
        section, _, name = key.partition(".")
        if isinstance(getattr(getattr(scenario, section), name), int):
            frame[key] = frame[key].round().astype(int)
    return frame


def _run_sample(args: tuple[Scenario, dict[str, Any], np.random.SeedSequence, dict]) -> dict:
    from simulations.national.opening_day import simulate

    scenario, overrides, seed, figures = args
    variant = apply_overrides(scenario, overrides)
    run = simulate(variant, seed)
    row = {name: measure(run.timeseries, figure) for name, figure in figures.items()}
    row["bookings"] = run.kpis["bookings"]
    row["lost_visitors"] = run.kpis["lost_visitors"]
    return row


def predict(
    scenario: Scenario,
    figures: Mapping[str, HeldOut],
    samples: int,
    seed: int,
    workers: int = 1,
) -> pd.DataFrame:
    """One run per prior sample; returns one row per sample: the sampled parameters, then each
    held-out figure as the run counts it."""
    points = prior_samples(scenario, samples, seed)
    seeds = np.random.SeedSequence(seed).spawn(samples)
    jobs = [
        (scenario, {k: _plain(v) for k, v in points.iloc[i].items()}, seeds[i], dict(figures))
        for i in range(samples)
    ]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(pool.map(_run_sample, jobs))
    else:
        rows = [_run_sample(job) for job in jobs]
    return pd.concat([points.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def summarise(ensemble: pd.DataFrame, figures: Mapping[str, HeldOut]) -> dict[str, dict]:
    """Median and central 90 % band (5th-95th percentile) of each figure over the ensemble."""
    out = {}
    for name, figure in figures.items():
        values = ensemble[name].to_numpy(dtype=float)
        out[name] = {
            "kind": figure.kind,
            "start": figure.start,
            "end": figure.end,
            "description": figure.description,
            "median": float(np.median(values)),
            "low": float(np.quantile(values, ALPHA / 2)),
            "high": float(np.quantile(values, 1 - ALPHA / 2)),
        }
    return out


def winkler(low: float, high: float, observed: float, alpha: float = ALPHA) -> float:
    """Winkler interval score of the central (1 - alpha) band [low, high] (lower is better)."""
    penalty = 2.0 / alpha
    score = high - low
    if observed < low:
        score += penalty * (low - observed)
    elif observed > high:
        score += penalty * (observed - high)
    return score


def score(predictions: Mapping[str, Mapping], observed: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per held-out figure present in both: the public range and its middle, the model's
    median and band, the relative error of the median, whether the band covers the middle, and
    the Winkler score (absolute, and relative to the middle)."""
    rows = []
    for name, public in observed.items():
        if name not in predictions:
            raise ScenarioError(f"observed figure {name!r} has no prediction")
        pred = predictions[name]
        middle = (float(public["low"]) + float(public["high"])) / 2.0
        w = winkler(pred["low"], pred["high"], middle)
        rows.append(
            {
                "figure": name,
                "public_low": float(public["low"]),
                "public_high": float(public["high"]),
                "public": middle,
                "source": public.get("source", ""),
                "median": pred["median"],
                "low": pred["low"],
                "high": pred["high"],
                "error": (pred["median"] - middle) / middle if middle else math.nan,
                "covered": pred["low"] <= middle <= pred["high"],
                "winkler": w,
                "winkler_relative": w / middle if middle else math.nan,
            }
        )
    return pd.DataFrame(rows)


def prediction_document(
    scenario: Scenario, ensemble: pd.DataFrame, samples: int, seed: int, scenario_text: str
) -> dict[str, Any]:
    """The pre-registered record: what was predicted, from which frozen scenario, how."""
    import datetime
    import hashlib
    import platform

    return {
        "scenario": scenario.name,
        "scenario_sha256": hashlib.sha256(scenario_text.encode("utf-8")).hexdigest(),
        "created_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
        "seed": seed,
        "samples": samples,
        "band": f"central {100 * (1 - ALPHA):.0f} % of the ensemble (5th-95th percentile)",
        "priors": {k: p.model_dump() for k, p in scenario.priors.items()},
        "predictions": summarise(ensemble, scenario.heldout),
        "ensemble": [
            {k: _plain(v) for k, v in row.items()} for row in ensemble.to_dict(orient="records")
        ],
    }


def _cpus() -> int:
    import os

    return os.cpu_count() or 1
