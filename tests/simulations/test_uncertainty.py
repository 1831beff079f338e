"""`surge sim uncertainty`: bands over a prior ensemble and PRCC sensitivity."""

import numpy as np
import pandas as pd

from simulations.national.uncertainty import prcc
from simulations.scenario.scenario import scenario_path
from surge.cli import main


def test_prcc_finds_the_parameter_that_drives_a_kpi():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.uniform(size=200), "b": rng.uniform(size=200)})
    frame["y"] = np.exp(3 * frame["a"]) + rng.normal(0, 0.1, 200)  # monotone in a, not linear
    frame["z"] = -frame["b"] + 0.5 * frame["a"]
    table = prcc(frame, ["a", "b"], ["y", "z"])
    assert table.loc["a", "y"] > 0.95 and abs(table.loc["b", "y"]) < 0.2
    assert table.loc["b", "z"] < -0.9 and table.loc["a", "z"] > 0.5


def test_uncertainty_writes_bands_and_sensitivity(tmp_path, capsys):
    scenario = tmp_path / "smoke-priors.toml"
    scenario.write_text(
        scenario_path("smoke").read_text(encoding="utf-8")
        + '\n[priors]\n"demand.book_share" = { low = 0.2, high = 0.6, source = "assumption" }\n'
        + '"behaviour.retry_max" = { low = 1, high = 5, source = "assumption" }\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code = main(["sim", "uncertainty", "--scenario", str(scenario), "--samples", "4",
                 "--set", "duration_min=20", "--out", str(out)])  # fmt: skip
    assert code == 0
    bands = pd.read_csv(out / "bands.csv", index_col="kpi")
    assert (bands["p05"] <= bands["median"]).all() and (bands["median"] <= bands["p95"]).all()
    assert bands.loc["bookings", "p95"] > bands.loc["bookings", "p05"] > 0
    ensemble = pd.read_csv(out / "ensemble.csv")
    assert len(ensemble) == 4 and sorted(ensemble["behaviour.retry_max"]) != [1, 1, 1, 1]
    sens = pd.read_csv(out / "sensitivity.csv", index_col="parameter")
    assert set(sens.index) == {"demand.book_share", "behaviour.retry_max"}
    assert "bookings" in capsys.readouterr().out


def test_a_scenario_without_priors_is_a_usage_error(tmp_path, capsys):
    code = main(["sim", "uncertainty", "--scenario", "smoke", "--samples", "2",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 2
    assert "no [priors]" in capsys.readouterr().err
