"""The demo page documents a broken demo too: missing results and failed steps are said, not
crashed on, and everything shown is escaped."""

from __future__ import annotations

import json
from pathlib import Path

from surge.demo.page import StepRecord, render_index, write_index


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
    document = {"scenario": "france-2021-07-12", "overrides": ["scale=0.01"], "kpis": kpis}
    (sim / "summary.json").write_text(json.dumps(document))
    path = write_index(tmp_path, [_step("ok")])
    page = path.read_text(encoding="utf-8")
    assert "every step ran" in page
    assert "9,260" in page  # 926,000 bookings by midnight at scale 0.01
    assert "200" in page and "scale 0.01" in page
