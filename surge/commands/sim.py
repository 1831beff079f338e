"""`surge sim run|scenarios|center|validate`: the SimPy models (national opening day, a
vaccination centre's day, and the model's check against exact queueing theory)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from surge.commands import types
from surge.errors import UsageError
from surge.exit_codes import EXIT_OK, EXIT_SLO_BREACHED


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "sim",
        help="simulate national opening days and vaccination centres (SimPy)",
        description="Simulate national opening days and vaccination centres (SimPy).",
    )
    group.set_defaults(help_parser=group)
    sim_sub = group.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")

    run = sim_sub.add_parser(
        "run",
        help="simulate an opening day and write summary.json, timeseries.csv and plots",
        description="Simulate a scenario (built-in name or TOML file) with SimPy.",
    )
    run.add_argument("--scenario", required=True, help="built-in name or path to a TOML file")
    run.add_argument(
        "--replications", type=types.positive_int, default=1, help="independent runs (default 1)"
    )
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
    run.set_defaults(func=_run)

    scenarios = sim_sub.add_parser("scenarios", help="list the built-in scenarios")
    scenarios.set_defaults(func=_scenarios)

    parser = sim_sub.add_parser(
        "center",
        help="simulate a vaccination centre day (TOML config or built-in name)",
        description=(
            "Simulate patients through a vaccination centre's stations. --center is a TOML file "
            "or a built-in centre: mass-hub, berlin-messe, gp-practice, drive-through, "
            "hanly-medium-hub, mmc-desk. Writes "
            "summary.json (means and 95%% intervals), replications.csv and queue_lengths.png."
        ),
    )
    parser.add_argument("--center", required=True, help="centre config: TOML file or built-in name")
    parser.add_argument("--replications", type=types.positive_int, default=10, help="default 10")
    parser.add_argument("--seed", type=int, default=1, help="root seed (default 1)")
    parser.add_argument("--out", default="results/center", help="output directory")
    parser.set_defaults(func=_center)

    validate = sim_sub.add_parser(
        "validate",
        help="check the model against Erlang C, Erlang A, M/M/c/K, M/M/1 retrial, Little's law",
        description=(
            "Simulate configurations with exact answers over >= 10 replications and print "
            "simulated vs exact with confidence intervals, Bonferroni-adjusted so that all checks "
            "together hold at 95%%. Exit 0 only when every exact value lies in its interval (or "
            "within 2%% of the simulated mean)."
        ),
    )
    validate.add_argument("--quick", action="store_true", help="shorter runs (wider intervals)")
    validate.add_argument(
        "--replications", type=types.positive_int, default=10, help="per model (>= 10)"
    )
    validate.add_argument("--seed", type=int, default=2021)
    validate.set_defaults(func=_validate)


def _scenarios(args: argparse.Namespace) -> int:
    from simulations.scenario.scenario import list_scenarios, load_scenario

    for name in list_scenarios():
        print(f"{name:28s} {load_scenario(name).description}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from simulations.national.outputs import kpi_table, replicate_opening_day, write_run_outputs
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    out = args.out or Path("results") / "sim" / scenario.name
    reps = replicate_opening_day(scenario, args.replications, args.seed)
    written = write_run_outputs(
        scenario,
        reps,
        out,
        seed=args.seed,
        overrides=args.overrides,
        command="surge " + " ".join(sys.argv[1:]) if sys.argv else "",
        plots=not args.no_plots,
    )
    print("\n".join(kpi_table(scenario.name, reps)))
    print(f"wrote {out}/" + ", ".join(written))
    return EXIT_OK


def _center(args: argparse.Namespace) -> int:
    from simulations.center.config import load_center
    from simulations.center.report import run_center_replications, write_center_outputs

    config = load_center(args.center)
    reps = run_center_replications(config, args.replications, args.seed)
    doc = write_center_outputs(reps, Path(args.out))
    interval = "ci95" in doc
    print(f"{config.name}: {args.replications} replication(s), seed {args.seed}")
    for key in ("arrived", "no_shows", "served", "abandoned", "throughput_per_hour"):
        line = f"  {key:<22} {doc[key]:>10.1f}"
        if interval:
            low, high = doc["ci95"][key]
            line += f"   [{low:.1f}, {high:.1f}]"
        print(line)
    tis = {k: "-" if v is None else f"{v:.1f}" for k, v in doc["time_in_system_min"].items()}
    print(f"  time in system (min)   mean {tis['mean']}  median {tis['median']}  p90 {tis['p90']}")
    print(
        f"  overtime (min)         {doc['overtime_min']:.1f}   inside at closing "
        f"{doc['inside_at_closing']:.1f}   turned away {doc['turned_away']:.1f}"
    )
    print(
        f"  staff-hours            rostered {doc['staff_hours_rostered']:.1f}   overtime "
        f"{doc['staff_hours_overtime']:.1f}   busy {doc['staff_hours_busy']:.1f}"
    )
    print(
        f"  {'station':<16}{'servers':>9}{'offered':>9}{'busy':>7}{'wait':>7}{'P(wait)':>9}"
        f"{'blocked':>9}  note"
    )
    for name, s in doc["stations"].items():
        offered = "-" if s["utilisation_offered"] is None else f"{s['utilisation_offered']:.2f}"
        busy = "-" if s["utilisation_busy"] is None else f"{s['utilisation_busy']:.2f}"
        note = "bottleneck" if s["bottleneck"] else ""
        if "capacity" in s:
            note = f"{s['capacity']} places {note}"
        print(
            f"  {name:<16}{s['servers']!s:>9}{offered:>9}{busy:>7}"
            f"{s['mean_wait_min']:>7.1f}{s['p_wait']:>9.2f}{s['blocked_min']:>9.1f}  {note}"
        )
    if doc["stranded"]:
        kind = "deadlock (patients block each other)" if doc["deadlock"] else "no server left"
        print(f"WARNING: {doc['stranded']:.1f} patients a day stranded inside: {kind}")
    print(f"wrote {args.out}/summary.json, replications.csv, queue_lengths.png")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    if args.replications < 10:
        raise UsageError(f"--replications must be >= 10 (got {args.replications})")
    from simulations.validation import checks_frame, validate

    checks = validate(
        quick=args.quick, replications=args.replications, seed=args.seed, progress=True
    )
    frame = checks_frame(checks)
    level = f"{100 * frame['level'].iloc[0]:.2f}% CI"
    print(
        f"{len(frame)} simultaneous checks, {args.replications} replications each: "
        f"Bonferroni intervals at {level} per check (95% for the family)"
    )
    print(f"{'model':44s} {'metric':12s} {'exact':>10s} {'simulated':>10s} {level:>23s}  ok")
    for row in frame.itertuples():
        interval = f"[{row.ci_low:.5g}, {row.ci_high:.5g}]"
        mark = "yes" if row.passed else "NO"
        print(
            f"{row.model:44s} {row.metric:12s} {row.exact:10.5g} {row.simulated:10.5g} "
            f"{interval:>23s}  {mark}"
        )
    failed = int((~frame["passed"]).sum())
    print(f"{len(frame) - failed}/{len(frame)} checks passed")
    return EXIT_OK if failed == 0 else EXIT_SLO_BREACHED
