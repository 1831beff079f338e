"""`report.html`: one self-contained page per run (plots inlined as base64 PNG, no external
resources): the SLO table, per-route figures (Locust and HDR percentiles), bookings, arrivals,
invariants, steps, the baseline comparison, and the plots of `loadtests.reports.plots`.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from matplotlib.figure import Figure

from loadtests.reports import plots
from loadtests.reports.summary import RunData

__all__ = ["render_report"]

STYLE = """
body{font-family:sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0} td:first-child{text-align:left}
.pass{color:#060;font-weight:bold}.fail{color:#b00;font-weight:bold}
"""


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _slo_rows(summary: dict[str, Any]) -> str:
    rows = []
    for rule in summary["slo"]["rules"]:
        mark = (
            '<span class="pass">pass</span>' if rule["passed"] else '<span class="fail">FAIL</span>'
        )
        rows.append(
            f"<tr><td>{html.escape(rule['rule'])}</td><td>{_fmt(rule['target'])}</td>"
            f"<td>{_fmt(rule['measured'])}</td><td>{mark}</td>"
            f"<td>{html.escape(rule['detail'])}</td></tr>"
        )
    return (
        "<table><tr><th>rule</th><th>target</th><th>measured</th><th>verdict</th>"
        f"<th>detail</th></tr>{''.join(rows)}</table>"
    )


def render_report(run: RunData, summary: dict[str, Any]) -> str:
    start = run.start_epoch_s
    figures = [
        plots.throughput(run.requests, start),
        plots.latency_percentiles(run.requests, start),
        plots.load_level(run.history, run.profile, run.requests, start),
        plots.errors(run.requests, start),
        plots.waiting_room(run.monitor, start),
    ]
    images = "".join(f'<img alt="plot" src="data:image/png;base64,{_png(f)}"><br>' for f in figures)
    verdict = summary["slo"]["passed"]
    route_rows = [
        [
            name,
            r["count"],
            r["failures"],
            r["rps"],
            r["locust"]["p50_ms"],
            r["locust"]["p95_ms"],
            r["locust"]["p99_ms"],
            r["hdr"]["p50_ms"],
            r["hdr"]["p95_ms"],
            r["hdr"]["p99_ms"],
        ]
        for name, r in summary["routes"].items()
    ]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Surge run: "
        f"{html.escape(str(summary['scenario']))}</title><style>{STYLE}</style></head><body>",
        f"<h1>Surge load test: {html.escape(str(summary['scenario']))}</h1>",
        f"<p>{_fmt(summary['model'])} model, {_fmt(summary['shape'])} shape, "
        f"{_fmt(summary['duration_s'])} s, database {_fmt(summary['database'])}, "
        f"{_fmt(summary['total']['count'])} requests, error rate "
        f"{_fmt(summary['total']['error_rate'])}. SLO verdict: "
        + ('<span class="pass">PASS</span>' if verdict else '<span class="fail">BREACHED</span>')
        + "</p>",
        "<h2>Service-level objectives</h2>",
        _slo_rows(summary),
        "<h2>Routes</h2><p>Latency in ms. Locust's percentiles are rounded to about two "
        "significant digits; HDR percentiles are exact to 0.1% and include the start lag of "
        "late arrivals (open model).</p>",
        _table(
            [
                "route",
                "count",
                "failures",
                "req/s",
                "Locust p50",
                "Locust p95",
                "Locust p99",
                "HDR p50",
                "HDR p95",
                "HDR p99",
            ],
            route_rows,
        ),  # fmt: skip
        "<h2>Bookings, visitors, arrivals</h2>",
        _table(["outcome", "count"], [[k, v] for k, v in summary["bookings"].items()]),
        _table(["journey outcome", "visitors"], [[k, v] for k, v in summary["journeys"].items()]),
        _table(["arrivals", "count"], [[k, v] for k, v in summary["arrivals"].items()]),
        _table(["waiting room", "value"], [[k, v] for k, v in summary["waiting_room"].items()]),
        "<h2>Invariants (GET /admin/invariants at the end)</h2>",
        _table(["invariant", "value"], [[k, v] for k, v in (summary["invariants"] or {}).items()])
        if summary["invariants"] is not None
        else "<p class='fail'>unreadable</p>",
    ]
    if summary["steps"]:
        parts += [
            "<h2>Steps (steady state of each flat part of the profile)</h2>",
            _table(
                ["step", "level", "steady from s", "end s", "requests", "req/s", "error rate",
                 "p50 ms", "p95 ms", "p99 ms"],
                [[s["step"], s["level"], s["steady_from_s"], s["end_s"], s["requests"], s["rps"],
                  s.get("error_rate"), s.get("p50_ms"), s.get("p95_ms"), s.get("p99_ms")]
                 for s in summary["steps"]],
            ),
        ]  # fmt: skip
    comparison = summary.get("baseline")
    if comparison:
        parts += [
            f"<h2>Against the baseline {html.escape(comparison.get('path', ''))}</h2>",
            "<p>" + ("<span class='fail'>REGRESSION</span>" if comparison["regression"]
                     else "<span class='pass'>no regression</span>") + "</p>",
            _table(
                ["route", "run n", "base n", "run p50", "base p50", "p50 ratio", "run p95",
                 "base p95", "MWU p", "A", "KS p", "verdict"],
                [[c["route"], c["run_count"], c["baseline_count"], c["run_p50_ms"],
                  c["baseline_p50_ms"], c["p50_ratio"], c["run_p95_ms"], c["baseline_p95_ms"],
                  c["mann_whitney_p"], c["effect_a"], c["ks_p"], c["verdict"]]
                 for c in comparison["routes"]],
            ),
        ]  # fmt: skip
    if summary.get("notes"):
        parts.append("<p>Notes: " + html.escape("; ".join(summary["notes"])) + "</p>")
    parts += ["<h2>Plots</h2>", images, "</body></html>"]
    return "\n".join(parts)
