"""`surge demo`: the whole suite end to end (app, load test, simulation, sizing) and one page.

The steps live in `surge.demo.steps` (the app walkthrough in `surge.demo.walkthrough`), the page
in `surge.demo.page`; this module parses, prints and sets the exit code.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from surge.exit_codes import EXIT_OK, EXIT_SLO_BREACHED


def _demo(args: argparse.Namespace) -> int:
    from surge.demo.page import StepRecord, write_index
    from surge.demo.steps import demo_steps, run_step
    from surge.demo.walkthrough import app_step

    started = time.perf_counter()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    mode = "quick" if args.quick else "full"
    print(f"surge demo ({mode}): results under {out}")
    records: list[StepRecord] = []

    print("[1/5] The reference app on SQLite: seed, serve, book one patient through HTTP")
    workdir = Path(args.workdir) if args.workdir else out / "app"
    # ours (no --workdir): start from a fresh database on every demo
    record, walkthrough = app_step(workdir, fresh=not args.workdir)
    records.append(record)

    steps = demo_steps(out, quick=args.quick)
    for number, step in enumerate(steps, start=2):
        print(f"[{number}/{len(steps) + 1}] {step.title}")
        print(f"    $ {step.command}")
        record = run_step(step, out, echo=None if args.quiet else print)
        records.append(record)
        print(f"    -> {record.outcome} (exit {record.exit_code}) in {record.seconds:.0f} s")

    page = write_index(out, records, walkthrough)
    (out / "steps.json").write_text(
        json.dumps({"steps": [asdict(r) for r in records], "walkthrough": walkthrough}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    elapsed = time.perf_counter() - started
    print(f"demo finished in {elapsed:.0f} s")
    for record in records:
        print(f"  {record.outcome:<14} {record.seconds:6.0f} s  {record.title}")
    print("where to look:")
    print(f"  {page}  (open in a browser: everything below, linked)")
    print(f"  {out / 'loadtest' / 'report.html'}  (load-test report)")
    print(f"  {out / 'sim'}/*.png, summary.json  (simulation)")
    print(f"  {out / 'size'}/  (sizing tables and plots)")
    failed = [r for r in records if r.outcome not in ("ok", "SLO breached")]
    if any(r.outcome == "SLO breached" for r in records):
        print("note: the load test breached an SLO on this machine; the page shows which rule")
    return EXIT_SLO_BREACHED if failed else EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="end-to-end demo: app, load test, national simulation, sizing, one HTML page",
        description="Seed and serve the reference app on SQLite and book through HTTP; replay "
        "the 12 July 2021 evening against it with the load test (gated by SLOs); simulate the "
        "whole evening nationally; size the waiting room and the slot supply; write "
        "OUT/index.html linking the load-test report, the simulation plots and the sizing "
        "tables. A few minutes on 2 cores (--quick: about a minute, tiny parameters). Exit 0 "
        "when every step ran (an SLO breach is a result, shown on the page), 1 when one failed.",
    )
    demo.add_argument(
        "--out", default="results/demo", help="results directory (default results/demo)"
    )
    demo.add_argument(
        "--quick", action="store_true", help="tiny parameters (about a minute; used by tests)"
    )
    demo.add_argument("--quiet", action="store_true", help="do not echo each step's output")
    demo.add_argument(
        "--workdir", help="keep the walkthrough's database and server log here (default OUT/app)"
    )
    demo.set_defaults(func=_demo)
