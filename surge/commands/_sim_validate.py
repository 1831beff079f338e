"""`surge sim validate`: the model's building blocks against exact queueing theory."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    validate = sub.add_parser(
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
    validate.add_argument("--replications", type=int, default=10, help="per model (>= 10)")
    validate.add_argument("--seed", type=int, default=2021)
    validate.set_defaults(func=validate_command)


def validate_command(args: argparse.Namespace) -> int:
    if args.replications < 10:
        raise ValueError(f"--replications must be >= 10 (got {args.replications})")
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
    return 0 if failed == 0 else 1
