"""`report.html` from a real run directory: names from the run are escaped, the SLO table shows
every rule of the verdict and the verdict itself, and the plots are embedded PNGs."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from html_tables import read_page

from loadtests.reports.html import render_report
from loadtests.reports.summary import RunData, build_summary, read_run
from simulations.scenario import Slo

EVIL = "<script>alert(1)</script> & co"
START = 1_800_000_000.0


def _run_dir(out: Path) -> Path:
    """A 10-s open-model run of two routes: `book` (fast) and `EVIL` (slow, one failure)."""
    plan = {
        "scenario": EVIL,
        "model": "open",
        "profile": {"kind": "replay", "unit": "arrivals_per_s", "points": [[0, 2], [10, 2]]},
    }
    (out / "plan.json").write_text(json.dumps(plan))
    requests = [
        {"start_epoch_s": START + i / 2, "method": "POST", "name": name, "response_time_ms": ms,
         "ok": int(not (name == EVIL and i == 3)), "status": 201, "error": ""}
        for i in range(20)
        for name, ms in (("book", 10.0 + i % 3), (EVIL, 400.0 + 10 * i))
    ]  # fmt: skip
    pd.DataFrame(requests).to_csv(out / "requests.csv", index=False)
    stats = pd.DataFrame(requests).groupby("name")["response_time_ms"]
    rows = [
        {"Type": "POST", "Name": name, "Request Count": len(times), "Failure Count": 0,
         "Average Response Time": times.mean(), "Requests/s": len(times) / 10,
         **{f"{p}%": times.quantile(p / 100) for p in (50, 95, 99)}}
        for name, times in stats
    ]  # fmt: skip
    rows.append({"Type": "", "Name": "Aggregated", "Request Count": 40, "Failure Count": 1,
                 "Average Response Time": 0.0, "Requests/s": 4.0})  # fmt: skip
    pd.DataFrame(rows).to_csv(out / "locust_stats.csv", index=False)
    hdr = {
        name: {f"p{p}_ms": float(times.quantile(p / 100)) for p in (50, 95, 99)}
        for name, times in stats
    }
    counters = {"bookings:success": 19, "bookings:full": 1, "journeys:booked": 19}
    surge = {"test_start_epoch_s": START, "hdr": hdr, "counters": counters}
    (out / "locust_surge.json").write_text(json.dumps(surge))
    monitor = pd.DataFrame({"epoch_s": [START + t for t in range(10)], "waiting_room_queued": 0})
    monitor.to_csv(out / "monitor.csv", index=False)
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunData:
    return read_run(_run_dir(tmp_path_factory.mktemp("run")))


def _summary(run: RunData, p95_target_ms: float) -> dict:
    slo = Slo(p95_ms={"book": 100.0, EVIL: p95_target_ms}, error_rate_max=0.5)
    extra = {"database": "sqlite", "invariants": {"overbooked_slots": 0}}
    return build_summary(run, extra, slo)


@pytest.fixture(scope="module")
def breached(run: RunData) -> tuple[dict, str]:
    """The slow route breaches its p95 target: the summary and its report."""
    summary = _summary(run, 100.0)
    return summary, render_report(run, summary)


@pytest.fixture(scope="module")
def passed_with_an_extra_field(run: RunData) -> tuple[dict, str]:
    """Every target met, and rule records carrying a field the report has never seen."""
    summary = _summary(run, 10_000.0)
    summary["slo"]["rules"] = [
        {"rule": r["rule"], "unit": "ms" if "ms" in r["rule"] else "share", **r}
        for r in summary["slo"]["rules"]
    ]
    return summary, render_report(run, summary)


@pytest.mark.parametrize(
    ("report", "verdict"), [("breached", "BREACHED"), ("passed_with_an_extra_field", "PASS")]
)
def test_report_shows_each_slo_rule_and_the_verdict(request, report, verdict):
    summary, text = request.getfixturevalue(report)
    page = read_page(text)
    rules = summary["slo"]["rules"]
    assert {r["rule"] for r in rules} >= {"p95_ms[book]", f"p95_ms[{EVIL}]", "error_rate_max"}
    assert (verdict == "PASS") == all(r["passed"] for r in rules)

    intro = page.paragraph("open model")
    assert intro.endswith(f"SLO verdict: {verdict}")
    assert page.classes_in_paragraphs[page.paragraphs.index(intro)] == (
        {"pass"} if verdict == "PASS" else {"fail"}
    )
    table = page.table("Service-level objectives")
    columns = list(rules[0])  # the rule records' fields, in their order; `passed` is the verdict
    assert table.headers == ["verdict" if c == "passed" else c for c in columns]
    for row, rule in zip(table.rows, rules, strict=True):
        cells = dict(zip(columns, row, strict=True))
        assert cells["rule"].text == rule["rule"]
        assert cells["detail"].text == rule["detail"]
        assert cells["passed"].text == ("pass" if rule["passed"] else "FAIL")
        assert cells["passed"].classes == {"pass" if rule["passed"] else "fail"}
        if "unit" in rule:
            assert cells["unit"].text == rule["unit"]


def test_report_escapes_scenario_and_route_names(breached):
    _, text = breached
    page = read_page(text)
    assert "<script>alert(1)" not in text
    assert page.tags["script"] == 0
    assert page.title == f"Surge run: {EVIL}"
    assert page.headings[0] == f"Surge load test: {EVIL}"
    routes = page.table("Routes")
    assert routes.headers[:4] == ["route", "count", "failures", "req/s"]
    assert [c.text for c in routes.row(EVIL)[:3]] == [EVIL, "20", "1"]
    assert [c.text for c in routes.row("book")[:3]] == ["book", "20", "0"]
    slo = page.table("Service-level objectives")
    assert slo.row(f"p95_ms[{EVIL}]")[0].text == f"p95_ms[{EVIL}]"


def test_report_embeds_the_six_plots_as_png(breached):  # CPU and memory per role is the 6th
    _, text = breached
    images = re.findall(r'<img alt="plot" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', text)
    assert len(images) == 6
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
