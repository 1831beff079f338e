import numpy as np
import pandas as pd
import pytest

from loadtests.verdicts.compare import RULES, CompareRule, compare_runs, named_rule
from surge.commands.loadtest import RULE_NAMES


def table(route_samples: dict[str, np.ndarray], error_share: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for route, samples in route_samples.items():
        ok = (rng.random(len(samples)) >= error_share).astype(int)
        rows.append(pd.DataFrame({"name": route, "response_time_ms": samples, "ok": ok}))
    return pd.concat(rows, ignore_index=True)


def lognormal(median_ms: float, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(np.log(median_ms), 0.6, n)


def test_same_distribution_is_not_a_regression():
    base = table({"book": lognormal(100, 400, 1), "search": lognormal(50, 400, 2)})
    run = table({"book": lognormal(100, 400, 3), "search": lognormal(50, 400, 4)})
    result = compare_runs(run, base)
    assert not result["regression"]
    assert {r["verdict"] for r in result["routes"]} <= {"ok", "faster"}


def test_three_times_slower_route_is_a_regression_and_named():
    base = table({"book": lognormal(100, 400, 1), "search": lognormal(50, 400, 2)})
    run = table({"book": lognormal(300, 400, 3), "search": lognormal(50, 400, 4)})
    result = compare_runs(run, base)
    assert result["regression"]
    assert result["regressed_routes"] == ["book"]
    book = next(r for r in result["routes"] if r["route"] == "book")
    assert book["p50_ratio"] > 2.5 and book["effect_a"] > 0.8 and book["mann_whitney_p"] < 1e-6


def test_significant_but_small_slowdown_is_tolerated_as_noise():
    # 20% slower with many samples: statistically significant, below the practical threshold.
    base = table({"book": lognormal(100, 3000, 1)})
    run = table({"book": lognormal(120, 3000, 2)})
    result = compare_runs(run, base)
    book = result["routes"][0]
    assert book["mann_whitney_p"] < 0.001
    assert not result["regression"]
    # a stricter rule catches it
    strict = CompareRule(min_ratio=1.1, absolute_ratio=1.1, min_effect=0.55)
    assert compare_runs(run, base, strict)["regression"]


def test_a_busy_machine_slowing_every_route_alike_is_not_a_regression():
    routes = {"book": 100, "search": 50, "availability": 40, "register": 80}
    base = table({r: lognormal(m, 400, i) for i, (r, m) in enumerate(routes.items())})
    run = table({r: lognormal(2 * m, 400, 10 + i) for i, (r, m) in enumerate(routes.items())})
    result = compare_runs(run, base)
    assert result["machine_factor"] > 1.8
    assert not result["regression"]


def test_one_route_slower_than_the_rest_of_a_busy_run_is_a_regression():
    routes = {"book": 100, "search": 50, "availability": 40, "register": 80}
    base = table({r: lognormal(m, 400, i) for i, (r, m) in enumerate(routes.items())})
    slow = {r: 2 * m * (2 if r == "book" else 1) for r, m in routes.items()}
    run = table({r: lognormal(m, 400, 10 + i) for i, (r, m) in enumerate(slow.items())})
    result = compare_runs(run, base)
    assert result["regressed_routes"] == ["book"]
    assert "slower than the rest of the run" in result["routes"][1]["reason"]


def test_a_uniform_many_fold_slowdown_is_a_regression():
    routes = {"book": 100, "search": 50, "availability": 40}
    base = table({r: lognormal(m, 400, i) for i, (r, m) in enumerate(routes.items())})
    run = table({r: lognormal(4 * m, 400, 10 + i) for i, (r, m) in enumerate(routes.items())})
    result = compare_runs(run, base)
    assert result["regressed_routes"] == ["availability", "book", "search"]


def test_error_rate_increase_is_a_regression():
    base = table({"book": lognormal(100, 500, 1)}, error_share=0.0)
    run = table({"book": lognormal(100, 500, 2)}, error_share=0.2, seed=5)
    result = compare_runs(run, base)
    assert result["regressed_routes"] == ["book"]
    assert "error rate" in result["routes"][0]["reason"]


def test_routes_with_few_samples_or_missing_on_one_side_are_not_judged():
    base = table({"book": lognormal(100, 10, 1), "cancel": lognormal(50, 100, 2)})
    run = table({"book": lognormal(1000, 10, 3)})
    result = compare_runs(run, base)
    assert not result["regression"]
    verdicts = {r["route"]: r["verdict"] for r in result["routes"]}
    assert verdicts == {"book": "not judged", "cancel": "not judged"}


def test_the_shared_machine_rule_tolerates_a_database_route_twice_slower_than_the_rest():
    # a starved box: everything x2, the database-bound route x2 more; default calls it a regression
    routes = {"book": 100, "search": 50, "availability": 40, "register": 80}
    base = table({r: lognormal(m, 400, i) for i, (r, m) in enumerate(routes.items())})
    slow = {r: 2 * m * (2 if r == "book" else 1) for r, m in routes.items()}
    run = table({r: lognormal(m, 400, 10 + i) for i, (r, m) in enumerate(slow.items())})
    assert compare_runs(run, base)["regressed_routes"] == ["book"]
    assert not compare_runs(run, base, named_rule("shared"))["regression"]


def test_the_shared_machine_rule_still_catches_a_route_four_times_slower():
    routes = {"book": 100, "search": 50, "availability": 40, "register": 80}
    base = table({r: lognormal(m, 400, i) for i, (r, m) in enumerate(routes.items())})
    slow = {r: 1.5 * m * (4 if r == "book" else 1) for r, m in routes.items()}
    run = table({r: lognormal(m, 400, 10 + i) for i, (r, m) in enumerate(slow.items())})
    result = compare_runs(run, base, named_rule("shared"))
    assert result["regressed_routes"] == ["book"]
    assert result["rule"]["min_ratio"] == 2.5


def test_the_shared_machine_rule_still_catches_a_uniform_six_fold_slowdown():
    routes = {"book": 100, "search": 50, "availability": 40}
    base = table({r: lognormal(m, 400, i) for i, (r, m) in enumerate(routes.items())})
    run = table({r: lognormal(6 * m, 400, 10 + i) for i, (r, m) in enumerate(routes.items())})
    result = compare_runs(run, base, named_rule("shared"))
    assert result["regressed_routes"] == ["availability", "book", "search"]


def test_rule_names_are_the_cli_choices_and_an_unknown_name_is_one_clear_error():
    assert tuple(RULES) == RULE_NAMES
    with pytest.raises(ValueError, match="unknown comparison rule 'lax'"):
        named_rule("lax")
