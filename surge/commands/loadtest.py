"""`surge loadtest run|overload|compare|baseline|ab|history|init|worker`: Locust surges against
any HTTP platform, SLO gates, reports, baselines, the A/B gate and its history.

Over 400 lines, on purpose: one command group is one module (docs/cli.md), and most of this
one is the argument declarations of its eight subcommands; every handler is a few lines that
call `loadtests`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from surge.commands import types
from surge.errors import UsageError
from surge.exit_codes import EXIT_OK, EXIT_REGRESSION, EXIT_SLO_BREACHED, EXIT_USAGE

RULE_NAMES = (
    "default",
    "shared",
)  # loadtests.verdicts.compare.RULES (not imported: keeps --help fast)
EPILOG = (
    f"exit codes: {EXIT_OK} pass, {EXIT_SLO_BREACHED} SLO breached, {EXIT_USAGE} bad usage or "
    "config, "
    f"{EXIT_REGRESSION} regression vs baseline"
)


def _scrape_targets(urls: list[str] | None) -> tuple[str, ...]:
    from loadtests.scrape import check_target

    try:
        return tuple(check_target(url) for url in urls or ())
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    from loadtests.orchestrate import run_loadtest
    from loadtests.plan import RunOptions

    options = RunOptions(
        scenario=args.scenario,
        out_dir=Path(args.out),
        host=args.host,
        start_app=args.start_app,
        duration=args.duration,
        users=args.users,
        rate=args.rate,
        scale=args.scale,
        compress=args.compress,
        shape=args.shape,
        levels=args.levels,
        hold=args.hold,
        workers=args.locust_workers,
        baseline=Path(args.baseline) if args.baseline else None,
        compare_rule=args.compare_rule,
        db=args.db,
        seed=args.seed,
        overrides=tuple(args.set or ()),
        waiting_room_rate=args.waiting_room_rate,
        locustfile=Path(args.locustfile) if args.locustfile else None,
        slo_file=Path(args.slo) if args.slo else None,
        junit=Path(args.junit) if args.junit else None,
        quiet=args.quiet,
        web_port=_web_port(args.web),
        expect_workers=args.expect_workers,
        master_bind_port=args.master_bind_port,
        pin=args.pin,
        scrape=_scrape_targets(args.scrape),
        soak=_soak(args),
    )
    return run_loadtest(options, echo=lambda line: print(line, file=sys.stderr))


def _soak(args: argparse.Namespace):
    """--shape soak given: the soak analysis (and replenished supply); its flags otherwise
    are a usage error."""
    given = [f for f in ("soak_warmup", "soak_window") if getattr(args, f) is not None]
    if args.shape != "soak":
        if given or not args.replenish:
            raise UsageError("--soak-warmup, --soak-window and --no-replenish need --shape soak")
        return None
    from loadtests.soak import SoakSettings

    return SoakSettings(
        warmup_s=args.soak_warmup, window_s=args.soak_window, replenish=args.replenish
    )


def _web_port(web: int | None) -> int | None:
    if web is None:
        return None
    if web:
        return web
    from loadtests.app_launcher import free_port

    return free_port()


def _overload(args: argparse.Namespace) -> int:
    from loadtests.overload import OverloadOptions, describe, run_overload

    options = OverloadOptions(
        scenario=args.scenario,
        out_dir=Path(args.out),
        host=args.host,
        start_app=args.start_app,
        db=args.db,
        multiple=args.multiple,
        admission_share=args.admission_share,
        duration=args.duration,
        capacity_users=args.capacity_users,
        capacity_duration=args.capacity_duration,
        workers=args.locust_workers,
        seed=args.seed,
        overrides=tuple(args.set or ()),
        locustfile=Path(args.locustfile) if args.locustfile else None,
        slo_file=Path(args.slo) if args.slo else None,
        recovery=args.recovery,
        probe_share=args.probe_share,
        recovery_window=args.recovery_window,
    )
    result = run_overload(options, echo=lambda line: print(line, file=sys.stderr))
    for line in describe(result):
        print(line)
    if args.junit:
        from loadtests.reports.junit import overload_cases, write_junit

        write_junit(Path(args.junit), "loadtest overload", overload_cases(result))
    print(f"written: {Path(args.out) / 'overload.json'}", file=sys.stderr)
    return EXIT_OK if result["verdict"]["passed"] else EXIT_SLO_BREACHED


def _compare(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from loadtests.orchestrate import compare_dirs
    from loadtests.verdicts.compare import named_rule

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
    if args.junit:
        from loadtests.reports.junit import compare_cases, write_junit

        write_junit(Path(args.junit), "loadtest compare", compare_cases(result))
    print("REGRESSION" if result["regression"] else "no regression", file=sys.stderr)
    return EXIT_REGRESSION if result["regression"] else EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    import subprocess

    from loadtests.plan import worker_command

    command = worker_command(
        Path(args.locustfile) if args.locustfile else None,
        args.master_host,
        args.master_port,
        args.processes,
    )
    return subprocess.run(command, check=False).returncode  # noqa: S603 - an argument list of our own, no shell


def _init(args: argparse.Namespace) -> int:
    from loadtests.errors import LoadTestInputError

    out = Path(args.out)
    if out.exists():
        raise LoadTestInputError(f"{out} exists: give another --out (nothing overwritten)")
    if args.har:
        from loadtests.har import journey_from_har

        text = journey_from_har(Path(args.har))
    else:
        from loadtests.scaffold import journey_from_openapi, load_openapi

        text = journey_from_openapi(load_openapi(args.openapi), args.openapi)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"journey file written to {out}: edit it, then surge loadtest run --locustfile {out}",
          file=sys.stderr)  # fmt: skip
    return EXIT_OK


def _baseline(args: argparse.Namespace) -> int:
    from loadtests.orchestrate import make_baseline

    target = make_baseline(Path(args.run), Path(args.baseline))
    print(f"baseline written to {target}", file=sys.stderr)
    return 0


def _ab(args: argparse.Namespace) -> int:
    from loadtests.ab import ABOptions, describe, run_ab
    from loadtests.verdicts.ab import ABRule

    options = ABOptions(
        out_dir=Path(args.out),
        host_a=args.host_a,
        host_b=args.host_b,
        a_ref=args.a_ref,
        b_ref=args.b_ref,
        start_app=args.start_app,
        db=args.db,
        budget_s=args.budget,
        rule=ABRule(
            max_slowdown=args.max_slowdown,
            alpha=args.alpha,
        ),
        requests_per_route=args.slice_requests,
        seed=args.seed,
        junit=Path(args.junit) if args.junit else None,
    )
    document = run_ab(options, echo=lambda line: print(line, file=sys.stderr))
    for line in describe(document):
        print(line)
    print(f"written: {Path(args.out) / 'ab.json'}", file=sys.stderr)
    return document["exit_code"]


def _history_add(args: argparse.Namespace) -> int:
    from loadtests.history import add_run

    rows = add_run(Path(args.run), args.store, machine=args.machine, commit=args.commit)
    print(
        f"added {len(rows)} routes of {rows[0].commit[:12]} on {rows[0].machine}", file=sys.stderr
    )
    return 0


def _history_check(args: argparse.Namespace) -> int:
    import json

    from loadtests.history import change_points, plot_history, read_history

    penalty = args.penalty
    rows = [r for r in read_history(args.store) if args.machine in (None, r.machine)]
    if not rows:
        raise UsageError(f"no history for machine {args.machine!r}")
    points = change_points(rows, penalty=penalty)
    for p in points:
        print(f"{p.route:<16} {p.machine:<16} at {p.commit[:12]} ({p.time_utc}): "
              f"p50 {p.before_p50_ms:.2f} -> {p.after_p50_ms:.2f} ms ({p.change:+.1%})")  # fmt: skip
    if not points:
        print("no change point")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "changes.json").write_text(json.dumps([p.as_record() for p in points], indent=2))
        plot_history(rows, points, out / "history.png")
        print(f"written: {out / 'changes.json'}, {out / 'history.png'}", file=sys.stderr)
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
            "summary.json and report.html to --out. --shape soak also keeps the supply level "
            "and writes soak.json: RSS slope after the warm-up, p99 of the first and last "
            "windows, errors, invariants, connections over time (exit 1 if a target is missed)."
        ),
        epilog=EPILOG,
    )
    run.add_argument("--scenario", required=True, help="built-in scenario name or TOML file")
    run.add_argument("--locustfile", metavar="FILE",
                     help="your own journeys: ArrivalUser subclasses (open model: --rate, --shape "
                     "or the scenario's replay) or plain Locust users (closed model: --users); "
                     "default: the reference booking journey")  # fmt: skip
    run.add_argument("--slo", metavar="FILE",
                     help="SLO file (TOML, one [slo] table) replacing the scenario's")  # fmt: skip
    target = run.add_mutually_exclusive_group(required=True)
    target.add_argument("--host", help="base URL of a running app, e.g. http://127.0.0.1:8000")
    target.add_argument(
        "--start-app",
        choices=["sqlite", "postgresql"],
        help="seed and serve the reference app for this run (stopped after)",
    )
    run.add_argument("--out", required=True, metavar="DIR", help="run directory")
    run.add_argument("--duration", type=types.duration_s,
                     help="run length, e.g. 90s, 2m (default 60s; replay: full)")  # fmt: skip
    load = run.add_mutually_exclusive_group()
    load.add_argument("--users", type=types.positive_int,
                      help="closed model: peak concurrent patients")  # fmt: skip
    load.add_argument("--rate", type=types.positive_float, help="open model: peak arrivals/s")
    run.add_argument("--scale", type=types.positive_float, default=0.0005,
                     help="replay: visitors per real visitor (default 0.0005)")  # fmt: skip
    run.add_argument("--compress", type=types.positive_float, default=60.0,
                     help="replay: real seconds per wall second (default 60)")  # fmt: skip
    run.add_argument(
        "--shape",
        choices=["ramp", "step", "steps", "spike", "soak", "replay"],
        help="load shape (default: ramp with --users, soak with --rate, else replay)",
    )
    run.add_argument("--soak-warmup", type=types.duration_s, metavar="D",
                     help="--shape soak: time left out of the verdict at the start (default "
                     "min(5m, duration/6))")  # fmt: skip
    run.add_argument("--soak-window", type=types.duration_s, metavar="D",
                     help="--shape soak: the first and last windows whose p99 are compared "
                     "(default min(5m, duration/6))")  # fmt: skip
    run.add_argument("--no-replenish", dest="replenish", action="store_false",
                     help="--shape soak: do not reopen the seats patients book")  # fmt: skip
    run.add_argument("--levels", help="--shape steps: levels, e.g. 5,10,20,40")
    run.add_argument("--hold", type=types.duration_s,
                     help="--shape steps: time per level, e.g. 30s (default 30s)")  # fmt: skip
    run.add_argument("--locust-workers", type=types.non_negative_int, default=0, metavar="N",
                     help="Locust distributed mode: a master and N worker processes "
                     "(default 0: one local process)")  # fmt: skip
    run.add_argument("--web", nargs="?", const=0, type=types.non_negative_int, metavar="PORT",
                     help="run under Locust's web UI on 127.0.0.1:PORT (default: a free port), "
                     "to watch it and stop it in a browser; the verdict follows as usual")  # fmt: skip
    run.add_argument("--quiet", action="store_true",
                     help="no live status line (a terminal: redrawn each second; else a line "
                     "every 10 s)")  # fmt: skip
    run.add_argument("--expect-workers", type=types.non_negative_int, default=0, metavar="N",
                     help="Locust distributed across machines: wait for N worker processes "
                     "joining with `surge loadtest worker` (needs --master-bind-port)")  # fmt: skip
    run.add_argument("--master-bind-port", type=types.positive_int, metavar="P",
                     help="--expect-workers: the port the workers connect to")  # fmt: skip
    run.add_argument("--baseline", metavar="DIR", help="compare with this run/baseline directory")
    run.add_argument("--compare-rule", choices=RULE_NAMES, default="default",
                     help="baseline comparison rule: default, or shared (noise-tolerant, for a "
                     "busy shared machine such as CI: x2.5 relative, x5 absolute)")  # fmt: skip
    run.add_argument("--db", metavar="URL", help="--start-app postgresql: server to create a db on")
    run.add_argument("--seed", type=int, help="seed of the load generator and of the app data")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a scenario key, e.g. --set slo.error_rate_max=0.05")  # fmt: skip
    run.add_argument("--waiting-room-rate", type=types.rate_or_off, metavar="R",
                     help="waiting room admitting R visitors/s (0 or off: no room); default: "
                     "the scenario's, scaled, on a replay; off otherwise")  # fmt: skip
    run.add_argument("--junit", metavar="FILE", help="also write the verdict as JUnit XML "
                     "(one case per SLO rule and per route judged against --baseline)")  # fmt: skip
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
            "scenario's SLO, errors stay within its budget, memory growth stays under 200 MB, "
            "invariants are 0 and, after the overload, the booking p99 is back within the SLO "
            "under a probe load (both runs report how long that took). Writes "
            "DIR/overload.json and one run directory per phase."
        ),
        epilog=f"exit codes: {EXIT_OK} held, {EXIT_SLO_BREACHED} not held, {EXIT_USAGE} bad usage "
        "or config",
    )
    overload.add_argument("--scenario", required=True, help="built-in scenario name or TOML file")
    overload.add_argument("--locustfile", metavar="FILE",
                          help="your own journeys (ArrivalUser subclasses): back to back in the "
                          "capacity run, as arrivals in the others; default: the reference "
                          "booking journey")  # fmt: skip
    overload.add_argument("--slo", metavar="FILE",
                          help="SLO file (TOML, one [slo] table) replacing the scenario's")  # fmt: skip
    where = overload.add_mutually_exclusive_group(required=True)
    where.add_argument("--host", help="base URL of a running app (admin key in SURGE_ADMIN_KEY)")
    where.add_argument("--start-app", choices=["sqlite", "postgresql"],
                       help="seed and serve a fresh reference app for each phase")  # fmt: skip
    overload.add_argument("--out", required=True, metavar="DIR", help="output directory")
    overload.add_argument(
        "--multiple",
        type=types.positive_float,
        default=5.0,
        help="offered load / capacity (default 5)",
    )
    overload.add_argument("--admission-share", type=types.positive_float,
                          help="room admission rate / capacity (default 0.5); the room is the "
                          "reference app's: with --host and --locustfile it needs "
                          "SURGE_ADMIN_KEY, else the room run is skipped")  # fmt: skip
    overload.add_argument(
        "--duration", type=types.duration_s, default=30.0, help="each overload run (default 30s)"
    )
    overload.add_argument("--recovery", type=types.duration_s, default=30.0,
                          help="probe load after each overload run, watched until the booking "
                          "p99 is back within the SLO (default 30s)")  # fmt: skip
    overload.add_argument("--probe-share", type=types.positive_float, default=0.5,
                          help="probe arrivals/s / capacity after the overload (default 0.5)")  # fmt: skip
    overload.add_argument("--recovery-window", type=types.duration_s, default=5.0,
                          help="rolling window of the booking p99 (default 5s)")  # fmt: skip
    overload.add_argument("--capacity-users", type=types.positive_int, default=8,
                          help="back-to-back patients of the capacity run (default 8)")  # fmt: skip
    overload.add_argument("--capacity-duration", type=types.duration_s, default=20.0,
                          help="length of the capacity run (default 20s)")  # fmt: skip
    overload.add_argument("--locust-workers", type=types.non_negative_int, default=0, metavar="N",
                          help="Locust worker processes (default 0: one local process)")  # fmt: skip
    overload.add_argument("--db", metavar="URL", help="--start-app postgresql: server")
    overload.add_argument("--seed", type=int, help="seed of the load generator and the app data")
    overload.add_argument("--set", action="append", metavar="KEY=VALUE",
                          help="override a scenario key")  # fmt: skip
    overload.add_argument("--junit", metavar="FILE",
                          help="also write the verdict as JUnit XML (one case per rule)")  # fmt: skip
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
    compare.add_argument("run", type=types.existing_dir, help="run directory")
    compare.add_argument("baseline", type=types.existing_dir, help="baseline directory")
    compare.add_argument("--rule", choices=RULE_NAMES, default="default",
                         help="default (x1.5 relative, x3 absolute) or shared (noise-tolerant, "
                         "for a busy shared machine such as CI: x2.5 relative, x5 absolute)")  # fmt: skip
    compare.add_argument("--min-ratio", type=types.positive_float,
                         help="relative median slow-down that counts (overrides the rule's)")  # fmt: skip
    compare.add_argument("--alpha", type=types.positive_float,
                         help="significance level (default 0.001)")  # fmt: skip
    compare.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    compare.add_argument("--junit", metavar="FILE",
                         help="also write the verdict as JUnit XML (one case per route)")  # fmt: skip
    compare.set_defaults(func=_compare)

    ab = lt.add_parser(
        "ab",
        help="A/B: the same requests against A and B in interleaved slices, until the ratio "
        "B/A of each route's median is decided (exit 3 on a regression)",
        description=(
            "Play one read-only journey (search, availability, vaccines) against A and B in "
            "alternating slices. Per route, the ratio B/A of slice medians (and p95) gets an "
            "anytime-valid confidence sequence, read after every pair of slices: a route is a "
            "regression when the whole interval is above --max-slowdown, clean when it is below. "
            "Sampling stops when every route is decided, at the first regression, or when --budget "
            "is spent. Writes ab.json, "
            "ab.md and slices.csv to --out."
        ),
        epilog="exit codes: 0 clean, 3 regression, 4 undecided within the budget, 2 bad input",
    )
    ab.add_argument("--host-a", metavar="URL", help="base URL of A (the reference)")
    ab.add_argument("--host-b", metavar="URL", help="base URL of B (the candidate)")
    ab.add_argument("--a-ref", metavar="GITREF", help="with --start-app: A's revision")
    ab.add_argument("--b-ref", metavar="GITREF", help="with --start-app: B's revision")
    ab.add_argument("--start-app", choices=["sqlite", "postgresql"],
                    help="seed and serve the reference app for each arm (git worktrees of "
                    "--a-ref/--b-ref, else this checkout twice: an A/A run)")  # fmt: skip
    ab.add_argument("--db", metavar="URL", help="--start-app postgresql: server to create dbs on")
    ab.add_argument("--out", required=True, metavar="DIR", help="output directory")
    ab.add_argument(
        "--budget", type=types.duration_s, default=300.0, help="sampling time budget (default 5m)"
    )
    ab.add_argument("--max-slowdown", type=types.positive_float, default=1.10,
                    help="B/A median ratio that counts as a regression (default 1.10)")  # fmt: skip
    ab.add_argument("--alpha", type=types.positive_float, default=0.05,
                    help="error level over all routes (default 0.05)")  # fmt: skip
    ab.add_argument("--slice-requests", type=types.positive_int, default=20,
                    help="requests per route per slice and arm (default 20)")  # fmt: skip
    ab.add_argument("--seed", type=int, default=42, help="seed of requests and app data")
    ab.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    ab.set_defaults(func=_ab)

    history = lt.add_parser(
        "history",
        help="keep per-route results by machine and commit; find change points",
        description=(
            "add: append a run's per-route medians to a store (CSV directory, or a "
            "postgresql:// URL), keyed by machine, git commit and time. check: change-point "
            "detection (ruptures PELT) over each machine's series of each route: the commit where "
            "the median changed, and by how much. For triage and trends; `ab` is the gate."
        ),
    )
    history.set_defaults(help_parser=history)
    hist = history.add_subparsers(dest="history_command", metavar="SUBCOMMAND")
    add = hist.add_parser("add", help="append a run directory (loadtest run or ab) to the store")
    add.add_argument("run", help="run directory")
    add.add_argument("--store", required=True, metavar="DIR|URL", help="CSV directory or URL")
    add.add_argument("--machine", help="machine or runner name (default $SURGE_MACHINE, host)")
    add.add_argument("--commit", help="git commit of the run (default HEAD)")
    add.set_defaults(func=_history_add)
    check = hist.add_parser("check", help="change points of each route's series")
    check.add_argument("--store", required=True, metavar="DIR|URL", help="CSV directory or URL")
    check.add_argument("--machine", help="only this machine's series")
    check.add_argument(
        "--penalty", type=types.positive_float, default=5.0, help="PELT penalty x log n (default 5)"
    )
    check.add_argument("--out", metavar="DIR", help="write changes.json and history.png here")
    check.set_defaults(func=_history_check)

    worker = lt.add_parser(
        "worker",
        help="Locust worker processes of this machine joining a run's master",
        description="Join `surge loadtest run ... --expect-workers N --master-bind-port P` from "
        "this (or another) machine; the master sends the host, the load and the options. Give "
        "the same --locustfile as the run (default: the reference journey).",
    )
    worker.add_argument("--master-host", required=True, help="host of the run's master")
    worker.add_argument("--master-port", required=True, type=types.positive_int, metavar="P",
                        help="the run's --master-bind-port")  # fmt: skip
    worker.add_argument("--processes", type=types.positive_int, default=1, metavar="K",
                        help="worker processes on this machine (default 1)")  # fmt: skip
    worker.add_argument("--locustfile", metavar="FILE", help="the run's journey file")
    worker.set_defaults(func=_worker)

    init = lt.add_parser(
        "init",
        help="scaffold a journey file from an OpenAPI document or a recorded HAR",
        description="Write a journey file with one named request per operation of an OpenAPI 3 "
        "document (JSON file or URL), with placeholder values to edit, or one named request per "
        "recorded request of a HAR file (har2locust), with the recorded values to edit.",
        epilog=f"exit codes: {EXIT_OK} written, {EXIT_USAGE} bad input",
    )
    source = init.add_mutually_exclusive_group(required=True)
    source.add_argument("--openapi", metavar="FILE_OR_URL",
                        help="OpenAPI 3 document (JSON), e.g. http://127.0.0.1:8000/openapi.json")  # fmt: skip
    source.add_argument("--har", metavar="FILE",
                        help="HAR file recorded of a visitor's journey (browser developer "
                        "tools: Save all as HAR)")  # fmt: skip
    init.add_argument("--out", required=True, metavar="FILE", help="journey file to write")
    init.set_defaults(func=_init)

    baseline = lt.add_parser(
        "baseline",
        help="keep a run as a (small, committable) baseline directory",
        description="Copy a run's summary.json, plan.json and a slim requests.csv to DIR.",
    )
    baseline.add_argument("run", type=types.existing_dir, help="run directory")
    baseline.add_argument("baseline", help="baseline directory to write")
    baseline.set_defaults(func=_baseline)
