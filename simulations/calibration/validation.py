"""Predicted vs measured at held-out load levels: flat records and `validation.json`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

THROUGHPUT_TARGET = 0.10  # |error| within 10% (issue 6)
P95_TARGET = 0.25  # |error| within 25%


def signed_error(predicted: float, measured: float) -> float:
    """(predicted - measured) / measured: positive when the model over-predicts."""
    if not measured or not math.isfinite(measured):
        return math.nan
    return (predicted - measured) / measured


def compare(predicted: pd.DataFrame, measured: pd.DataFrame, levels: list[int]) -> list[dict]:
    """One record per held-out level, from `predict_levels` output and a step-run summary."""
    records = []
    for load in levels:
        p = predicted[predicted["users"] == load]
        m = measured[measured["users"] == load]
        if p.empty or m.empty:
            raise ValueError(f"level {load}: missing from the {'prediction' if p.empty else 'run'}")
        p, m = p.iloc[0], m.iloc[0]
        x_pred, x_meas = float(p["sim_throughput_per_s"]), float(m["throughput_per_s"])
        q_pred, q_meas = float(p["sim_p95_ms"]), float(m["p95_ms"])
        x_err, q_err = signed_error(x_pred, x_meas), signed_error(q_pred, q_meas)
        records.append(
            {
                "load": int(load),
                "predicted_throughput": x_pred,
                "measured_throughput": x_meas,
                "throughput_error": x_err,
                "predicted_p95_ms": q_pred,
                "measured_p95_ms": q_meas,
                "p95_error": q_err,
                "usl_throughput": float(p["usl_throughput_per_s"]),
                "usl_throughput_error": signed_error(float(p["usl_throughput_per_s"]), x_meas),
                "mva_throughput": float(p["mva_throughput_per_s"]),
                "predicted_mean_ms": float(p["sim_mean_ms"]),
                "measured_mean_ms": float(m["mean_ms"]),
                "measured_requests": int(m["requests"]),
                "measured_failures": int(m["failures"]),
                "throughput_within_target": abs(x_err) <= THROUGHPUT_TARGET,
                "p95_within_target": abs(q_err) <= P95_TARGET,
            }
        )
    return records


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_validation(path: str | Path, records: list[dict], context: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "levels": records,
        "targets": {"throughput_error_abs": THROUGHPUT_TARGET, "p95_error_abs": P95_TARGET},
        **context,
    }
    path.write_text(json.dumps(_json_safe(doc), indent=2), encoding="utf-8")
    return path


def compare_usl_kappa(
    windows: pd.DataFrame, measured: pd.DataFrame, fit_levels: list[int], held_out: list[int]
) -> list[dict]:
    """USL throughput vs users fitted on the fit levels' sub-windows twice, kappa free and kappa
    fixed at 0 (Amdahl), each predicting the held-out levels: one record per held-out level
    with both predictions and their signed errors against the measured throughput."""
    from simulations.calibration.usl import fit_coefficients

    fit = windows[windows["users"].isin(fit_levels) & (windows["throughput_per_s"] > 0)]
    n, x = fit["users"].to_numpy(), fit["throughput_per_s"].to_numpy()
    models = {
        "kappa_free": fit_coefficients(n, x, with_kappa=True),
        "kappa_zero": fit_coefficients(n, x, with_kappa=False),
    }
    records = []
    for load in held_out:
        m = measured[measured["users"] == load]
        if m.empty:
            raise ValueError(f"level {load}: missing from the run")
        x_meas = float(m.iloc[0]["throughput_per_s"])
        record: dict = {"load": int(load), "measured_throughput": x_meas}
        for name, model in models.items():
            x_pred = float(model.throughput(load))
            record[name] = {
                "lambda_per_s": model.lambda_per_s,
                "sigma": model.sigma,
                "kappa": model.kappa,
                "predicted_throughput": x_pred,
                "throughput_error": signed_error(x_pred, x_meas),
            }
        records.append(record)
    return records
