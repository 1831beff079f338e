"""`surge size center|platform|supply`: capacity sizing answers, each with a table and files."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from surge.commands import types
from surge.errors import UsageError
from surge.exit_codes import EXIT_OK, EXIT_SLO_BREACHED, EXIT_UNDECIDED

if TYPE_CHECKING:
    from simulations.center.config import CenterConfig
    from simulations.sizing.center import Target

# Targets out of reach within the searched range: every size evaluated breaches them (exit 1).
EXIT_UNREACHABLE = EXIT_SLO_BREACHED


def _fmt(value: float) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"
    )


def _costs(items: list[str]) -> dict[str, float]:
    costs = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            costs[name] = float(value)
        except ValueError:
            raise UsageError(f"--cost: expected station=number, got {item!r}") from None
        if not math.isfinite(costs[name]) or costs[name] < 0:
            raise UsageError(f"--cost: cost must be a non-negative number, got {item!r}")
    return costs


def run_roster(args: argparse.Namespace, config: CenterConfig, targets: list[Target]) -> int:
    from simulations.sizing.outputs import write_roster_sizing
    from simulations.sizing.roster import size_roster

    result = size_roster(
        config,
        targets,
        period_min=args.shift_min,
        costs=_costs(args.cost),
        replications=args.replications,
        seed=args.seed,
        alpha=args.alpha,
        max_evaluations=args.max_evaluations,
        max_servers=args.max_servers,
    )
    doc = write_roster_sizing(result, config.name, Path(args.out))
    print(
        f"{config.name}: roster sizing, {len(result.periods_min)} period(s), targets "
        f"{', '.join(map(str, targets))}; intervals at {result.confidence:.5f} "
        f"(Bonferroni over {args.max_evaluations} candidates), {len(result.evaluations)} evaluated"
    )
    wrote = f"wrote {args.out}/roster_sizing.csv, .json"
    if result.budget_exhausted:
        print(f"UNDECIDED: --max-evaluations {args.max_evaluations} reached before an answer")
        print(wrote)
        return EXIT_UNDECIDED
    if result.roster is None:
        print(f"NOT REACHABLE within --max-servers {args.max_servers} per station and period")
        print(wrote)
        return EXIT_UNREACHABLE
    periods = "  ".join(f"{a:g}-{b:g}" for a, b in result.periods_min)
    print(f"  {'station':<16}{periods}  (minutes; the last count also covers overtime)")
    for name, counts in result.roster.items():
        print(
            f"  {name:<16}"
            + "  ".join(f"{c:>{len(p)}}" for c, p in zip(counts, periods.split("  "), strict=True))
        )
    print(f"  cost {doc['cost']:.1f} (staff-hours x cost per role), found by {result.method}")
    for target, (mean, low, high) in result.intervals.items():
        print(f"  {target}: {mean:.4g} [{low:.4g}, {high:.4g}]")
    print(f"  local optimality: all {len(result.certificate)} single removals fail a target")
    print(wrote)
    return 0


def run_center(args: argparse.Namespace) -> int:
    from simulations.center.config import load_center
    from simulations.sizing.center import parse_target, size_center
    from simulations.sizing.outputs import write_center_sizing

    config = load_center(args.center)
    targets = [parse_target(t) for t in args.target]
    if args.method == "roster":
        return run_roster(args, config, targets)
    result = size_center(
        config,
        targets,
        replications=args.replications,
        seed=args.seed,
        max_servers=args.max_servers,
        method=args.method,
    )
    doc = write_center_sizing(result, config.name, Path(args.out))
    print(f"{config.name}: sizing by {result.method}, targets {', '.join(map(str, targets))}")
    station_columns = [
        k for k in (result.evaluations[0] if result.evaluations else {}) if k.startswith("servers.")
    ]
    header = "  ".join(c.removeprefix("servers.") for c in station_columns)
    print(f"  {header}  | " + " | ".join(str(t) for t in targets) + " | meets")
    for row in result.evaluations:
        cells = "  ".join(f"{row[c]:>{len(c) - 8}}" for c in station_columns)
        values = []
        for t in targets:
            text = _fmt(row[str(t)])
            if f"{t} ci_low" in row and not math.isnan(row[f"{t} ci_low"]):
                text += f" [{_fmt(row[f'{t} ci_low'])}, {_fmt(row[f'{t} ci_high'])}]"
            values.append(text)
        print(
            f"  {cells}  | " + " | ".join(values) + f" | {'yes' if row['meets_targets'] else 'no'}"
        )
    if not result.reachable:
        print(f"NOT REACHABLE within --max-servers {args.max_servers} per station")
        print(f"wrote {args.out}/center_sizing.csv, .json, .png")
        return EXIT_UNREACHABLE
    staffing = ", ".join(f"{k}={v}" for k, v in result.servers.items())
    print(f"answer: {staffing} (total {doc['total_servers']})")
    print(f"wrote {args.out}/center_sizing.csv, .json, .png")
    return EXIT_OK


def _table(frame, knob: str, targets) -> None:
    print(f"  {knob:>30} | " + " | ".join(str(t) for t in targets) + " | meets")
    for _, row in frame.iterrows():
        cells = [
            f"{_fmt(row[str(t)])} [{_fmt(row[f'{t} ci_low'])}, {_fmt(row[f'{t} ci_high'])}]"
            for t in targets
        ]
        meets = "yes" if row["meets_targets"] else "no"
        print(f"  {row[knob]:>30.6g} | " + " | ".join(cells) + f" | {meets}")


def _interval(row: dict, name: str) -> str:
    return f"{_fmt(row[name])} [{_fmt(row[f'{name} ci_low'])}, {_fmt(row[f'{name} ci_high'])}]"


def run_calibrated(args: argparse.Namespace) -> int:
    from simulations.sizing.calibrated import size_calibrated
    from simulations.sizing.outputs import write_calibrated_sizing

    for flag, value in (("--knob", args.knob), ("--target", args.target), ("--range", args.range)):
        if value:
            raise UsageError(f"{flag} does not go with --profile (the targets come from [slo])")
    result = size_calibrated(
        args.scenario,
        args.profile,
        rate_range=args.rate_range,
        workers_range=args.workers_range,
        points=args.points,
        refine=args.refine,
        replications=args.replications,
        seed=args.seed,
        processes=args.processes,
        progress=not args.quiet,
        overrides=args.overrides,
    )
    write_calibrated_sizing(result, Path(args.out))
    print(f"{result.scenario} on the platform of {args.profile} (numbered line)")
    print(f"  targets: {', '.join(map(str, result.targets))}")
    print(f"  ({args.replications} replications per value, common random numbers, 95% intervals)")
    wrote = f"wrote {args.out}/calibrated_sizing.csv, .json"
    if not result.reachable:
        step = result.admission if result.admission_rate is None else result.workers
        evaluated = step.frame()[step.knob]
        which = "the waiting-room targets" if step is result.admission else "every target"
        print(f"NOT REACHABLE: no {step.knob} in {evaluated.min():g}..{evaluated.max():g} "
              f"meets {which}")  # fmt: skip
        print(wrote)
        return EXIT_UNREACHABLE
    row = result.answer_row
    mean, low, high = result.connections_interval

    def bracket(sizing) -> str:  # the largest value evaluated under the answer that failed
        below = result.failing_below(sizing)
        return "" if below is None else f" ({below:g} failed)"

    rows = [
        ("admission rate (visitors/s)", f"{result.admission_rate:g}{bracket(result.admission)}"),
        ("app workers (one core each)", f"{result.web_workers}{bracket(result.workers)}"),
        (
            "DB connections",
            f"{result.db_connections} ({result.db_connections // result.web_workers} per worker;"
            f" requests in the app at the busiest minute {_fmt(mean)} [{_fmt(low)}, {_fmt(high)}])",
        ),
    ]
    rows += [(f"  {t}", _interval(row, str(t))) for t in result.targets]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    print(wrote)
    return EXIT_OK if row.get("meets_targets") else EXIT_UNREACHABLE


def run_platform(args: argparse.Namespace) -> int:
    from simulations.sizing.center import parse_target
    from simulations.sizing.outputs import write_platform_sizing
    from simulations.sizing.platform import size_platform

    if args.profile:
        return run_calibrated(args)
    if not args.knob or not args.target:
        raise UsageError("surge size platform needs --knob and --target (or --profile)")
    targets = [parse_target(t) for t in args.target]
    low, high = args.range if args.range else (None, None)
    result = size_platform(
        args.scenario,
        targets,
        args.knob,
        low,
        high,
        points=args.points,
        refine=args.refine,
        replications=args.replications,
        seed=args.seed,
        workers=args.processes,
        progress=not args.quiet,
    )
    write_platform_sizing(result, Path(args.out))
    print(f"{result.scenario}: smallest {args.knob} meeting {', '.join(map(str, targets))}")
    print(f"  ({args.replications} replications per value, common random numbers, 95% intervals)")
    _table(result.frame(), args.knob, targets)
    print(f"wrote {args.out}/platform_sizing.csv, .json, .png")
    if result.answer is None:
        evaluated = result.frame()[args.knob]
        print(f"NOT REACHABLE within {evaluated.min():g}..{evaluated.max():g}")
        return EXIT_UNREACHABLE
    print(f"answer: {args.knob} = {result.answer:g}")
    return EXIT_OK


def run_supply(args: argparse.Namespace) -> int:
    from simulations.sizing.outputs import write_supply_sizing
    from simulations.sizing.supply import size_scenario_supply

    doc, plan = size_scenario_supply(args.scenario, args.weeks, args.center, args.dose2)
    out = Path(args.out)
    write_supply_sizing(doc, plan.daily, out)
    print(
        f"{doc['scenario']}: {doc['eligible']:,} eligible, fully vaccinated in {args.weeks:g} weeks "
        f"(no-show {doc['no_show_share']:.1%}, dose 2 {plan.dose2})"
    )
    rows = [
        ("booked slots per day (dose 1 + dose 2)", f"{plan.slots_per_day:,}"),
        (
            "  of which dose 1: total / peak day",
            f"{doc['dose1_slots_total']:,.0f} / {doc['dose1_slots_per_day_peak']:,.0f}",
        ),
        (
            "  of which dose 2: total / peak day",
            f"{doc['dose2_slots_total']:,.0f} / {doc['dose2_slots_per_day_peak']:,.0f}",
        ),
        (
            "slots per day by dose-2 policy",
            ", ".join(f"{k} {v:,}" for k, v in plan.by_policy.items()),
        ),
        (
            f"per centre per day ({doc['centers']} centres)",
            f"{plan.slots_per_center_per_day:,.0f} (scenario has {doc['scenario_slots_per_center_per_day']:,.0f})",
        ),
        (
            f"staff per centre (scaled from {doc['staff_reference_center']})",
            ", ".join(f"{k} {v}" for k, v in doc["staff_per_center"].items()),
        ),
        ("staff, all centres", ", ".join(f"{k} {v:,}" for k, v in doc["staff_total"].items())),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    print(f"wrote {out}/supply_sizing.json, supply_daily.csv, supply_sizing.png")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "size", help="capacity sizing: centre staff, platform knobs, national supply"
    )
    parser.set_defaults(help_parser=parser)
    size_sub = parser.add_subparsers(dest="size_command", metavar="SUBCOMMAND")

    center = size_sub.add_parser(
        "center",
        help="fewest servers per station meeting targets",
        description=(
            "Fewest servers per station meeting every --target (e.g. 'median_time_min<=60', "
            "'p_wait<=0.2', 'vaccination.mean_wait_min<=5', 'p_wait_over_5<=0.1'). A single "
            "M/M/c station with wait targets is sized exactly by Erlang C; anything else by "
            "simulation with common random numbers, a candidate passing only when the 95%% "
            "interval of every target metric is on the right side. Exit 1 if not reachable."
        ),
    )
    center.add_argument("--center", required=True, help="centre config: TOML file or built-in name")
    center.add_argument(
        "--target", action="append", required=True, help="metric<=value or metric>=value"
    )
    center.add_argument("--replications", type=types.positive_int, default=10)
    center.add_argument("--seed", type=int, default=1)
    center.add_argument(
        "--max-servers", type=types.positive_int, default=200, help="per station (default 200)"
    )
    center.add_argument(
        "--method",
        choices=("auto", "exact", "simulate", "roster"),
        default="auto",
        help="roster: cheapest roster (servers per station per --shift-min period) by cost",
    )
    center.add_argument(
        "--shift-min", type=float, default=0.0, help="roster period in minutes (0: whole day)"
    )
    center.add_argument(
        "--cost", action="append", default=[], help="station=cost per staff-hour (default 1)"
    )
    center.add_argument("--alpha", type=float, default=0.05, help="family-wise error (roster)")
    center.add_argument(
        "--max-evaluations", type=types.positive_int, default=200, help="roster search budget"
    )
    center.add_argument("--out", default="results/size/center")
    center.set_defaults(func=run_center)

    platform = size_sub.add_parser(
        "platform",
        help="smallest value of a scenario knob meeting opening-day targets",
        description=(
            "Smallest value of --knob (a numeric scenario key) for which every --target holds "
            "on the opening-day model (e.g. 'waiting_room_p95_min<=15', 'abandonment<=0.02'; any "
            "KPI name of `surge sim`). A grid of --points values over --range (default: a "
            "quarter to four times the scenario's value), then --refine bisection steps, all "
            "with the same seeds; a value passes when every 95%% interval is on the right side. "
            "With --profile (a profile TOML written by `surge calibrate`): the admission rate, "
            "app workers and DB connections the scenario needs on the calibrated platform, "
            "for the targets of its [slo] (booking p95, error rate, waiting-room waits, "
            "abandonment), with the app's numbered waiting-room line."
        ),
    )
    platform.add_argument("--scenario", required=True)
    platform.add_argument("--target", action="append", default=[])
    platform.add_argument("--knob", default=None, help="e.g. platform.admission_rate_per_s")
    platform.add_argument(
        "--profile", default=None, metavar="P", help="calibrated profile TOML: size from it"
    )
    platform.add_argument(
        "--rate-range", type=types.range_pair, default=None, metavar="LO:HI",
        help="--profile: admission rates searched (default: a quarter to four times the scenario's)",
    )  # fmt: skip
    platform.add_argument(
        "--workers-range", type=types.range_pair, default=None, metavar="LO:HI",
        help="--profile: app workers searched (default: 1 to 3 x the work at the rate found)",
    )  # fmt: skip
    platform.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="--profile: scenario override applied after the profile (repeatable)",
    )  # fmt: skip
    platform.add_argument("--range", type=types.range_pair, default=None, metavar="LO:HI")
    platform.add_argument("--points", type=types.positive_int, default=6)
    platform.add_argument("--refine", type=types.non_negative_int, default=3)
    platform.add_argument("--replications", type=types.positive_int, default=5)
    platform.add_argument("--seed", type=int, default=1)
    platform.add_argument(
        "--processes",
        type=types.positive_int,
        default=None,
        metavar="N",
        help="local processes (default: all cores; 1 = in-process)",
    )
    platform.add_argument("--quiet", action="store_true")
    platform.add_argument("--out", default="results/size/platform")
    platform.set_defaults(func=run_platform)

    supply = size_sub.add_parser(
        "supply",
        help="slots per day to fully vaccinate the eligible cohort in N weeks",
        description=(
            "Slots per day (dose 1 and dose 2, with the scenario's no-shows, vaccine mix and "
            "dose-2 windows) needed to give the eligible population all doses within --weeks, "
            "and the centre staff it implies, scaled from a reference centre config."
        ),
    )
    supply.add_argument("--scenario", required=True)
    supply.add_argument("--weeks", type=types.positive_float, required=True)
    supply.add_argument(
        "--center", default="mass-hub", help="reference centre for staff (default mass-hub)"
    )
    supply.add_argument(
        "--dose2",
        choices=("planned", "earliest"),
        default=None,
        help="default: whichever needs fewer slots",
    )
    supply.add_argument("--out", default="results/size/supply")
    supply.set_defaults(func=run_supply)
