"""Reading a `surge calibrate --confirm` result and plotting predicted against measured p95
(what notebook 03 shows)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from simulations.calibration.report import (
    ConfirmResultError,
    confirm_runs,
    plot_predicted_vs_measured,
)
from surge.errors import SurgeError


def run(rate: float, predicted: float, measured: float) -> dict:
    return {"admission_rate": rate, "arrival_rate": 1.2 * rate, "predicted_p95_ms": predicted,
            "measured_p95_ms": measured, "slo_p95_ms": 800.0, "slo_met": measured <= 800.0}  # fmt: skip


def test_confirm_runs_are_read_in_order_and_plotted(tmp_path):
    doc = {"admission_rate": 5.0, "runs": [run(5.0, 600.0, 450.0), run(6.0, 1040.0, 1300.0)]}
    (tmp_path / "confirm.json").write_text(json.dumps(doc))
    frame = confirm_runs(tmp_path)
    assert list(frame["label"]) == ["R_ok", "R_bad"]
    assert list(frame["admission_rate"]) == [5.0, 6.0]
    assert list(frame["slo_met"]) == [True, False]
    assert set(frame["kind"]) == {"confirm"}
    png = plot_predicted_vs_measured(frame, tmp_path / "pvm.png", "confirm")
    assert png.stat().st_size > 5000
    # the quick notebook's levels: no admission rate, no SLO column, two kinds of point
    levels = pd.DataFrame({"label": ["1 users", "8 users"], "kind": ["fitted", "held out"],
                           "predicted_p95_ms": [20.0, 90.0], "measured_p95_ms": [18.0, 120.0]})  # fmt: skip
    assert plot_predicted_vs_measured(levels, tmp_path / "l.png", "levels").stat().st_size > 5000


@pytest.mark.parametrize("content", [None, "{", '{"runs": [{"admission_rate": 1.0}]}'])
def test_a_directory_without_a_confirm_result_is_a_user_error(tmp_path, content):
    if content is not None:
        (tmp_path / "confirm.json").write_text(content)
    with pytest.raises(ConfirmResultError, match="confirm") as caught:
        confirm_runs(tmp_path)
    assert isinstance(caught.value, SurgeError)
