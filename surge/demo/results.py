"""What the demo's steps left under its results directory, read into plain records for the page.

Each `*_section(out_dir)` reads one step's run directory (`loadtest/`, `sim/`, `size/platform/`,
`size/supply/`) and returns a frozen record of what the page shows, or a `Missing` record naming
the directory when it has no results. No markup here: cells are values, or a `Badge`, `Link` or
`Code` the template draws (`surge/demo/templates/index.html.j2`, rendered by `surge.demo.page`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Badge",
    "Code",
    "Figure",
    "LoadtestSection",
    "Link",
    "Missing",
    "PlatformSizing",
    "SimSection",
    "StepRecord",
    "SupplySizing",
    "Table",
    "loadtest_figures",
    "loadtest_section",
    "platform_sizing",
    "sim_section",
    "steps_table",
    "supply_sizing",
    "walkthrough_table",
]

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
SIM_IMAGES = {
    "timeseries.png": "The evening minute by minute: arrivals, waiting room, bookings, utilisation",
    "arrivals.png": "The scenario's arrival curve",
    "waits.png": "Waiting-room waits of sampled visitors",
}


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


@dataclass(frozen=True)
class Badge:
    """A verdict: `yes` when passed, `no` when not, "not run" when unknown (None)."""

    passed: bool | None
    yes: str = "pass"
    no: str = "fail"


@dataclass(frozen=True)
class Link:
    href: str
    text: str


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Figure:
    src: str  # relative to the page
    caption: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    return Table(tuple(headers), tuple(tuple(row) for row in rows))


@dataclass(frozen=True)
class Missing:
    """A step's directory without results: the page says so instead of failing."""

    what: str
    directory: str


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def steps_table(steps: Sequence[StepRecord]) -> Table:
    return _table(
        ["step", "command", "outcome", "exit", "seconds", "output"],
        [
            [
                s.title,
                Code(s.command),
                Badge(s.outcome == "ok", "ok", s.outcome),
                s.exit_code,
                round(s.seconds, 1),
                Link(s.log, "log"),
            ]
            for s in steps
        ],
    )


def walkthrough_table(walkthrough: Sequence[Mapping[str, Any]] | None) -> Table | None:
    if not walkthrough:
        return None
    return _table(
        ["step", "HTTP status", "what"],
        [[w.get("step"), w.get("status"), w.get("what")] for w in walkthrough],
    )


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


def _rules_table(rules: Sequence[Mapping[str, Any]]) -> Table:
    """The SLO verdict's rule records, whatever fields they carry (`passed` as the verdict)."""
    columns = list(dict.fromkeys(key for rule in rules for key in rule))
    return _table(
        ["verdict" if c == "passed" else c for c in columns],
        [[Badge(r["passed"]) if c == "passed" else r.get(c) for c in columns] for r in rules],
    )


@dataclass(frozen=True)
class LoadtestSection:
    summary: Mapping[str, Any]
    verdict: Badge
    totals: Table
    waiting_room: Mapping[str, Any] | None  # None when nobody went through the room
    routes: Table | None
    rules: Table | None
    figures: tuple[Figure, ...]


