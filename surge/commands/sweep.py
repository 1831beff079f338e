"""`surge sweep`: run every combination of parameter values, replicated, locally or on Dask."""

from __future__ import annotations

import argparse
from pathlib import Path

from surge.commands import types
from surge.exit_codes import EXIT_OK

HEADLINE = {
    "scenario": ["bookings", "wr_wait_p95_min", "abandonment", "peak_bookings_per_min"],
    "center": ["served", "time_in_system_min.median", "throughput_per_hour", "abandonment"],
}


def run(args: argparse.Namespace) -> int:
    from simulations import sweep

    params = [sweep.parse_param(p) for p in args.param]
    if args.scenario:
        kind, variants, model = (
            "scenario",
            sweep.scenario_variants(args.scenario, params),
            sweep.scenario_kpis,
        )
    else:
        kind, variants, model = (
            "center",
            sweep.center_variants(args.center, params),
            sweep.center_kpis,
        )
    where = (
        f"Dask at {args.dask_scheduler}"
        if args.dask_scheduler
        else f"{args.processes or 'all'} local worker(s)"
    )
    print(f"sweep: {len(variants)} combination(s) x {args.replications} replication(s) on {where}")
    result = sweep.run_sweep(
        model,
        variants,
        args.replications,
        args.seed,
        workers=args.processes,
        scheduler=args.dask_scheduler,
        progress=not args.quiet,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tidy = result.tidy()
    tidy.to_csv(out / "sweep.csv", index=False)
    result.runs.to_csv(out / "sweep_runs.csv", index=False)
    shown = tidy[tidy["kpi"].isin(HEADLINE[kind])].copy()
    shown["value"] = [
        f"{m:.4g} [{lo:.4g}, {hi:.4g}]"
        for m, lo, hi in zip(shown["mean"], shown["ci_low"], shown["ci_high"], strict=True)
    ]
    table = shown.pivot_table(
        index=result.params, columns="kpi", values="value", aggfunc="first", sort=False
    )
    print(table.to_string())
    print(
        f"wrote {out / 'sweep.csv'} (tidy: one row per combination and KPI) and {out / 'sweep_runs.csv'}"
    )
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sweep",
        help="run every combination of parameters (scenario or centre), KPIs with 95%% intervals",
        description=(
            "Sweep parameters of an opening-day scenario (--scenario) or a centre config "
            "(--center). Each --param is key=start:stop:step (stop included) or key=a,b,c; every "
            "combination runs --replications times with common random numbers, in parallel on "
            "local cores or on a Dask cluster (--dask-scheduler tcp://HOST:PORT)."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--scenario", help="scenario name or TOML file")
    source.add_argument("--center", help="centre config (TOML file or built-in name)")
    parser.add_argument("--param", action="append", required=True, help="key=start:stop:step")
    parser.add_argument("--replications", type=types.positive_int, default=5, help="default 5")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--processes",
        type=types.positive_int,
        default=None,
        metavar="N",
        help="local processes (default: all cores; 1 = in-process)",
    )
    parser.add_argument(
        "--dask-scheduler", default=None, metavar="ADDRESS", help="run on this Dask cluster"
    )
    parser.add_argument("--out", default="results/sweep", help="output directory")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
