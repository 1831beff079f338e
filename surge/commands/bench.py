"""`surge bench app|calibration|center|gate|loadgen|room|sim|sweep|all|docs`: benchmarks.

Each benchmark lives in `surge.bench.<name>` with a frozen options dataclass, `run(options)`
returning a `BenchRecord` and `describe(record)` giving the lines to print. This module parses
options into that dataclass, prints the figures and writes `results/bench/<name>.json`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from surge.commands import types
from surge.exit_codes import EXIT_OK

# The benchmarks (module of surge.bench -> its options class), in the order `surge bench all`
# runs them, fast first.
BENCHMARKS = {
    "center": "CenterBenchOptions",
    "sweep": "SweepBenchOptions",
    "sim": "SimBenchOptions",
    "room": "RoomBenchOptions",
    "loadgen": "LoadgenBenchOptions",
    "app": "AppBenchOptions",
}
DOCS = Path("docs/benchmarks.md")


def _bench(name: str):
    return importlib.import_module(f"surge.bench.{name}")


def _run_one(name: str, options: object, results: Path) -> int:
    from surge.bench.record import write_record

    module = _bench(name)
    record = module.run(options)
    print("\n".join(module.describe(record)))
    path = write_record(record, results)
    print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def _handler(name: str, build: Callable[[argparse.Namespace], object]):
    def handle(args: argparse.Namespace) -> int:
        return _run_one(name, build(args), args.results)

    return handle


def _all(args: argparse.Namespace) -> int:
    for name, options_class in BENCHMARKS.items():
        print(f"== surge bench {name} ==", file=sys.stderr)
        _run_one(name, getattr(_bench(name), options_class)(), args.results)
    return EXIT_OK


def _docs(args: argparse.Namespace) -> int:
    from surge.bench.docs import kept_sections, render
    from surge.bench.record import read_records

    records = read_records(args.results)
    existing = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
    kept = kept_sections(existing, {r.name for r in records})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(records, args.results, kept), encoding="utf-8")
    print(
        f"wrote {args.out} ({len(records)} benchmark(s) from {args.results}, "
        f"{len(kept)} kept from the page: {', '.join(kept) or 'none'})"
    )
    return EXIT_OK


def _app(args: argparse.Namespace) -> object:
    from surge.bench.app import AppBenchOptions

    return AppBenchOptions(
        db=args.db,
        concurrency=args.concurrency,
        duration_s=args.duration,
        hot=args.hot,
        app_workers=args.app_workers,
        generators=args.generators,
    )


def _loadgen(args: argparse.Namespace) -> object:
    from surge.bench.loadgen import LoadgenBenchOptions

    return LoadgenBenchOptions(
        duration_s=args.duration,
        users=args.users,
        rate_per_s=args.rate,
        rounds=args.rounds,
        reference_rate_per_s=args.reference_rate,
    )


def _room(args: argparse.Namespace) -> object:
    from surge.bench.room import RoomBenchOptions

    return RoomBenchOptions(requests=args.requests)


def _sim(args: argparse.Namespace) -> object:
    from surge.bench.sim import SimBenchOptions

    campaign = None if args.campaign == "none" else args.campaign
    return SimBenchOptions(
        scenario=args.scenario, scales=tuple(args.scales), seed=args.seed, campaign=campaign
    )


def _center(args: argparse.Namespace) -> object:
    from surge.bench.center import CenterBenchOptions

    return CenterBenchOptions(replications=args.replications, seed=args.seed)


def _gate(args: argparse.Namespace) -> object:
    from surge.bench.gate import GateBenchOptions

    return GateBenchOptions(
        aa=args.aa,
        reps=args.reps,
        budget_s=args.budget,
        aa_budget_s=args.aa_budget,
        factors=tuple(args.factors),
        kinds=tuple(args.kinds),
        parts=tuple(args.part),
        decisions=args.decisions or args.results / "gate-decisions",
    )


def _calibration(args: argparse.Namespace) -> object:
    from surge.bench.calibration import CalibrationBenchOptions

    return CalibrationBenchOptions(
        runs=args.runs,
        backends=tuple(args.backends),
        kinds=tuple(args.kinds),
        hold_s=args.hold,
        passes=args.passes,
        seed=args.seed,
        db=args.db,
        runs_dir=args.runs_dir or args.results / "calibration-runs",
        report_only=args.report_only,
    )


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _server_timing(args: argparse.Namespace) -> object:
    from surge.bench.server_timing import ServerTimingBenchOptions

    return ServerTimingBenchOptions(rounds=args.rounds, requests=args.requests)


def _sweep(args: argparse.Namespace) -> object:
    from surge.bench.sweep import SweepBenchOptions

    return SweepBenchOptions(
        scenario=args.scenario,
        combinations=args.combinations,
        replications=args.replications,
        processes=args.processes,
        repeat=args.repeat,
        seed=args.seed,
    )


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "bench",
        help="benchmarks: print figures and write results/bench/<name>.json",
        description="Benchmarks: each prints its figures and writes one record (name, date, "
        "machine, commit, command, parameters, figures) to results/bench/<name>.json.",
    )
    group.set_defaults(help_parser=group)
    group.add_argument(
        "--results",
        type=Path,
        default=Path("results/bench"),
        metavar="DIR",
        help="directory of the JSON records (default results/bench)",
    )
    bench = group.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")

    app = bench.add_parser(
        "app",
        help="booking commits/s: direct database path vs HTTP (spread-out and hot-slot loads)",
        description="Booking commits/s straight through the database layer vs through HTTP. "
        "Without --db: SQLite in a temp dir, plus a fresh PostgreSQL database when "
        "SURGE_TEST_POSTGRES_URL or SURGE_DATABASE_URL is set. With --db, its content is replaced.",
    )
    app.add_argument("--db", metavar="URL", help="benchmark this database (content replaced)")
    app.add_argument("--concurrency", type=types.positive_int, default=16,
                     help="threads / HTTP connections (default 16)")  # fmt: skip
    app.add_argument("--duration", type=types.duration_s, default=8.0,
                     help="time per measurement, e.g. 8s (default 8s)")  # fmt: skip
    app.add_argument("--hot", action="store_true", help="only the hot-slot load")
    app.add_argument("--app-workers", type=types.positive_int, default=2, metavar="N",
                     help="app (uvicorn) worker processes (default 2)")  # fmt: skip
    app.add_argument("--generators", type=types.positive_int, default=2, metavar="N",
                     help="load-generator processes (default 2)")  # fmt: skip
    app.set_defaults(func=_handler("app", _app))

    loadgen = bench.add_parser(
        "loadgen",
        help="requests/s of one Locust process: plain vs Patient overhead vs open-model driver",
        description="Against a trivial local endpoint, in one run: plain FastHttpUser and the "
        "open-model driver with pooled connections and with a connection per visitor, the "
        "driver at saturation and at a rate it sustains, the Patient journey's per-request "
        "overhead; then the reference journey's arrivals per CPU-second against a started app. "
        "Target: driver >= 0.8 x plain with the same connection policy.",
    )
    loadgen.add_argument("--duration", type=types.duration_s, default=10.0,
                         help="time per variant (default 10s)")  # fmt: skip
    loadgen.add_argument("--users", type=types.positive_int, default=20,
                         help="users of the closed variants (default 20)")  # fmt: skip
    loadgen.add_argument("--rate", type=types.positive_float,
                         help="the driver's sustained arrivals/s (default: half what it "
                         "completed at saturation)")  # fmt: skip
    loadgen.add_argument("--rounds", type=types.positive_int, default=3,
                         help="rounds of the nine variants (default 3)")  # fmt: skip
    loadgen.add_argument("--reference-rate", type=types.non_negative_float, default=10.0,
                         help="arrivals/s of the reference journey against a started app "
                         "(default 10; 0: skip)")  # fmt: skip
    loadgen.set_defaults(func=_handler("loadgen", _loadgen))

    room = bench.add_parser(
        "room",
        help="app CPU per request: booking journey vs waiting room (503, join, poll)",
        description="The app's CPU per request of the booking journey vs the waiting room's "
        "(503 without a pass, join, poll of a waiting ticket).",
    )
    room.add_argument("--requests", type=types.positive_int, default=300,
                      help="requests per kind (default 300)")  # fmt: skip
    room.set_defaults(func=_handler("room", _room))

    center = bench.add_parser(
        "center",
        help="centre model speed: 10-hour, 2,000-patient, 6-station day (bound < 1 s)",
        description="Seconds per replication of a 10-hour centre day of about 2,000 patients "
        "through 6 stations (bound: under 1 s per replication).",
    )
    center.add_argument("--replications", type=types.positive_int, default=10,
                        help="replications (default 10)")  # fmt: skip
    center.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    center.set_defaults(func=_handler("center", _center))

    calibration = bench.add_parser(
        "calibration",
        help="predict then measure, N runs per backend: held-out level, held-out "
        "configurations, confirm (long: not in `bench all`)",
        description="Issue 13's targets: `surge calibrate --validate --config ...` and "
        "`surge calibrate --confirm`, N runs per backend, one JSON line per run in "
        "--runs-dir/runs.jsonl; the record counts, per backend, the runs within each target.",
    )
    calibration.add_argument("--runs", type=types.positive_int, default=5,
                             help="runs per backend and kind (default 5)")  # fmt: skip
    calibration.add_argument("--backends", type=_names, default=["sqlite", "postgresql"],
                             help="sqlite,postgresql (default both)")  # fmt: skip
    calibration.add_argument("--kinds", type=_names, default=["validate", "confirm"],
                             help="validate,confirm (default both)")  # fmt: skip
    calibration.add_argument("--hold", type=types.duration_s, default=10.0,
                             help="time per level (default 10s)")  # fmt: skip
    calibration.add_argument("--passes", type=types.positive_int, default=2,
                             help="validate: passes over the levels (default 2)")  # fmt: skip
    calibration.add_argument("--seed", type=int, default=0,
                             help="first run's seed; run i uses seed + i (default 0)")  # fmt: skip
    calibration.add_argument("--db", metavar="URL",
                             help="PostgreSQL server (default $SURGE_TEST_POSTGRES_URL)")  # fmt: skip
    calibration.add_argument("--runs-dir", type=Path, metavar="DIR",
                             help="run directories and runs.jsonl (default "
                             "<results>/calibration-runs)")  # fmt: skip
    calibration.add_argument("--report-only", action="store_true",
                             help="rebuild the record from runs.jsonl without running")  # fmt: skip
    calibration.set_defaults(func=_handler("calibration", _calibration))

    gate = bench.add_parser(
        "gate",
        help="power and false alarms of the A/B gate, proxy overhead, change-point recall "
        "(long: not in `bench all`)",
        description="Power of `surge loadtest ab` against known slow-downs (a proxy delay and "
        "in-app CPU), its false-alarm rate over A/A decisions, the proxy's overhead and "
        "change-point recall on resampled real noise. At its defaults it runs for hours.",
    )
    gate.add_argument("--aa", type=types.positive_int, default=60,
                      help="A/A decisions (default 60)")  # fmt: skip
    gate.add_argument("--reps", type=types.positive_int, default=10,
                      help="decisions per slow-down factor and kind (default 10)")  # fmt: skip
    gate.add_argument("--budget", type=types.duration_s, default=300.0,
                      help="budget per A/B decision (default 5m)")  # fmt: skip
    gate.add_argument("--aa-budget", type=types.duration_s, default=60.0,
                      help="budget per A/A decision (default 60s)")  # fmt: skip
    gate.add_argument("--factors", type=types.fraction_list, default=[1.10, 1.25, 1.5, 2.0],
                      help="slow-down factors (default 1.1,1.25,1.5,2)")  # fmt: skip
    gate.add_argument("--kinds", type=_names, default=["proxy", "cpu"],
                      help="how the slow-down is injected: proxy,cpu (default both)")  # fmt: skip
    gate.add_argument("--part", type=_names, default=["overhead", "aa", "power", "changepoints"],
                      help="parts to run: overhead,aa,power,changepoints (default all; "
                      "changepoints alone only merges the records)")  # fmt: skip
    gate.add_argument("--decisions", type=Path, default=None, metavar="DIR",
                      help="where decision records accumulate (default "
                      "RESULTS/gate-decisions); the figures merge every record there")  # fmt: skip
    gate.set_defaults(func=_handler("gate", _gate))

    timing = bench.add_parser(
        "server-timing",
        help="the app's CPU-us per request without and with --server-timing",
        description="The CPU cost of `surge app serve --server-timing`, in CPU-us per request of "
        "the app (not a throughput ratio), alternating rounds off and on.",
    )
    timing.add_argument("--rounds", type=types.positive_int, default=3,
                        help="rounds per mode (default 3)")  # fmt: skip
    timing.add_argument("--requests", type=types.positive_int, default=2000,
                        help="measured requests per round (default 2000)")  # fmt: skip
    timing.set_defaults(func=_handler("server_timing", _server_timing))

    sim = bench.add_parser(
        "sim",
        help="time the national model at full, half and quarter scale, and a 7-day campaign",
        description="Wall time, CPU time, events/s and peak memory of the national model per "
        "scale, then of a campaign (7 days), each in its own process.",
    )
    sim.add_argument("--scenario", default="france-2021-07-12",
                     help="built-in name or TOML file (default france-2021-07-12)")  # fmt: skip
    sim.add_argument("--scales", type=types.fraction_list, default=[1.0, 0.5, 0.25],
                     help="comma-separated scales (default 1,0.5,0.25)")  # fmt: skip
    sim.add_argument("--seed", type=int, default=2021, help="seed (default 2021)")
    sim.add_argument("--campaign", default="france-2021-07-week",
                     help="campaign scenario also timed (default france-2021-07-week; "
                     "none: skip)")  # fmt: skip
    sim.set_defaults(func=_handler("sim", _sim))

    sweep = bench.add_parser(
        "sweep",
        help="sweep speedup: 1 process vs N local processes (target >= 1.7x on 2 cores)",
        description="The same sweep in one process and on --processes local processes, "
        "alternately, best of --repeat each.",
    )
    sweep.add_argument("--scenario", default="smoke", help="scenario (default smoke)")
    sweep.add_argument("--combinations", type=types.positive_int, default=4,
                       help="parameter values (default 4)")  # fmt: skip
    sweep.add_argument("--replications", type=types.positive_int, default=2,
                       help="per combination (default 2)")  # fmt: skip
    sweep.add_argument("--processes", type=types.positive_int, default=2, metavar="N",
                       help="local processes of the parallel run (default 2)")  # fmt: skip
    sweep.add_argument("--repeat", type=types.positive_int, default=2,
                       help="best of N (default 2)")  # fmt: skip
    sweep.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    sweep.set_defaults(func=_handler("sweep", _sweep))

    everything = bench.add_parser("all", help="run every benchmark with its defaults")
    everything.set_defaults(func=_all)

    docs = bench.add_parser(
        "docs",
        help="regenerate docs/benchmarks.md from results/bench/*.json",
        description="One table per benchmark record, with its command, date, commit and machine.",
    )
    docs.add_argument("--out", type=Path, default=DOCS, help=f"page to write (default {DOCS})")
    docs.set_defaults(func=_docs)
