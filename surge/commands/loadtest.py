"""`surge loadtest run|compare`: Locust surges against the booking API, SLO gates, reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from surge.cli import UsageError

RULE_NAMES = (
    "default",
    "shared",
)  # loadtests.verdicts.compare.RULES (not imported: keeps --help fast)
EPILOG = "exit codes: 0 pass, 1 SLO breached, 2 bad usage or config, 3 regression vs baseline"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: must be > 0")
    return value


def _number(text: str | None, option: str, kind: type = float) -> float | None:
    """Parse a numeric option here rather than in argparse: bad values give one line, exit 2."""
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"invalid {option} {text!r}: not a number") from None
    if not value > 0 or value == float("inf"):
        raise UsageError(f"invalid {option} {text!r}: must be a positive number")
    return value


def _workers(text: str | None) -> int:
    """--workers: Locust worker processes, 0 (the default) for one local process."""
    return 0 if text in (None, "0") else int(_number(text, "--workers", int))


def _rate_or_off(text: str | None) -> float | None:
    """--waiting-room-rate: admissions/s, 0 for off (None: the scenario decides)."""
    if text is None or text.strip() in ("0", "0.0", "off"):
        return None if text is None else 0.0
    return _number(text, "--waiting-room-rate")


def _scrape_targets(urls: list[str] | None) -> tuple[str, ...]:
    from loadtests.scrape import check_target

    try:
        return tuple(check_target(url) for url in urls or ())
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    from loadtests.orchestrate import run_loadtest
    from loadtests.plan import RunOptions

    workers = _workers(args.workers)

    options = RunOptions(
        scenario=args.scenario,
        out_dir=Path(args.out),
        host=args.host,
        start_app=args.start_app,
        duration=args.duration,
        users=_number(args.users, "--users", int),
        rate=_number(args.rate, "--rate"),
        scale=_number(args.scale, "--scale"),
        compress=_number(args.compress, "--compress"),
        shape=args.shape,
        levels=args.levels,
        hold=args.hold,
        workers=workers,
        baseline=Path(args.baseline) if args.baseline else None,
        compare_rule=args.compare_rule,
        db=args.db,
        seed=args.seed,
        overrides=tuple(args.set or ()),
        waiting_room_rate=_rate_or_off(args.waiting_room_rate),
        pin=args.pin,
        scrape=_scrape_targets(args.scrape),
    )
    return run_loadtest(options, echo=lambda line: print(line, file=sys.stderr))


def _overload(args: argparse.Namespace) -> int:
    from loadtests.overload import OverloadOptions, describe, run_overload

    options = OverloadOptions(
        scenario=args.scenario,
        out_dir=Path(args.out),
        host=args.host,
        start_app=args.start_app,
        db=args.db,
        multiple=_number(args.multiple, "--multiple"),
        admission_share=_number(args.admission_share, "--admission-share"),
        duration=args.duration,
        capacity_users=int(_number(args.capacity_users, "--capacity-users", int)),
        capacity_duration=args.capacity_duration,
        workers=_workers(args.workers),
        seed=args.seed,
        overrides=tuple(args.set or ()),
    )
    result = run_overload(options, echo=lambda line: print(line, file=sys.stderr))
    for line in describe(result):
        print(line)
    print(f"written: {Path(args.out) / 'overload.json'}", file=sys.stderr)
    return 0 if result["verdict"]["passed"] else 1


def _compare(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from loadtests.orchestrate import EXIT_PASS, EXIT_REGRESSION, compare_dirs
    from loadtests.verdicts.compare import named_rule

    for path in (args.run, args.baseline):
        if not Path(path).is_dir():
            raise UsageError(f"{path} is not a directory")
    rule = named_rule(args.rule)
    if args.min_ratio is not None:
        rule = replace(rule, min_ratio=args.min_ratio)
    if args.alpha is not None:
        rule = replace(rule, alpha=args.alpha)
    result = compare_dirs(Path(args.run), Path(args.baseline), rule)
    for c in result["routes"]:
        ratio = f"x{c['p50_ratio']:.2f}" if c["p50_ratio"] else "-"
        print(
            f"{c['route']:<22} n={c['run_count']:>6}/{c['baseline_count']:<6} "
            f"p50 {c['run_p50_ms'] or 0:8.1f} vs {c['baseline_p50_ms'] or 0:8.1f} ms {ratio:>6}  "
            f"{c['verdict']}: {c['reason']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    print("REGRESSION" if result["regression"] else "no regression", file=sys.stderr)
    return EXIT_REGRESSION if result["regression"] else EXIT_PASS


def _baseline(args: argparse.Namespace) -> int:
    from loadtests.orchestrate import make_baseline

    target = make_baseline(Path(args.run), Path(args.baseline))
    print(f"baseline written to {target}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "loadtest",
        help="Locust surges against the booking API: SLO gates, reports, baselines",
        description="Run Locust surges against the booking API (or any compatible deployment).",
    )
    group.set_defaults(help_parser=group)
    lt = group.add_subparsers(dest="loadtest_command", metavar="SUBCOMMAND")

    run = lt.add_parser(
        "run",
        help="run a load test and judge it against the scenario's SLOs",
        description=(
            "Run a load test: --users N (closed model: a pool of users), --rate R (open model: "
            "Poisson arrivals/s), or neither (replay the scenario's arrival curve, scaled by "
            "--scale and time-compressed by --compress). Writes Locust CSVs, requests.csv, "
            "summary.json and report.html to --out."
        ),
        epilog=EPILOG,
    )
    run.add_argument("--scenario", required=True, help="built-in scenario name or TOML file")
    target = run.add_mutually_exclusive_group(required=True)
    target.add_argument("--host", help="base URL of a running app, e.g. http://127.0.0.1:8000")
    target.add_argument(
        "--start-app",
        choices=["sqlite", "postgresql"],
        help="seed and serve the reference app for this run (stopped after)",
    )
    run.add_argument("--out", required=True, metavar="DIR", help="run directory")
    run.add_argument("--duration", help="run length, e.g. 90s, 2m (default 60s; replay: full)")
    load = run.add_mutually_exclusive_group()
    load.add_argument("--users", help="closed model: peak concurrent patients")
    load.add_argument("--rate", help="open model: peak arrivals/s")
    run.add_argument("--scale", default="0.0005",
                     help="replay: visitors per real visitor (default 0.0005)")  # fmt: skip
    run.add_argument("--compress", default="60",
                     help="replay: real seconds per wall second (default 60)")  # fmt: skip
    run.add_argument(
        "--shape",
        choices=["ramp", "step", "steps", "spike", "soak", "replay"],
        help="load shape (default: ramp with --users, soak with --rate, else replay)",
    )
    run.add_argument("--levels", help="--shape steps: levels, e.g. 5,10,20,40")
    run.add_argument("--hold", help="--shape steps: time per level, e.g. 30s (default 30s)")
    run.add_argument("--workers", default="0",
                     help="Locust distributed mode: a master and N worker processes")  # fmt: skip
    run.add_argument("--baseline", metavar="DIR", help="compare with this run/baseline directory")
    run.add_argument("--compare-rule", choices=RULE_NAMES, default="default",
                     help="baseline comparison rule: default, or shared (noise-tolerant, for a "
                     "busy shared machine such as CI: x2.5 relative, x5 absolute)")  # fmt: skip
    run.add_argument("--db", metavar="URL", help="--start-app postgresql: server to create a db on")
    run.add_argument("--seed", type=int, help="seed of the load generator and of the app data")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a scenario key, e.g. --set slo.error_rate_max=0.05")  # fmt: skip
    run.add_argument("--waiting-room-rate", metavar="R",
                     help="waiting room admitting R visitors/s (0 or off: no room); default: "
                     "the scenario's, scaled, on a replay; off otherwise")  # fmt: skip
    run.add_argument("--no-pin", dest="pin", action="store_false",
                     help="--start-app: do not pin Locust and the app/database to separate cores")  # fmt: skip
    run.add_argument("--scrape", action="append", metavar="URL",
                     help="scrape this Prometheus/OpenMetrics endpoint once a second into "
                     "scrape.csv (repeatable; a started app's /metrics always is)")  # fmt: skip
    run.set_defaults(func=_run)

    overload = lt.add_parser(
        "overload",
        help="the app at N x its capacity, with and without the waiting room (exit 1 if the "
        "admitted visitors miss the SLO)",
        description=(
            "Three runs: capacity (a closed pool of back-to-back patients, no waiting room), "
            "then Poisson arrivals at --multiple x capacity for --duration with the waiting room "
            "admitting --admission-share x capacity, then the same arrivals without the room. "
            "Passes when the admitted visitors' booking p99 and queue-join p99 meet the "
            "scenario's SLO, errors stay within its budget, memory growth stays under 200 MB and "
            "invariants are 0. Writes DIR/overload.json and one run directory per phase."
        ),
        epilog="exit codes: 0 held, 1 not held, 2 bad usage or config",
    )
    overload.add_argument("--scenario", required=True, help="built-in scenario name or TOML file")
    where = overload.add_mutually_exclusive_group(required=True)
    where.add_argument("--host", help="base URL of a running app (admin key in SURGE_ADMIN_KEY)")
    where.add_argument("--start-app", choices=["sqlite", "postgresql"],
                       help="seed and serve a fresh reference app for each phase")  # fmt: skip
    overload.add_argument("--out", required=True, metavar="DIR", help="output directory")
    overload.add_argument("--multiple", default="5", help="offered load / capacity (default 5)")
    overload.add_argument("--admission-share", default="0.5",
                          help="room admission rate / capacity (default 0.5)")  # fmt: skip
    overload.add_argument("--duration", default="30s", help="each overload run (default 30s)")
    overload.add_argument("--capacity-users", default="8",
                          help="back-to-back patients of the capacity run (default 8)")  # fmt: skip
    overload.add_argument("--capacity-duration", default="20s",
                          help="length of the capacity run (default 20s)")  # fmt: skip
    overload.add_argument("--workers", default="0", help="Locust worker processes (default 0)")
    overload.add_argument("--db", metavar="URL", help="--start-app postgresql: server")
    overload.add_argument("--seed", type=int, help="seed of the load generator and the app data")
    overload.add_argument("--set", action="append", metavar="KEY=VALUE",
                          help="override a scenario key")  # fmt: skip
    overload.set_defaults(func=_overload)

    compare = lt.add_parser(
        "compare",
        help="compare a run with a baseline, route by route (exit 3 on regression)",
        description=(
            "Per route: one-sided Mann-Whitney U on the latency samples, Vargha-Delaney effect "
            "size A, median ratio, KS p-value, and the error rate (Fisher exact). Routes are "
            "judged relative to the run's machine factor (median over routes of the p50 ratio): "
            "a route regresses when p < alpha, A >= 0.71 and its median grew x--min-ratio and "
            ">= 10 ms beyond that factor, or when it grew x3 in absolute terms."
        ),
        epilog=EPILOG,
    )
    compare.add_argument("run", help="run directory")
    compare.add_argument("baseline", help="baseline directory")
    compare.add_argument("--rule", choices=RULE_NAMES, default="default",
                         help="default (x1.5 relative, x3 absolute) or shared (noise-tolerant, "
                         "for a busy shared machine such as CI: x2.5 relative, x5 absolute)")  # fmt: skip
    compare.add_argument("--min-ratio", type=_positive_float,
                         help="relative median slow-down that counts (overrides the rule's)")  # fmt: skip
    compare.add_argument("--alpha", type=_positive_float,
                         help="significance level (default 0.001)")  # fmt: skip
    compare.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    compare.set_defaults(func=_compare)

    baseline = lt.add_parser(
        "baseline",
        help="keep a run as a (small, committable) baseline directory",
        description="Copy a run's summary.json, plan.json and a slim requests.csv to DIR.",
    )
    baseline.add_argument("run", help="run directory")
    baseline.add_argument("baseline", help="baseline directory to write")
    baseline.set_defaults(func=_baseline)
