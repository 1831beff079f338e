import json

from surge.cli import main


def test_sim_scenarios_lists_built_ins_with_descriptions(capsys):
    assert main(["sim", "scenarios"]) == 0
    out = capsys.readouterr().out
    assert "france-2021-07-12" in out
    assert "smoke" in out


def test_sim_run_writes_summary_timeseries_and_plots(tmp_path, capsys):
    code = main(
        [
            "sim",
            "run",
            "--scenario",
            "smoke",
            "--replications",
            "2",
            "--seed",
            "3",
            "--set",
            "duration_min=20",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["replications"] == 2
    bookings = summary["kpis"]["bookings"]
    assert bookings["ci_low"] <= bookings["mean"] <= bookings["ci_high"]
    for name in ("timeseries.csv", "kpis.csv", "visitors.csv", "timeseries.png", "arrivals.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "peak_bookings_per_min" in capsys.readouterr().out


def test_sim_run_with_an_unknown_scenario_exits_2_with_one_line(tmp_path, capsys):
    assert main(["sim", "run", "--scenario", "atlantis", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("surge: error: scenario 'atlantis'")
    assert "\n" not in err


def test_sim_run_with_a_bad_override_exits_2_naming_the_key(tmp_path, capsys):
    code = main(
        [
            "sim",
            "run",
            "--scenario",
            "smoke",
            "--set",
            "demand.book_share=2",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "demand.book_share" in capsys.readouterr().err


def test_sim_run_with_a_malformed_scenario_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nduration_min = 10\n[demand]\nsurge_visitors = "lots"\n')
    assert main(["sim", "run", "--scenario", str(bad), "--out", str(tmp_path)]) == 2
    assert "demand.surge_visitors" in capsys.readouterr().err


def test_sim_validate_refuses_fewer_than_10_replications(capsys):
    assert main(["sim", "validate", "--replications", "3"]) == 2
    assert "--replications" in capsys.readouterr().err
