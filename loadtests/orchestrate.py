"""One load test end to end, as `surge loadtest run` and `surge loadtest compare` do it:
plan -> execute -> summary.json -> SLO verdict -> baseline comparison -> report.html -> exit code.

Exit codes (`surge.exit_codes`): 0 pass, 1 SLO breached (or, for a soak, a soak target
missed: `loadtests.soak`), 3 regression against the baseline (when
the SLOs pass); bad usage or config is raised as a `surge.errors.SurgeError` (exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests.errors import LoadTestInputError, RunDirectoryError
from loadtests.plan import RunOptions, plan_run
from surge.exit_codes import EXIT_OK as EXIT_PASS
from surge.exit_codes import EXIT_REGRESSION
from surge.exit_codes import EXIT_SLO_BREACHED as EXIT_SLO

if TYPE_CHECKING:
    from loadtests.verdicts.compare import CompareRule

__all__ = [
    "EXIT_PASS",
    "EXIT_REGRESSION",
    "EXIT_SLO",
    "compare_dirs",
    "make_baseline",
    "run_loadtest",
]


def _requests_of(directory: Path):
    import pandas as pd

    path = directory / "requests.csv"
    if not path.exists():
        raise RunDirectoryError(f"{directory} has no requests.csv (not a run or baseline dir)")
    return pd.read_csv(path, usecols=["name", "response_time_ms", "ok"], keep_default_na=False)


def compare_dirs(run_dir: Path, baseline_dir: Path, rule: CompareRule | None = None) -> dict:
    from loadtests.verdicts.compare import CompareRule, compare_runs

    result = compare_runs(_requests_of(run_dir), _requests_of(baseline_dir), rule or CompareRule())
    result["path"] = str(baseline_dir)
    return result


def make_baseline(run_dir: Path, baseline_dir: Path) -> Path:
    """Keep what a comparison needs from a run: its summary, plan and a slim requests.csv
    (route, latency to 0.1 ms, ok): small enough to commit under results/baselines/."""
    requests = _requests_of(run_dir)
    if not (run_dir / "summary.json").exists():
        raise RunDirectoryError(f"{run_dir} has no summary.json (an unfinished run?)")
    baseline_dir.mkdir(parents=True, exist_ok=True)
    requests["response_time_ms"] = requests["response_time_ms"].astype(float).round(1)
    requests.to_csv(baseline_dir / "requests.csv", index=False)
    for name in ("summary.json", "plan.json"):
        source = run_dir / name
        if source.exists():
            (baseline_dir / name).write_text(source.read_text())
    return baseline_dir


def run_loadtest(options: RunOptions, echo: Callable[[str], None] = print) -> int:
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(options.scenario, options.overrides)
    slo = None
    if options.slo_file is not None:
        from simulations.scenario.slo import load_slo

        slo = load_slo(options.slo_file)
    journey = None
    if options.locustfile is not None:
        from loadtests.execute import check_reachable
        from loadtests.journeys.journey_file import read_journey_file

        if options.host:  # before importing the file (seconds): a dead host fails at once
            check_reachable(options.host.rstrip("/"), health_path=None)

        journey = read_journey_file(options.locustfile)
    plan = plan_run(options, scenario, journey, slo)
    if options.baseline is not None and not (options.baseline / "requests.csv").exists():
        raise RunDirectoryError(f"baseline {options.baseline} has no requests.csv")
    from loadtests.verdicts.compare import named_rule

    rule = named_rule(options.compare_rule)
    from loadtests.execute import check_reachable, execute

    if options.host:
        check_reachable(options.host.rstrip("/"), health_path=plan.health_path)
    # Heavy imports (pandas, scipy, matplotlib) only once the input is known to be good.
    from loadtests.reports.html import render_report
    from loadtests.reports.summary import build_summary, read_run

    options.out_dir.mkdir(parents=True, exist_ok=True)
    extra = execute(plan, echo)
    run = read_run(options.out_dir)
    summary = build_summary(run, extra, plan.slo)
    if not plan.reference_journey and not summary["total"]["count"]:
        raise LoadTestInputError(
            f"journey file {plan.journey.path} made no request in {plan.duration_s:g}s (does "
            f"journey() or a task call self.client?); see {options.out_dir / 'locust.log'}"
        )
    summary["command"] = {"wall_s": extra["wall_s"], "locust_exit_code": extra["locust_exit_code"]}
    code = EXIT_PASS if summary["slo"]["passed"] else EXIT_SLO
    if options.baseline is not None:
        summary["baseline"] = compare_dirs(options.out_dir, options.baseline, rule)
        if code == EXIT_PASS and summary["baseline"]["regression"]:
            code = EXIT_REGRESSION
    if options.soak is not None:
        soak = _judge_soak(options, run, summary)
        summary["soak"] = {"passed": soak["passed"], "checks": soak["checks"], "file": "soak.json"}
        if not soak["passed"]:  # as the SLO: before a baseline regression
            code = EXIT_SLO
    summary["exit_code"] = code
    (options.out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (options.out_dir / "report.html").write_text(render_report(run, summary))
    if options.junit is not None:
        from loadtests.reports.junit import run_cases, write_junit

        write_junit(options.junit, f"loadtest run {summary['scenario']}", run_cases(summary))
    for line in describe(summary):
        echo(line)
    if options.soak is not None:
        from loadtests.soak import describe_soak

        for line in describe_soak(json.loads((options.out_dir / "soak.json").read_text())):
            echo(line)
    echo(f"run directory: {options.out_dir} (summary.json, report.html)")
    return code


def _judge_soak(options: RunOptions, run: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """The soak analysis of a finished run, written to soak.json."""
    import pandas as pd

    from loadtests.soak import analyse_soak

    supply_path = options.out_dir / "supply.csv"
    result = analyse_soak(
        run.monitor,
        run.requests,
        run.start_epoch_s,
        float(summary["duration_s"]),
        options.soak,
        summary.get("invariants"),
        supply=pd.read_csv(supply_path) if supply_path.exists() else None,
        seed=options.seed or 0,
    )
    (options.out_dir / "soak.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def describe(summary: dict[str, Any]) -> list[str]:
    total = summary["total"]
    journey = summary.get("journey") or {"reference": True}
    line = f"{total['count']} requests, {total['failures']} failed, {(total['rps'] or 0):.1f} req/s"
    if journey["reference"]:
        line += f"; bookings {summary['bookings']}"
    lines = [line]
    arrivals = summary["arrivals"]
    if arrivals["scheduled"]:
        lines.append(
            f"arrivals: {arrivals['started']} started of {arrivals['scheduled']} scheduled "
            f"(expected {arrivals['expected'] or 0:.0f}), {arrivals['late']} late, "
            f"{arrivals['dropped']} dropped"
        )
    for rule in summary["slo"]["rules"]:
        if not rule["passed"]:
            lines.append(f"SLO breached: {rule['rule']}: {rule['detail']}")
    lines.append("SLO: pass" if summary["slo"]["passed"] else "SLO: BREACHED")
    baseline = summary.get("baseline")
    if baseline:
        lines.append(
            "baseline: REGRESSION on " + ", ".join(baseline["regressed_routes"])
            if baseline["regression"]
            else "baseline: no regression"
        )
    return lines
