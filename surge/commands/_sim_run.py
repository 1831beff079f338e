"""`surge sim run` and `surge sim scenarios`: the national opening-day model from the CLI."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

KPI_TABLE = (
    "visitors",
    "visitors_max_15min",
    "bookings",
    "peak_bookings_per_min",
    "wr_wait_p50_min",
    "wr_wait_p95_min",
    "wr_wait_max_min",
    "wr_wait_peak_min",
    "abandonment",
    "sellout_min",
    "web_utilisation_peak",
    "db_utilisation_peak",
    "request_error_rate",
    "booking_success",
    "littles_law_gap",
    "lost_visitors",
)


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="simulate an opening day and write summary.json, timeseries.csv and plots",
        description="Simulate a scenario (built-in name or TOML file) with SimPy.",
    )
    run.add_argument("--scenario", required=True, help="built-in name or path to a TOML file")
    run.add_argument("--replications", type=int, default=1, help="independent runs (default 1)")
    run.add_argument("--seed", type=int, default=2021, help="root seed (default 2021)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key, e.g. platform.admission_rate_per_s=500 (repeatable)",
    )
    run.add_argument("--out", type=Path, help="output directory (default results/sim/<name>)")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    run.set_defaults(func=run_command)

    scenarios = sub.add_parser("scenarios", help="list the built-in scenarios")
    scenarios.set_defaults(func=scenarios_command)


def scenarios_command(args: argparse.Namespace) -> int:
    from simulations.scenario.scenario import list_scenarios, load_scenario

    for name in list_scenarios():
        print(f"{name:28s} {load_scenario(name).description}")
    return 0


def run_command(args: argparse.Namespace) -> int:
    from simulations.scenario.scenario import load_scenario

    if args.replications < 1:
        raise ValueError(f"--replications must be >= 1 (got {args.replications})")
    scenario = load_scenario(args.scenario, args.overrides)
    out = args.out or Path("results") / "sim" / scenario.name
    out.mkdir(parents=True, exist_ok=True)

    from simulations.national.opening_day import run_replications, simulate

    long_run = scenario.duration_min * scenario.scale >= 120
    if args.replications == 1:
        import numpy as np

        from simulations.replications import Replications

        run = simulate(scenario, np.random.SeedSequence(args.seed).spawn(1)[0], progress=long_run)
        reps = Replications(kpis=_frame([run.kpis]), runs=[run])
    else:
        reps = run_replications(scenario, args.replications, args.seed, progress=True)
    summary = reps.summary()
    first = reps.runs[0]
    first.timeseries.to_csv(out / "timeseries.csv", index=False)
    first.visitors.to_csv(out / "visitors.csv", index=False)
    reps.kpis.to_csv(out / "kpis.csv")
    document = {
        "scenario": scenario.name,
        "seed": args.seed,
        "replications": args.replications,
        "overrides": list(args.overrides),
        "command": "surge " + " ".join(sys.argv[1:]) if sys.argv else "",
        "kpis": {
            name: {key: _json_number(row[key]) for key in ("mean", "ci_low", "ci_high")}
            for name, row in summary.iterrows()
        },
    }
    (out / "summary.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if not args.no_plots:
        from simulations.national.plots import save_run_plots

        save_run_plots(scenario, first.timeseries, first.visitors, out)
    _print_table(scenario.name, summary, args.replications)
    print(
        f"wrote {out}/summary.json, timeseries.csv, kpis.csv, visitors.csv"
        + ("" if args.no_plots else ", *.png")
    )
    return 0


def _frame(rows):
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame.index.name = "replication"
    return frame


def _json_number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _print_table(name: str, summary, replications: int) -> None:
    print(f"{name}: {replications} replication(s), 95% CI over replications")
    print(f"{'kpi':26s} {'mean':>14s} {'ci_low':>14s} {'ci_high':>14s}")
    for kpi in KPI_TABLE:
        if kpi not in summary.index:
            continue
        row = summary.loc[kpi]
        cells = " ".join(f"{_fmt(row[c]):>14s}" for c in ("mean", "ci_low", "ci_high"))
        print(f"{kpi:26s} {cells}")


def _fmt(value: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"
