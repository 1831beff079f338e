"""`report.html`: one self-contained page per run (plots inlined as base64 PNG, no external
resources): the SLO table, per-route figures (Locust and HDR percentiles), bookings, arrivals,
invariants, steps, the baseline comparison, and the plots of `loadtests.reports.plots`.

The layout is the Jinja2 template `templates/report.html.j2`, autoescaped: route names, scenario
names and SLO details from the run are text, never markup. The SLO table shows whatever fields the
verdict's rule records carry, in their order (`passed` as the verdict column).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from matplotlib.figure import Figure

from loadtests.reports import plots
from loadtests.reports.summary import RunData

__all__ = ["render_report", "slo_columns"]


def _png(fig: Figure) -> Markup:
    """The figure as base64 PNG, marked safe: drawn by our own plots, base64 has no markup."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return Markup(base64.b64encode(buffer.getvalue()).decode("ascii"))  # noqa: S704 - base64 of our own PNG has no markup


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("loadtests.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = _fmt
    return env


def slo_columns(rules: Iterable[Mapping[str, Any]]) -> list[str]:
    """The fields of the SLO rule records, first seen first (`passed` is the verdict column)."""
    columns: dict[str, None] = {}
    for rule in rules:
        columns.update(dict.fromkeys(rule))
    return list(columns)


def _span_s(run: RunData) -> tuple[float, float] | None:
    """The seconds the requests span, from the test start: the latency plots' time axis."""
    if not len(run.requests):
        return None
    t = run.requests["start_epoch_s"].astype(float) - run.start_epoch_s
    return (min(0.0, float(t.min())), float(t.max()) + 1.0)


def render_report(run: RunData, summary: dict[str, Any]) -> str:
    start = run.start_epoch_s
    figures = [
        plots.throughput(run.requests, start),
        plots.latency_percentiles(run.requests, start),
        plots.process_resources(run.telemetry, run.telemetry_offset_s, _span_s(run)),
        plots.load_level(run.history, run.profile, run.requests, start),
        plots.errors(run.requests, start),
        plots.waiting_room(run.monitor, start),
    ]
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
    step_rows = [
        [s["step"], s["level"], s["steady_from_s"], s["end_s"], s["requests"], s["rps"],
         s.get("error_rate"), s.get("p50_ms"), s.get("p95_ms"), s.get("p99_ms")]
        for s in summary["steps"] or []
    ]  # fmt: skip
    comparison = summary.get("baseline") or {}
    baseline_rows = [
        [c["route"], c["run_count"], c["baseline_count"], c["run_p50_ms"], c["baseline_p50_ms"],
         c["p50_ratio"], c["run_p95_ms"], c["baseline_p95_ms"], c["mann_whitney_p"],
         c["effect_a"], c["ks_p"], c["verdict"]]
        for c in comparison.get("routes", [])
    ]  # fmt: skip
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            s={"steps": None, "baseline": None, "notes": None, **summary},
            slo_columns=slo_columns(summary["slo"]["rules"]),
            route_rows=route_rows,
            step_rows=step_rows,
            baseline_rows=baseline_rows,
            plots=[_png(f) for f in figures],
        )
    )
