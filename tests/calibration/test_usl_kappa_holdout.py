"""USL kappa free vs kappa = 0 on held-out levels: both fits, their predictions, their errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulations.calibration.usl import UslModel
from simulations.calibration.validation import compare_usl_kappa
from surge.cli import main


def _windows(model: UslModel, levels: list[int], rng: np.random.Generator) -> pd.DataFrame:
    rows = [
        {"users": n, "throughput_per_s": float(model.throughput(n)) * rng.normal(1, 0.01)}
        for n in levels
        for _ in range(3)
    ]
    return pd.DataFrame(rows)


def test_a_retrograde_curve_is_predicted_by_kappa_free_and_missed_by_kappa_zero() -> None:
    truth = UslModel(lambda_per_s=50.0, sigma=0.05, kappa=0.002)
    rng = np.random.default_rng(1)
    windows = _windows(truth, [1, 2, 4, 8, 16, 24], rng)
    measured = pd.DataFrame({"users": [32], "throughput_per_s": [float(truth.throughput(32))]})
    (record,) = compare_usl_kappa(windows, measured, [1, 2, 4, 8, 16, 24], [32])
    assert record["load"] == 32
    assert abs(record["kappa_free"]["throughput_error"]) < 0.05
    assert record["kappa_zero"]["kappa"] == 0.0
    assert record["kappa_zero"]["throughput_error"] > 0.10  # no fall past the peak
    free = record["kappa_free"]
    assert free["throughput_error"] == pytest.approx(
        (free["predicted_throughput"] - record["measured_throughput"])
        / record["measured_throughput"]
    )


def test_a_level_missing_from_the_run_is_an_input_error() -> None:
    windows = _windows(UslModel(10, 0.1, 0), [1, 2, 4], np.random.default_rng(0))
    with pytest.raises(ValueError, match="level 8"):
        compare_usl_kappa(
            windows, pd.DataFrame({"users": [1], "throughput_per_s": [9.0]}), [1, 2, 4], [8]
        )


def test_calibrate_refuses_a_bad_scrape_url_in_one_line(tmp_path, capsys) -> None:
    code = main(
        ["calibrate", "--validate", "--start-app", "sqlite", "--scrape", "localhost:9100",
         "--out", str(tmp_path / "v")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--scrape needs an http" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "v").exists()
