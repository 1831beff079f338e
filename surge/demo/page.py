"""The demo's index page: one self-describing HTML file linking what `surge demo` produced.

`write_index(out_dir, steps, walkthrough)` reads the run directories the demo steps wrote under
`out_dir` (`loadtest/`, `sim/`, `size/platform/`, `size/supply/`) and writes `out_dir/index.html`
with relative links and images, so the folder can be copied or served as it is. A section whose
directory is missing says so instead of failing: the page also documents a demo that broke.

Load-test figures are drawn from the run directory with `loadtests.reports.plots` (the report's own
plotting functions; no Locust import). A small script marks `<body>` with how many images loaded
(`data-images-loaded` / `data-images-total`), which the browser test reads.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["StepRecord", "loadtest_figures", "render_index", "write_index"]

# The evening of 12 July 2021; source: docs/sources.md#doctolib-12-july-peak and
# docs/sources.md#doctolib-12-july-bookings.
PUBLIC_FIGURES = {
    "peak_bookings_per_min": (20_000, "peak bookings per minute (CTO/CEO)"),
    "bookings": (926_000, "first-dose bookings by midnight (CEO)"),
}
SIM_KPIS = (
    ("visitors", "new visitors"),
    ("visitors_max_15min", "most new visitors in 15 minutes"),
    ("bookings", "bookings"),
    ("peak_bookings_per_min", "peak bookings per minute"),
    ("wr_wait_p50_min", "waiting-room wait p50 (min)"),
    ("wr_wait_p95_min", "waiting-room wait p95 (min)"),
    ("wr_wait_max_min", "waiting-room wait max (min)"),
    ("abandonment", "abandonment (share of bookers)"),
    ("web_utilisation_peak", "web tier utilisation, busiest minute"),
    ("db_utilisation_peak", "database utilisation, busiest minute"),
    ("request_error_rate", "request error rate"),
    ("sellout_min", "minute half the centres sold out"),
)
SIM_IMAGES = ("timeseries.png", "arrivals.png", "waits.png")

IMAGE_MARKER = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-total", String(images.length));
  document.body.setAttribute("data-images-loaded", String(loaded.length));
  images.forEach(function (i) { if (!(i.complete && i.naturalWidth > 0)) i.className += " broken"; });
});
</script>"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { background: #f4f4f4; padding: 0 0.25em; border-radius: 3px; font-size: 0.9em; }
.pass { color: #0a7a2f; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
.missing { color: #8a6d00; } figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
img.broken { outline: 3px solid #b3261e; } figcaption { font-size: 0.9em; color: #555; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 0 1em; }
"""


