"""`surge calibrate`: fit the platform model to a stepped load-test run, or (`--validate`) run
the steps against the reference app, fit the lower levels and check predictions of the higher
(exit 4 when a held-out level misses its target: throughput within 10%, p95 within 25%)."""

from __future__ import annotations

import argparse
from pathlib import Path

from surge.commands import types
from surge.errors import UsageError
from surge.exit_codes import EXIT_OK, EXIT_UNDECIDED

EXIT_NOT_CONFIRMED = EXIT_UNDECIDED  # the prediction was not confirmed by the load test


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the platform model (USL + service times) to a stepped run; --validate checks it",
        description=__doc__,
    )
    p.add_argument(
        "run_dir", nargs="?", type=Path, help="stepped run directory (steps.csv, requests.csv)"
    )
    p.add_argument("--out", type=Path, required=True,
                   help="profile TOML to write; with --validate, a directory")  # fmt: skip
    p.add_argument("--fit-levels", type=types.levels, help="user levels to fit (default: all)")
    p.add_argument("--service-levels", type=types.levels,
                   help="levels whose requests give the service times (default: lowest fit level)")  # fmt: skip
    p.add_argument(
        "--settle", type=types.duration_s, help="seconds dropped at the start of each step"
    )
    p.add_argument(
        "--bootstrap",
        type=types.positive_int,
        default=200,
        help="bootstrap replicates (default 200)",
    )
    p.add_argument("--seed", type=int, default=0)
    v = p.add_argument_group("--validate: run, fit, predict the held-out levels, compare")
    v.add_argument("--validate", action="store_true")
    v.add_argument("--start-app", choices=("sqlite", "postgresql"), help="start the reference app")
    v.add_argument("--host", help="or test an already running deployment at URL")
    v.add_argument("--locustfile", type=Path, metavar="FILE",
                   help="your own journeys at every step (ArrivalUsers back to back, else "
                   "plain Locust users); the model then has your routes (default: the "
                   "reference booking journey)")  # fmt: skip
    v.add_argument(
        "--db",
        metavar="URL",
        help="--start-app postgresql: server to create a database on "
        "(default $SURGE_DATABASE_URL, else $SURGE_TEST_POSTGRES_URL)",
    )
    v.add_argument("--levels", type=types.levels, default=[1, 2, 4, 8, 16, 32],
                   help="concurrency levels to run (default 1,2,4,8,16,32)")  # fmt: skip
    v.add_argument(
        "--holdout", type=types.positive_int, default=1, help="highest levels held out (default 1)"
    )
    v.add_argument(
        "--hold", type=types.duration_s, default=20.0, help="time per level (default 20s)"
    )
    v.add_argument("--passes", type=types.positive_int, default=3,
                   help="run every level this many times, in a seeded random order per pass "
                   "(default 3; 1: once, ascending): spreads background-load drift over all "
                   "levels")  # fmt: skip
    v.add_argument("--no-pin", dest="pin", action="store_false",
                   help="--start-app: do not pin Locust and the app/database to separate cores")  # fmt: skip
    v.add_argument("--scrape", action="append", default=[], metavar="URL",
                   help="also scrape this Prometheus/OpenMetrics endpoint once a second into "
                   "run/scrape.csv (repeatable; a started app's /metrics always is)")  # fmt: skip
    v.add_argument("--config", action="append", default=[], metavar="SPEC",
                   help="--start-app: a held-out configuration to predict without refitting, "
                   "then serve and measure at the held-out level(s): workers=N, cores=N, "
                   "pool=N (DB connections per worker), comma-joined (repeatable)")  # fmt: skip
    v.add_argument(
        "--app-workers",
        type=types.positive_int,
        default=1,
        metavar="N",
        help="--start-app: app (uvicorn) worker processes (default 1)",
    )
    v.add_argument(
        "--replications",
        type=types.positive_int,
        default=5,
        help="simulation replications (default 5)",
    )
    c = p.add_argument_group(
        "--confirm: calibrate, predict R_ok and R_bad, confirm both with open-model runs "
        "(exit 0 confirmed, 4 not confirmed); uses --start-app/--host, --levels, --hold, --seed"
    )
    c.add_argument("--confirm", action="store_true")
    c.add_argument("--scenario", default="smoke", help="whose slo.p95_ms.book (default smoke)")
    c.add_argument("--duration", type=types.duration_s, default=60.0,
                   help="length of each confirming run (default 60s)")  # fmt: skip
    c.add_argument("--arrival-multiple", type=types.positive_float, default=1.2,
                   help="arrivals per admission (default 1.2)")  # fmt: skip
    c.add_argument("--patience", type=types.duration_s, default=10.0,
                   help="visitors' mean patience in the line (default 10s)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.bootstrap < 1:
        raise UsageError("--bootstrap must be >= 1")
    if args.validate and args.confirm:
        raise UsageError("give --validate or --confirm, not both")
    if args.locustfile is not None and not args.validate:
        raise UsageError(
            "--locustfile goes with --validate (--confirm drives the reference app's waiting "
            "room with the reference journey)"
        )
    if args.validate:
        return _validate(args)
    if args.confirm:
        return _confirm(args)
    if args.run_dir is None:
        raise UsageError("give a RUN_DIR to calibrate, or --validate to run the steps first")
    from simulations.calibration.calibrate import calibrate, write_outputs
    from simulations.calibration.step_run import read_step_run

    run_data = read_step_run(args.run_dir, settle_s=args.settle)
    cal = calibrate(
        run_data,
        fit_levels=args.fit_levels,
        service_levels=args.service_levels,
        bootstrap_replicates=args.bootstrap,
        seed=args.seed,
    )
    written = write_outputs(cal, args.out)
    _print_calibration(cal)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def _print_calibration(cal) -> None:
    f = cal.usl_fit
    m = f.model
    print("steps:")
    cols = [
        "users",
        "used_for_fit",
        "requests",
        "failures",
        "throughput_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
    ]
    print(cal.steps[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(
        f"USL: lambda {m.lambda_per_s:.4g}/s [{f.lambda_ci[0]:.4g}, {f.lambda_ci[1]:.4g}]  "
        f"sigma {m.sigma:.4g} [{f.sigma_ci[0]:.3g}, {f.sigma_ci[1]:.3g}]  "
        f"kappa {m.kappa:.4g} [{f.kappa_ci[0]:.3g}, {f.kappa_ci[1]:.3g}]  R^2 {f.r_squared:.3f}"
    )
    print(
        f"peak concurrency N* {m.peak_concurrency:.4g} [{f.peak_concurrency_ci[0]:.4g}, "
        f"{f.peak_concurrency_ci[1]:.4g}]  max throughput {m.max_throughput:.4g}/s "
        f"[{f.max_throughput_ci[0]:.4g}, {f.max_throughput_ci[1]:.4g}]"
    )
    if f.kappa_dropped:
        print(
            "kappa's interval reached 0: no coherency delay shown, Amdahl fit (kappa = 0, no peak)"
        )
    st = cal.station_fit.model
    print(
        f"platform curve (vs requests in flight): lambda {st.lambda_per_s:.4g}/s sigma {st.sigma:.4g} "
        f"kappa {st.kappa:.4g}; time outside the platform {cal.profile.think_time_s * 1000:.3g} ms "
        f"per request; share dispersion {cal.profile.share_dispersion:.3g}"
    )
    q = cal.fit_quality()
    chosen = q[q["chosen"]][
        ["route", "family", "samples", "mean_ms", "p95_ms", "ks_statistic", "ks_pvalue"]
    ]
    print("service times (best family by AIC; KS against the fitted distribution):")
    print(chosen.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if cal.dropped_routes:
        print(f"routes with too few samples (left out): {', '.join(cal.dropped_routes)}")


def _validate(args: argparse.Namespace) -> int:
    from loadtests.calibration import StepPlan, validate

    if args.run_dir is not None:
        raise UsageError("--validate runs its own steps: give --out DIR, not a RUN_DIR")
    from loadtests.scrape import check_target

    try:
        scrape = [check_target(url) for url in args.scrape]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from loadtests.configurations import parse_config

    configs = [parse_config(spec) for spec in args.config]
    settle = args.settle if args.settle is not None else min(5.0, args.hold / 4)
    plan = StepPlan(
        levels=tuple(args.levels),
        hold_s=args.hold,
        settle_s=settle,
        passes=args.passes,
        order_seed=args.seed,
    )
    result = validate(
        args.out,
        plan,
        holdout=args.holdout,
        host=args.host,
        backend=args.start_app,
        workers=args.app_workers,
        postgres_url=args.db,
        replications=args.replications,
        bootstrap_replicates=args.bootstrap,
        seed=args.seed,
        pin=args.pin,
        scrape=scrape,
        locustfile=args.locustfile,
        configs=configs,
    )
    meta = result.run_meta
    print(f"pinning: {meta.get('pinning') or 'none'}")
    loadgen = meta.get("loadgen")
    if loadgen:
        print(
            f"load generator: busiest process at most {loadgen['max_busiest_pct']:.0f}% of a core"
        )
        if loadgen["saturated_steps"]:
            print(
                f"warning: the load generator was saturated (>= 90% of a core) in steps "
                f"{loadgen['saturated_steps']}: those figures measure it, not the app"
            )
    print(f"fit levels {list(result.fit_levels)}, held out {list(result.held_out)}")
    header = f"{'load':>5} {'X pred':>9} {'X meas':>9} {'X err':>7} {'p95 pred':>9} {'p95 meas':>9} {'p95 err':>8}"
    print(header)
    for r in result.records:
        print(
            f"{r['load']:>5} {r['predicted_throughput']:>9.1f} {r['measured_throughput']:>9.1f} "
            f"{r['throughput_error']:>+7.1%} {r['predicted_p95_ms']:>9.1f} "
            f"{r['measured_p95_ms']:>9.1f} {r['p95_error']:>+8.1%}"
        )
    for r in result.records:
        print(
            f"{'':>5} network model: X {r['network_throughput']:.1f} "
            f"({r['network_throughput_error']:+.1%}), p95 {r['network_p95_ms']:.1f} ms "
            f"({r['network_p95_error']:+.1%})"
        )
    for r in result.configurations:
        print(
            f"config {r['config']} at {r['load']}: X {r['predicted_throughput']:.1f} pred, "
            f"{r['measured_throughput']:.1f} meas ({r['throughput_error']:+.1%}); ratio to the "
            f"calibrated deployment {r['predicted_ratio']:.3f} pred, {r['measured_ratio']:.3f} "
            f"meas ({r['ratio_error']:+.1%}); p95 {r['predicted_p95_ms']:.1f} / "
            f"{r['measured_p95_ms']:.1f} ms"
        )
    for r in result.usl_kappa:
        free, zero = r["kappa_free"], r["kappa_zero"]
        print(
            f"USL at {r['load']} users: kappa free {free['predicted_throughput']:.1f}/s "
            f"({free['throughput_error']:+.1%}), kappa 0 {zero['predicted_throughput']:.1f}/s "
            f"({zero['throughput_error']:+.1%}), measured {r['measured_throughput']:.1f}/s"
        )
    for name, path in result.written.items():
        print(f"{name}: {path}")
    confirmed = all(
        r["throughput_within_target"] and r["p95_within_target"] for r in result.records
    ) and all(r["ratio_within_target"] for r in result.configurations)
    print("prediction confirmed" if confirmed else "prediction NOT confirmed (exit 4)")
    return EXIT_OK if confirmed else EXIT_UNDECIDED


def _confirm(args: argparse.Namespace) -> int:
    from loadtests.confirm import ConfirmOptions, run_confirm

    if args.run_dir is not None:
        raise UsageError("--confirm runs its own calibration: give --out DIR, not a RUN_DIR")
    options = ConfirmOptions(
        out_dir=args.out,
        start_app=args.start_app,
        host=args.host,
        postgres_url=args.db,
        scenario=args.scenario,
        levels=tuple(args.levels),
        hold_s=args.hold,
        duration_s=args.duration,
        arrival_multiple=args.arrival_multiple,
        patience_s=args.patience,
        replications=args.replications,
        bootstrap_replicates=args.bootstrap,
        seed=args.seed,
    )
    result = run_confirm(options)
    for name, r in zip(("R_ok", "R_bad"), result["runs"], strict=True):
        measured = r["measured_p95_ms"]
        print(
            f"{name}: admit {r['admission_rate']:.3g}/s, arrivals {r['arrival_rate']:.3g}/s: "
            f"booking p95 predicted {r['predicted_p95_ms']:.0f} ms, measured "
            f"{'-' if measured is None else f'{measured:.0f} ms'} (SLO {r['slo_p95_ms']:g} ms, "
            f"{'met' if r['slo_met'] else 'missed'})"
        )
    print(f"confirm.json: {args.out / 'confirm.json'}")
    print("prediction confirmed" if result["confirmed"] else "prediction NOT confirmed")
    return EXIT_OK if result["confirmed"] else EXIT_NOT_CONFIRMED
