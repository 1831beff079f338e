"""The demo page documents a broken demo too: missing results and failed steps are said, not
crashed on, and everything shown is escaped."""

from __future__ import annotations

import json
from pathlib import Path

from html_tables import read_page

from surge.demo.page import StepRecord, render_index, write_index
from surge.demo.results import PUBLIC_FIGURES


def _step(outcome: str, command: str = "surge sim run --scenario x") -> StepRecord:
    return StepRecord("sim", "National simulation", command, 2, 1.5, "sim.log", outcome)


def test_page_of_an_empty_results_directory_says_what_is_missing(tmp_path: Path):
    page = render_index(tmp_path, [_step("failed")])
    assert "1 step(s) failed" in page
    assert page.count("has no results") == 4  # load test, simulation, platform and supply sizing
    assert "<img" not in page


def test_page_escapes_commands_and_walkthrough_text(tmp_path: Path):
    page = render_index(
        tmp_path,
        [_step("ok", command="surge x --set 'a=<script>alert(1)</script>'")],
        walkthrough=[{"step": "search", "status": 200, "what": "<b>centre</b> & co"}],
    )
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page
    assert "&lt;b&gt;centre&lt;/b&gt; &amp; co" in page


def test_page_shows_simulation_kpis_against_public_figures_scaled_like_the_run(tmp_path: Path):
    sim = tmp_path / "sim"
    sim.mkdir()
    kpis = {
        "bookings": {"mean": 9500.0, "ci_low": 9000.0, "ci_high": 10000.0},
        "peak_bookings_per_min": {"mean": 190.0, "ci_low": None, "ci_high": None},
    }
    document = {
        "scenario": "france-2021-07-12",
        "replications": 3,
        "seed": 7,
        "overrides": ["scale=0.01"],
        "kpis": kpis,
    }
    (sim / "summary.json").write_text(json.dumps(document))
    path = write_index(tmp_path, [_step("ok")])
    page = read_page(path.read_text(encoding="utf-8"))

    assert page.paragraph("Generated").endswith(
        "every step ran. Every figure on this page was measured or simulated by the commands "
        "listed below; rerun them to reproduce it."
    )
    assert page.paragraph("Scenario france-2021-07-12").startswith(
        "Scenario france-2021-07-12, 3 replication(s), seed 7, scale 0.01 (public figures "
        "scaled alike). Command: . Data: summary.json, timeseries.csv."
    )
    table = page.table("3. The national simulation of that evening")
    assert table.headers == ["KPI", "mean", "95% CI low", "95% CI high", "public figure", "source"]
    # in the order of the page's KPI list, only the KPIs the run has; public figures x 0.01
    bookings, source = PUBLIC_FIGURES["bookings"]
    peak, peak_source = PUBLIC_FIGURES["peak_bookings_per_min"]
    assert table.texts() == [
        ["bookings", "9,500", "9,000", "10,000", f"{bookings * 0.01:,.0f}", source],
        ["peak bookings per minute", "190", "-", "-", f"{peak * 0.01:.4g}", peak_source],
    ]
    # numbers right-aligned; text and missing values not
    assert [["num" in c.classes for c in row] for row in table.rows] == [
        [False, True, True, True, True, False],
        [False, True, False, False, True, False],
    ]


def _write_loadtest_summary(out: Path, scenario: str, route: str, passed: bool) -> dict:
    """A load-test summary as `surge loadtest run` writes it (the fields the page reads)."""
    rules = [
        {"rule": f"p95_ms[{route}]", "target": 300.0, "measured": 412.5, "passed": passed,
         "detail": f"412.5ms {'<=' if passed else '>'} 300ms & more"},
        {"rule": "error_rate_max", "target": 0.01, "measured": 0.0, "passed": True,
         "detail": "0 <= 0.01"},
    ]  # fmt: skip
    summary = {
        "scenario": scenario,
        "model": "open",
        "shape": "replay",
        "duration_s": 20.0,
        "database": "sqlite",
        "total": {"count": 1234, "failures": 2, "error_rate": 0.00162},
        "bookings": {"success": 40, "full": 3, "error": 0},
        "arrivals": {"started": 50, "late": 1},
        "waiting_room": {"admitted": 0},
        "routes": {
            route: {"count": 600, "failures": 2, "hdr": {"p50_ms": 12.5, "p95_ms": 412.5,
                                                         "p99_ms": 1500.0}},
            "book": {"count": 634, "failures": 0, "hdr": {"p50_ms": 8.0, "p95_ms": 20.0,
                                                          "p99_ms": None}},
        },
        "slo": {"passed": passed, "rules": rules},
    }  # fmt: skip
    (out / "loadtest").mkdir(parents=True)
    (out / "loadtest" / "summary.json").write_text(json.dumps(summary))
    return summary


def test_page_escapes_scenario_and_route_names_from_the_runs(tmp_path: Path):
    evil = "<script>alert(1)</script> & co"
    _write_loadtest_summary(tmp_path, scenario=evil, route=evil, passed=False)
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "summary.json").write_text(json.dumps({"scenario": evil, "kpis": {}}))
    text = render_index(tmp_path, [_step("ok")])
    page = read_page(text)

    assert "<script>alert(1)" not in text
    # two scenario lines, the route cell, the rule cell
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co") == 4
    assert page.tags["script"] == 1  # the page's own image counter, nothing from the runs
    assert page.paragraph(f"Scenario {evil}, open model")  # load test, as text
    assert page.paragraph(f"Scenario {evil}, - replication(s)")  # simulation, as text
    routes = page.table("Latency per route (HDR histogram, ms)")
    assert routes.row(evil)[0].text == evil
    assert page.table("SLO rules").row(f"p95_ms[{evil}]")[4].text == "412.5ms > 300ms & more"


def test_page_shows_the_load_test_verdict_routes_and_slo_rules(tmp_path: Path):
    _write_loadtest_summary(tmp_path, scenario="france-2021-07-12", route="search", passed=False)
    page = read_page(render_index(tmp_path, [_step("SLO breached")]))

    intro = page.paragraph("Scenario france-2021-07-12, open model")
    assert intro.startswith(
        "Scenario france-2021-07-12, open model, replay shape, 20 s on sqlite. "
        "SLO verdict: SLO breached. Full report: loadtest/report.html"
    )
    totals = page.table("2. Load test: the opening evening replayed against the app")
    assert totals.headers == [
        "requests", "failures", "error rate", "bookings ok", "full", "errors", "arrivals", "late"
    ]  # fmt: skip
    assert totals.texts() == [["1,234", "2", "0.00162", "40", "3", "0", "50", "1"]]
    routes = page.table("Latency per route (HDR histogram, ms)")
    assert routes.headers == ["route", "requests", "failures", "p50", "p95", "p99"]
    assert routes.texts() == [  # sorted by route
        ["book", "634", "0", "8", "20", "-"],
        ["search", "600", "2", "12.5", "412.5", "1,500"],
    ]
    rules = page.table("SLO rules")
    assert rules.headers == ["rule", "target", "measured", "verdict", "detail"]
    assert rules.texts() == [
        ["p95_ms[search]", "300", "412.5", "fail", "412.5ms > 300ms & more"],
        ["error_rate_max", "0.01", "0", "pass", "0 <= 0.01"],
    ]
    assert "fail" in rules.rows[0][3].classes and "pass" in rules.rows[1][3].classes
    # no waiting-room line when nobody went through the room
    assert not [p for p in page.paragraphs if p.startswith("Waiting room:")]