def loadtest_section(out_dir: Path) -> LoadtestSection | Missing:
    """The load test's summary; draws its figures into `out_dir/loadtest_figures/`."""
    run_dir = out_dir / "loadtest"
    summary = _read_json(run_dir / "summary.json")
    if summary is None:
        return Missing("load-test summary", "loadtest/")
    slo = summary.get("slo", {})
    total, bookings = summary.get("total", {}), summary.get("bookings", {})
    arrivals, wr = summary.get("arrivals", {}), summary.get("waiting_room", {})
    totals = _table(
        ["requests", "failures", "error rate", "bookings ok", "full", "errors", "arrivals", "late"],
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
    route_rows = [
        [
            name,
            r.get("count"),
            r.get("failures"),
            (r.get("hdr") or {}).get("p50_ms"),
            (r.get("hdr") or {}).get("p95_ms"),
            (r.get("hdr") or {}).get("p99_ms"),
        ]
        for name, r in sorted(summary.get("routes", {}).items())
    ]
    rules = slo.get("rules", [])
    figures = loadtest_figures(run_dir, out_dir / "loadtest_figures")
    return LoadtestSection(
        summary=summary,
        verdict=Badge(slo.get("passed"), "all SLOs met", "SLO breached"),
        totals=totals,
        waiting_room=wr if wr.get("admitted") else None,
        routes=_table(["route", "requests", "failures", "p50", "p95", "p99"], route_rows)
        if route_rows
        else None,
        rules=_rules_table(rules) if rules else None,
        figures=tuple(Figure(f"loadtest_figures/{name}", caption) for name, caption in figures),
    )


def _scale_of(summary: Mapping[str, Any]) -> float:
    for item in summary.get("overrides") or []:
        key, _, value = str(item).partition("=")
        if key.strip() == "scale":
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 1.0


@dataclass(frozen=True)
class SimSection:
    summary: Mapping[str, Any]
    scale: float  # the run's `scale` override; the public figures are scaled alike
    kpis: Table
    figures: tuple[Figure, ...]


def sim_section(out_dir: Path) -> SimSection | Missing:
    summary = _read_json(out_dir / "sim" / "summary.json")
    if summary is None:
        return Missing("simulation summary", "sim/")
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
    return SimSection(
        summary=summary,
        scale=scale,
        kpis=_table(["KPI", "mean", "95% CI low", "95% CI high", "public figure", "source"], rows),
        figures=tuple(
            Figure(f"sim/{name}", caption)
            for name, caption in SIM_IMAGES.items()
            if (out_dir / "sim" / name).is_file()
        ),
    )


@dataclass(frozen=True)
class PlatformSizing:
    knob: str
    targets: tuple[str, ...]
    scenario: Any
    answer: Any  # None when no knob value in the range met the targets
    evaluations: Table
    figure: Figure | None


def platform_sizing(out_dir: Path) -> PlatformSizing | Missing:
    platform = _read_json(out_dir / "size" / "platform" / "platform_sizing.json")
    if platform is None:
        return Missing("platform sizing", "size/platform/")
    knob, targets = platform.get("knob", ""), platform.get("targets", [])
    rows = []
    for row in platform.get("evaluations", []):
        cells: list[Any] = [row.get(knob)]
        for t in targets:
            cells += [row.get(t), row.get(f"{t} ci_low"), row.get(f"{t} ci_high")]
        cells.append(Badge(bool(row.get("meets_targets")), "yes", "no"))
        rows.append(cells)
    headers = [knob]
    for t in targets:
        headers += [t, "CI low", "CI high"]
    png = out_dir / "size" / "platform" / "platform_sizing.png"
    return PlatformSizing(
        knob=knob,
        targets=tuple(targets),
        scenario=platform.get("scenario"),
        answer=platform.get("answer"),
        evaluations=_table([*headers, "meets"], rows),
        figure=Figure("size/platform/platform_sizing.png", "Target KPI against the knob")
        if png.is_file()
        else None,
    )


@dataclass(frozen=True)
class SupplySizing:
    eligible: Any
    weeks: Any
    quantities: Table
    figure: Figure | None


def supply_sizing(out_dir: Path) -> SupplySizing | Missing:
    supply = _read_json(out_dir / "size" / "supply" / "supply_sizing.json")
    if supply is None:
        return Missing("supply sizing", "size/supply/")
    staff = supply.get("staff_total") or {}
    rows = [
        ["booked slots per day (dose 1 + dose 2)", supply.get("slots_per_day")],
        ["dose-2 policy", supply.get("dose2_policy")],
        ["no-show share", supply.get("no_show_share")],
        ["slots per centre per day", supply.get("slots_per_center_per_day")],
        ["centers", supply.get("centers")],
        *[[f"staff, all centres: {k}", v] for k, v in staff.items()],
    ]
    png = out_dir / "size" / "supply" / "supply_sizing.png"
    return SupplySizing(
        eligible=supply.get("eligible"),
        weeks=supply.get("weeks"),
        quantities=_table(["quantity", "value"], rows),
        figure=Figure("size/supply/supply_sizing.png", "Booked slots per campaign day")
        if png.is_file()
        else None,
    )
