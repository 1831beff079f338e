"""The demo's index page: one self-describing HTML file linking what `surge demo` produced.

`write_index(out_dir, steps, walkthrough)` reads the run directories the demo steps wrote under
`out_dir` (`loadtest/`, `sim/`, `size/platform/`, `size/supply/`; see `surge.demo.results`) and
writes `out_dir/index.html` with relative links and images, so the folder can be copied or served
as it is. A section whose directory is missing says so instead of failing: the page also
documents a demo that broke.

The layout is the Jinja2 template `templates/index.html.j2`, autoescaped. Load-test figures are
drawn from the run directory with `loadtests.reports.plots` (the report's own plotting functions;
no Locust import). A small script marks `<body>` with how many images loaded
(`data-images-loaded` / `data-images-total`), which the browser test reads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from surge.demo import results
from surge.demo.results import StepRecord, loadtest_figures

__all__ = ["StepRecord", "loadtest_figures", "render_index", "write_index"]


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
    return str(value)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("surge.demo", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _num
    env.tests["numeric"] = lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    env.tests["badge"] = lambda v: isinstance(v, results.Badge)
    env.tests["link"] = lambda v: isinstance(v, results.Link)
    env.tests["code"] = lambda v: isinstance(v, results.Code)
    env.tests["missing"] = lambda v: isinstance(v, results.Missing)
    return env


def render_index(
    out_dir: Path,
    steps: Sequence[StepRecord],
    walkthrough: Sequence[Mapping[str, Any]] | None = None,
    title: str = "Surge demo",
) -> str:
    """The page as a string (drawing the load-test figures into `out_dir` on the way)."""
    return (
        _environment()
        .get_template("index.html.j2")
        .render(
            title=title,
            generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            total_s=sum(s.seconds for s in steps),
            failed=[s.title for s in steps if s.outcome not in ("ok", "SLO breached")],
            steps=results.steps_table(steps),
            walkthrough=results.walkthrough_table(walkthrough),
            loadtest=results.loadtest_section(out_dir),
            sim=results.sim_section(out_dir),
            platform=results.platform_sizing(out_dir),
            supply=results.supply_sizing(out_dir),
        )
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