@dataclass(frozen=True)
class StepRecord:
    """What one demo step did: its command, exit code, wall time and log (relative to the page)."""

    key: str
    title: str
    command: str
    exit_code: int
    seconds: float
    log: str
    outcome: str  # "ok", "SLO breached", "failed", "timed out", "not reachable", ...


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return _e(value)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            if isinstance(cell, _Html):
                cells.append(f"<td>{cell.text}</td>")
            elif isinstance(cell, int | float) and not isinstance(cell, bool):
                cells.append(f'<td class="num">{_num(cell)}</td>')
            else:
                cells.append(f"<td>{_num(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


@dataclass(frozen=True)
class _Html:
    text: str


def _badge(passed: bool | None, yes: str = "pass", no: str = "fail") -> _Html:
    if passed is None:
        return _Html('<span class="missing">not run</span>')
    return _Html(f'<span class="{"pass" if passed else "fail"}">{_e(yes if passed else no)}</span>')


def _link(href: str, text: str | None = None) -> _Html:
    return _Html(f'<a href="{_e(href)}">{_e(text or href)}</a>')


def _figure(src: str, caption: str) -> str:
    return (
        f'<figure><img src="{_e(src)}" alt="{_e(caption)}" loading="eager">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _figures(items: Sequence[tuple[str, str]]) -> str:
    """Figures side by side (two per row on a wide screen)."""
    if not items:
        return ""
    return '<div class="figures">' + "".join(_figure(s, c) for s, c in items) + "</div>"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _missing(what: str, directory: str) -> str:
    return f'<p class="missing">No {_e(what)}: <code>{_e(directory)}</code> has no results.</p>'


def loadtest_figures(run_dir: Path, out_dir: Path) -> list[tuple[str, str]]:
    """Draw the run's throughput, latency, errors and waiting-room plots into `out_dir`.

    Returns (file name, caption) pairs; nothing when `run_dir` is not a load-test run.
    """
    try:
        from loadtests.reports import plots
        from loadtests.reports.summary import read_run

        run = read_run(run_dir)
    except (FileNotFoundError, ImportError, ValueError):
        return []
    start = run.start_epoch_s
    figures = [
        ("loadtest_throughput.png", "Throughput per route", plots.throughput(run.requests, start)),
        (
            "loadtest_latency.png",
            "Latency percentiles over time",
            plots.latency_percentiles(run.requests, start),
        ),
        (
            "loadtest_load.png",
            "Offered load",
            plots.load_level(run.history, run.profile, run.requests, start),
        ),
        ("loadtest_errors.png", "Errors per route", plots.errors(run.requests, start)),
        (
            "loadtest_waiting_room.png",
            "Waiting-room length",
            plots.waiting_room(run.monitor, start),
        ),
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, caption, fig in figures:
        fig.savefig(out_dir / name, dpi=80)
        written.append((name, caption))
    return written


def _steps_section(steps: Sequence[StepRecord]) -> str:
    rows = [
        [
            s.title,
            _Html(f"<code>{_e(s.command)}</code>"),
            _badge(s.outcome == "ok", "ok", s.outcome),
            s.exit_code,
            round(s.seconds, 1),
            _link(s.log, "log"),
        ]
        for s in steps
    ]
    return "<h2>What ran</h2>" + _table(
        ["step", "command", "outcome", "exit", "seconds", "output"], rows
    )


def _walkthrough_section(walkthrough: Sequence[Mapping[str, Any]] | None) -> str:
    if not walkthrough:
        return ""
    rows = [[w.get("step"), w.get("status"), w.get("what")] for w in walkthrough]
    return (
        "<h2>1. The reference app, booked through HTTP</h2>"
        "<p>The app was seeded on SQLite, served on a free local port, and one patient went "
        "through the journey over real HTTP (HTTP status per step):</p>"
        + _table(["step", "HTTP status", "what"], rows)
    )


def _loadtest_section(out_dir: Path) -> str:
    run_dir = out_dir / "loadtest"
    title = "<h2>2. Load test: the opening evening replayed against the app</h2>"
    summary = _read_json(run_dir / "summary.json")
    if summary is None:
        return title + _missing("load-test summary", "loadtest/")
    slo = summary.get("slo", {})
    passed = slo.get("passed")
    parts = [
        title,
        f"<p>Scenario <code>{_e(summary.get('scenario'))}</code>, {_e(summary.get('model'))} "
        f"model, {_e(summary.get('shape'))} shape, {_num(summary.get('duration_s'))} s on "
        f"{_e(summary.get('database'))}. SLO verdict: ",
        _badge(passed, "all SLOs met", "SLO breached").text,
        '. Full report: <a href="loadtest/report.html">loadtest/report.html</a>; data: '
        '<a href="loadtest/summary.json">summary.json</a>.</p>',
    ]
    total, bookings = summary.get("total", {}), summary.get("bookings", {})
    arrivals, wr = summary.get("arrivals", {}), summary.get("waiting_room", {})
    parts.append(
        _table(
            [
                "requests",
                "failures",
                "error rate",
                "bookings ok",
                "full",
                "errors",
                "arrivals",
                "late",
            ],
            [
                [
                    total.get("count"),
                    total.get("failures"),
                    total.get("error_rate"),
                    bookings.get("success"),
                    bookings.get("full"),
                    bookings.get("error"),
                    arrivals.get("started"),
                    arrivals.get("late"),
                ]
            ],
        )
    )
    if wr.get("admitted"):
        parts.append(
            f"<p>Waiting room: {_num(wr.get('admitted'))} admitted, wait p95 "
            f"{_num(wr.get('wait_p95_s'))} s (max {_num(wr.get('wait_max_s'))} s; "
            f"{_num(wr.get('wait_max_real_s'))} s in the scenario's time).</p>"
        )
    routes = summary.get("routes", {})
    route_rows = [
        [
            name,
            r.get("count"),
            r.get("failures"),
            (r.get("hdr") or {}).get("p50_ms"),
            (r.get("hdr") or {}).get("p95_ms"),
            (r.get("hdr") or {}).get("p99_ms"),
        ]
        for name, r in sorted(routes.items())
    ]
    if route_rows:
        parts.append("<h3>Latency per route (HDR histogram, ms)</h3>")
        parts.append(_table(["route", "requests", "failures", "p50", "p95", "p99"], route_rows))
    rules = slo.get("rules", [])
    if rules:
        parts.append("<h3>SLO rules</h3>")
        parts.append(
            _table(
                ["rule", "target", "measured", "verdict", "detail"],
                [
                    [r["rule"], r["target"], r["measured"], _badge(r["passed"]), r["detail"]]
                    for r in rules
                ],
            )
        )
    figures = loadtest_figures(run_dir, out_dir / "loadtest_figures")
    parts.append(_figures([(f"loadtest_figures/{name}", caption) for name, caption in figures]))
    return "".join(parts)


def _scale_of(summary: Mapping[str, Any]) -> float:
    for item in summary.get("overrides") or []:
        key, _, value = str(item).partition("=")
        if key.strip() == "scale":
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 1.0


def _sim_section(out_dir: Path) -> str:
    title = "<h2>3. The national simulation of that evening</h2>"
    summary = _read_json(out_dir / "sim" / "summary.json")
    if summary is None:
        return title + _missing("simulation summary", "sim/")
    scale = _scale_of(summary)
    kpis = summary.get("kpis", {})
    rows = []
    for key, label in SIM_KPIS:
        if key not in kpis:
            continue
        k = kpis[key]
        public = PUBLIC_FIGURES.get(key)
        rows.append(
            [
                label,
                k.get("mean"),
                k.get("ci_low"),
                k.get("ci_high"),
                public[0] * scale if public else None,
                public[1] if public else "",
            ]
        )
    parts = [
        title,
        f"<p>Scenario <code>{_e(summary.get('scenario'))}</code>, "
        f"{_num(summary.get('replications'))} replication(s), seed {_num(summary.get('seed'))}"
        + (f", scale {scale:g} (public figures scaled alike)" if scale != 1.0 else "")
        + f". Command: <code>{_e(summary.get('command', ''))}</code>. Data: "
        '<a href="sim/summary.json">summary.json</a>, '
        '<a href="sim/timeseries.csv">timeseries.csv</a>.</p>',
        _table(["KPI", "mean", "95% CI low", "95% CI high", "public figure", "source"], rows),
    ]
    captions = {
        "timeseries.png": "The evening minute by minute: arrivals, waiting room, bookings, utilisation",
        "arrivals.png": "The scenario's arrival curve",
        "waits.png": "Waiting-room waits of sampled visitors",
    }
    present = [n for n in SIM_IMAGES if (out_dir / "sim" / n).is_file()]
    parts.append(_figures([(f"sim/{n}", captions[n]) for n in present]))
    return "".join(parts)


def _sizing_section(out_dir: Path) -> str:
    parts = ["<h2>4. Sizing answers</h2>"]
    platform = _read_json(out_dir / "size" / "platform" / "platform_sizing.json")
    if platform is None:
        parts.append(_missing("platform sizing", "size/platform/"))
    else:
        knob, targets = platform.get("knob", ""), platform.get("targets", [])
        answer = platform.get("answer")
        parts.append(
            f"<h3>Platform: smallest <code>{_e(knob)}</code> meeting "
            f"{_e(', '.join(targets))} on <code>{_e(platform.get('scenario'))}</code></h3><p>"
            + (
                f'Answer: <span class="pass">{_e(knob)} = {_num(answer)}</span>.'
                if answer is not None
                else '<span class="fail">Not reachable within the range tried.</span>'
            )
            + ' Data: <a href="size/platform/platform_sizing.csv">platform_sizing.csv</a>.</p>'
        )
        rows = []
        for row in platform.get("evaluations", []):
            cells: list[Any] = [row.get(knob)]
            for t in targets:
                cells += [row.get(t), row.get(f"{t} ci_low"), row.get(f"{t} ci_high")]
            cells.append(_badge(bool(row.get("meets_targets")), "yes", "no"))
            rows.append(cells)
        headers = [knob]
        for t in targets:
            headers += [t, "CI low", "CI high"]
        parts.append(_table([*headers, "meets"], rows))
        if (out_dir / "size" / "platform" / "platform_sizing.png").is_file():
            parts.append(
                _figure("size/platform/platform_sizing.png", "Target KPI against the knob")
            )
    supply = _read_json(out_dir / "size" / "supply" / "supply_sizing.json")
    if supply is None:
        parts.append(_missing("supply sizing", "size/supply/"))
    else:
        parts.append(
            f"<h3>Supply: slots per day to vaccinate {_num(supply.get('eligible'))} people in "
            f"{_num(supply.get('weeks'))} weeks</h3>"
        )
        staff = supply.get("staff_total") or {}
        rows = [
            ["booked slots per day (dose 1 + dose 2)", supply.get("slots_per_day")],
            ["dose-2 policy", supply.get("dose2_policy")],
            ["no-show share", supply.get("no_show_share")],
            ["slots per centre per day", supply.get("slots_per_centre_per_day")],
            ["centres", supply.get("centres")],
            *[[f"staff, all centres: {k}", v] for k, v in staff.items()],
        ]
        parts.append(_table(["quantity", "value"], rows))
        if (out_dir / "size" / "supply" / "supply_sizing.png").is_file():
            parts.append(_figure("size/supply/supply_sizing.png", "Booked slots per campaign day"))
    return "".join(parts)


def render_index(
    out_dir: Path,
    steps: Sequence[StepRecord],
    walkthrough: Sequence[Mapping[str, Any]] | None = None,
    title: str = "Surge demo",
) -> str:
    """The page as a string (drawing the load-test figures into `out_dir` on the way)."""
    failed = [s for s in steps if s.outcome not in ("ok", "SLO breached")]
    total_s = sum(s.seconds for s in steps)
    status = (
        '<span class="pass">every step ran</span>'
        if not failed
        else f'<span class="fail">{len(failed)} step(s) failed: '
        f"{_e(', '.join(s.title for s in failed))}</span>"
    )
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p>Generated {_e(time.strftime('%Y-%m-%d %H:%M:%S %Z'))} in {total_s:.0f} s: {status}. "
        "Every figure on this page was measured or simulated by the commands listed below; "
        "rerun them to reproduce it.</p>",
        _steps_section(steps),
        _walkthrough_section(walkthrough),
        _loadtest_section(out_dir),
        _sim_section(out_dir),
        _sizing_section(out_dir),
        "<h2>Next</h2><ul>"
        "<li>Analyst notebooks: <code>notebooks/01-opening-day-surge.ipynb</code>, "
        "<code>02-capacity-sizing.ipynb</code>, <code>03-load-test-analysis.ipynb</code>.</li>"
        "<li>Every command takes <code>--help</code>; <code>surge --help</code> lists them.</li>"
        "</ul>",
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}{IMAGE_MARKER}</body></html>\n"
    )


def write_index(
    out_dir: Path,
    steps: Sequence[StepRecord],
    walkthrough: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Write `out_dir/index.html`; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(render_index(out_dir, steps, walkthrough), encoding="utf-8")
    return path
