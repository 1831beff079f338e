"""`surge bench gate` in parts: decision records accumulate and merge into one summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from surge.bench.gate import GateBenchOptions, _Recorder
from surge.bench.gate_decisions import append_decision, proportion_ci, read_decisions, summarize
from surge.errors import UsageError


def _decision(kind: str, factor: float, code: int, budget_s: float = 300.0, **extra) -> dict:
    return {
        "kind": kind,
        "factor": factor,
        "exit_code": code,
        "budget_s": budget_s,
        "seed": extra.pop("seed", 1000),
        "pairs": 20,
        "elapsed_s": 40.0,
        "date_utc": extra.pop("date_utc", "2026-12-01T03:00:00+00:00"),
        "commit": "abc",
        "loadavg_1min_start": 4.0,
        "p50_ratio": 1.2 if factor > 1 else 1.0,
        **extra,
    }


def test_clopper_pearson_interval_follows_the_rule_of_three() -> None:
    low, high = proportion_ci(0, 60)
    assert low == 0.0 and 0.05 < high < 0.065  # exact bound 0.0596, about 3/n
    low, high = proportion_ci(9, 10)
    assert low < 0.6 < 0.9 < high <= 1.0
    assert proportion_ci(10, 10) == [round(0.025**0.1, 4), 1.0]  # exact: 0.025 ** (1 / n)
    assert proportion_ci(0, 0) == [0.0, 1.0]


def test_records_from_several_invocations_merge(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for code, flagged in ((3, "availability"), (3, "search"), (4, None)):
        verdicts = {route: "regression" if route == flagged else "clean"
                    for route in ("availability", "search")}  # fmt: skip
        append_decision(first, _decision("proxy", 1.25, code, route_verdicts=verdicts))
    append_decision(first, _decision("cpu", 1.25, 3))
    rng = np.random.default_rng(0)
    for code in (0, 4, 4, 3):
        logs = list(rng.normal(0.0, 0.05, 5))
        append_decision(
            second,
            _decision("aa", 1.0, code, budget_s=30.0, log_ratios=logs, a_p50_ms=10.0 + code),
        )
    append_decision(second, _decision("proxy", 1.25, 3, budget_s=90.0))
    with second.open("a") as handle:  # a run killed mid-write leaves a partial line
        handle.write('{"kind": "aa", "exit_')
    records = read_decisions(tmp_path)
    assert len(records) == 9
    figures = summarize(records, histories=5)
    power = {p["name"]: p for p in figures["power"]}
    assert set(power) == {"cpu x1.25 5m", "proxy x1.25 5m", "proxy x1.25 90s"}
    five = power["proxy x1.25 5m"]
    assert (five["decisions"], five["detected"], five["undecided"]) == (3, 2, 1)
    assert five["ci95"] == proportion_ci(2, 3)
    assert (five["slowed_route_flagged"], five["other_route_flagged"]) == (1, 1)
    fa = figures["false_alarms"]
    assert (fa["decisions"], fa["alarms"], fa["clean"], fa["undecided"]) == (4, 1, 1, 2)
    assert fa["budgets_s"] == [30.0] and fa["ci95"] == proportion_ci(1, 4)
    assert figures["noise_pairs"] == 20 and set(figures["change_points"]) == {"+10%", "+25%"}
    assert figures["noise_runs"] == 4 and figures["change_points_run_to_run"] is None
    json.dumps(figures, allow_nan=False)


def test_seeds_continue_across_invocations(tmp_path: Path) -> None:
    options = GateBenchOptions(decisions=tmp_path)
    assert _Recorder(tmp_path, options, print).seed("proxy", 1.25) == 1000
    append_decision(tmp_path / "old.jsonl", _decision("proxy", 1.25, 3, seed=1004))
    append_decision(tmp_path / "old.jsonl", _decision("aa", 1.0, 0, seed=100))
    recorder = _Recorder(tmp_path, options, print)
    assert recorder.seed("proxy", 1.25) == 1005
    assert recorder.seed("proxy", 2.0) == 1000
    assert recorder.seed("aa", 1.0) == 101


@pytest.mark.parametrize(
    "bad",
    [{"kinds": ("proxy", "dns")}, {"parts": ("power", "x")}, {"factors": (0.9,)}, {"reps": 0}],
)
def test_bad_options_are_usage_errors(bad: dict) -> None:
    with pytest.raises(UsageError):
        GateBenchOptions(**bad)


def test_the_docs_page_keeps_benchmarks_without_a_record() -> None:
    from surge.bench.docs import kept_sections, render
    from surge.bench.record import new_record

    old = "# Benchmarks\n\nintro\n\n## room\n\n| figure | value |\n| a | 1 |\n\n## gate\n\nold\n"
    kept = kept_sections(old, {"gate"})
    assert list(kept) == ["room"]
    record = new_record("gate", GateBenchOptions(), {"decisions": 3})
    page = render([record], Path("results/bench"), kept)
    assert "## room\n\n| figure | value |\n| a | 1 |" in page
    assert "| decisions | 3 |" in page and "\nold\n" not in page
    assert page.index("## gate") < page.index("## room")
