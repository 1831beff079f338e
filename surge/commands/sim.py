"""`surge sim run|scenarios|center|validate|crosscheck`: the SimPy models (national opening day, a
vaccination centre's day, and the model's check against exact queueing theory)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from surge.commands import types
from surge.errors import UsageError
from surge.exit_codes import EXIT_OK, EXIT_SLO_BREACHED, EXIT_UNDECIDED

MISS = 0.25  # a held-out median further than this from the public figure is not confirmed
SHOWN = ("bookings", "peak_bookings_per_min", "wr_wait_peak_min", "abandonment", "sellout_min")


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
        help="simulate an opening day or a campaign; write summary.json, timeseries.csv, plots",
        description=(
            "Simulate a scenario (built-in name or TOML file) with SimPy. A campaign scenario "
            "(one with a [campaign] section) runs day after day and also writes daily.csv and "
            "recalls.csv."
        ),
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
        help="check the shipped components (centre, waiting room, tiers, retries, slots) "
        "against exact theory",
        description=(
            "Run the shipped components (the centre model, the waiting room event-driven and "
            "ticked, the web/DB tier, the retry loop, slot choice) in configurations with exact "
            "answers over >= 10 replications and print simulated vs exact with confidence "
            "intervals, Bonferroni-adjusted so that all checks together hold at 95%%. Identities "
            "(Little's law, utilisation, conservation) are labelled and counted apart. Exit 0 "
            "only when every exact value lies in its interval (or within 2%% of the simulated "
            "mean)."
        ),
    )
    validate.add_argument("--quick", action="store_true", help="shorter runs (wider intervals)")
    validate.add_argument(
        "--replications", type=types.positive_int, default=10, help="per model (>= 10)"
    )
    validate.add_argument("--seed", type=int, default=2021)
    validate.set_defaults(func=_validate)

    cross = sim_sub.add_parser(
        "crosscheck",
        help="the count model against a per-visitor SimPy model on the scenario scaled 1:N",
        description=(
            "Scale the scenario by --scale (0.01: 1:100; visitors, admission rate, workers, "
            "connections and centres multiplied by it), run the count model and the per-visitor model --replications times "
            "each, and compare bookings, peak bookings a minute, peak waiting-room wait, "
            "abandonment and sell-out time (Welch intervals on the difference, Bonferroni over "
            "the KPIs). Exit 0 when every KPI agrees, 1 otherwise."
        ),
    )
    cross.add_argument("--scenario", required=True, help="built-in name or TOML file")
    cross.add_argument(
        "--scale",
        type=types.positive_float,
        default=0.01,
        help="simulated visitors per real visitor, as for loadtest run (default 0.01: 1:100)",
    )
    cross.add_argument(
        "--replications", type=types.positive_int, default=10, help="per model (default 10)"
    )
    cross.add_argument("--seed", type=int, default=2021)
    cross.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    cross.add_argument("--out", type=Path, help="write runs.csv and agreement.csv here")
    cross.set_defaults(func=_crosscheck)

    heldout = sim_sub.add_parser(
        "heldout",
        help="predict figures a scenario was not fitted to (ensemble over its priors); score them",
        description=(
            "predict: run an ensemble (Latin hypercube over the scenario's [priors]) and write "
            "each [heldout] figure's median and 5-95%% band to JSON, to commit before the public "
            "figures. score: compare a predictions JSON with observed figures (error of the "
            "median, Winkler score of the band); exit 4 if any error exceeds 25%%."
        ),
    )
    actions = heldout.add_subparsers(dest="heldout_action", metavar="ACTION", required=True)
    pred = actions.add_parser("predict", help="run the ensemble and write the predictions")
    pred.add_argument("--scenario", required=True, help="built-in name or TOML file")
    pred.add_argument(
        "--samples", type=types.positive_int, default=16, help="ensemble size (default 16)"
    )
    pred.add_argument("--seed", type=int, default=2021)
    pred.add_argument(
        "--processes", type=types.positive_int, default=1, help="local processes (default 1)"
    )
    pred.add_argument("--out", type=Path, required=True, help="predictions JSON to write")
    pred.set_defaults(func=_heldout_predict)
    sc = actions.add_parser("score", help="score predictions against observed figures")
    sc.add_argument("--predictions", type=Path, required=True)
    sc.add_argument("--observed", type=Path, required=True, help="JSON {figure: {low, high}}")
    sc.set_defaults(func=_heldout_score)

    unc = sim_sub.add_parser(
        "uncertainty",
        help="ensemble over the scenario's [priors]: 5-95%% bands on every KPI, PRCC sensitivity",
        description=(
            "Sample every [priors] parameter by Latin hypercube (scipy.stats.qmc), run each "
            "sample once, write ensemble.csv, bands.csv (5th/50th/95th percentile of every KPI) "
            "and sensitivity.csv (partial rank correlation coefficients)."
        ),
    )
    unc.add_argument("--scenario", required=True, help="built-in name or TOML file")
    unc.add_argument(
        "--samples", type=types.positive_int, default=64, help="ensemble size (default 64)"
    )
    unc.add_argument("--seed", type=int, default=2021)
    unc.add_argument(
        "--processes", type=types.positive_int, default=1, help="local processes (default 1)"
    )
    unc.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    unc.add_argument(
        "--out", type=Path, help="output directory (default results/uncertainty/<name>)"
    )
    unc.set_defaults(func=_uncertainty)


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
    if scenario.campaign is not None:
        return _run_campaign(args, scenario, out)
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


def _run_campaign(args: argparse.Namespace, scenario, out: Path) -> int:
    from simulations.national.campaign_outputs import (
        campaign_tables,
        replicate_campaign,
        write_campaign_outputs,
    )

    reps = replicate_campaign(scenario, args.replications, args.seed)
    written = write_campaign_outputs(
        scenario,
        reps,
        out,
        seed=args.seed,
        overrides=args.overrides,
        command="surge " + " ".join(sys.argv[1:]) if sys.argv else "",
        plots=not args.no_plots,
    )
    print("\n".join(campaign_tables(scenario.name, reps)))
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
        f"{len(frame)} simultaneous checks of the shipped components, {args.replications} "
        f"replications each: Bonferroni intervals at {level} per check (95% for the family)"
    )
    print(
        f"{'model':58s} {'kind':8s} {'metric':20s} {'exact':>9s} {'simulated':>9s} {level:>21s}  ok"
    )
    for row in frame.itertuples():
        interval = f"[{row.ci_low:.4g}, {row.ci_high:.4g}]"
        mark = "yes" if row.passed else "NO"
        print(
            f"{row.model:58s} {row.kind:8s} {row.metric:20s} {row.exact:9.4g} {row.simulated:9.4g} "
            f"{interval:>21s}  {mark}"
        )
    theory = frame[frame["kind"] == "theory"]
    identity = frame[frame["kind"] == "identity"]
    print(
        f"{int(theory['passed'].sum())}/{len(theory)} theory checks passed "
        f"({', '.join(sorted(theory['component'].unique()))}); "
        f"identities, not counted: {int(identity['passed'].sum())}/{len(identity)} held"
    )
    failed = int((~frame["passed"]).sum())
    return EXIT_OK if failed == 0 else EXIT_SLO_BREACHED


def _crosscheck(args: argparse.Namespace) -> int:
    if args.scale > 1:
        raise UsageError(f"--scale is visitors per real visitor, at most 1 (got {args.scale:g})")
    if args.replications < 2:
        raise UsageError(f"--replications must be >= 2 (got {args.replications})")
    from simulations.national.crosscheck import crosscheck
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    factor = 1.0 / args.scale
    runs, table = crosscheck(scenario, factor, args.replications, args.seed, progress=True)
    level = f"{100 * table['level'].iloc[0]:.1f}%"
    print(
        f"{scenario.name} at 1:{factor:g}: count model vs per-visitor model, "
        f"{args.replications} replications each (95% intervals; difference at {level})"
    )
    print(f"{'kpi':22s} {'count':>24s} {'per visitor':>24s} {'difference':>26s}  agree")
    for row in table.itertuples():
        count = _interval(row.count_mean, row.count_low, row.count_high)
        visitor = _interval(row.per_visitor_mean, row.per_visitor_low, row.per_visitor_high)
        diff = f"{row.diff:+.3g} [{row.diff_low:+.3g}, {row.diff_high:+.3g}]"
        print(
            f"{row.kpi:22s} {count:>24s} {visitor:>24s} {diff:>26s}  {'yes' if row.agrees else 'NO'}"
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        runs.to_csv(args.out / "runs.csv", index=False)
        table.to_csv(args.out / "agreement.csv", index=False)
        print(f"wrote {args.out}/runs.csv, agreement.csv")
    agreed = int(table["agrees"].sum())
    print(f"{agreed}/{len(table)} KPIs agree")
    return EXIT_OK if agreed == len(table) else EXIT_SLO_BREACHED


def _interval(mean: float, low: float, high: float) -> str:
    """`mean [low, high]`, or "never" for a KPI no run reached (all NaN)."""
    if mean != mean:
        return "never"
    return f"{mean:.4g} [{low:.4g}, {high:.4g}]"


def _heldout_predict(args: argparse.Namespace) -> int:
    from simulations.national.heldout import predict, prediction_document
    from simulations.scenario.scenario import ScenarioError, load_scenario, scenario_path

    scenario = load_scenario(args.scenario)
    if not scenario.heldout:
        raise ScenarioError(f"scenario {scenario.name}: no [heldout] figures to predict")
    ensemble = predict(scenario, scenario.heldout, args.samples, args.seed, args.processes)
    text = scenario_path(args.scenario).read_text(encoding="utf-8")
    document = prediction_document(scenario, ensemble, args.samples, args.seed, text)
    document["command"] = "surge " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"{scenario.name}: {args.samples} samples, median and 5-95% band")
    for name, p in document["predictions"].items():
        print(f"{name:24s} {p['median']:>12,.0f} [{p['low']:,.0f}, {p['high']:,.0f}]")
    print(f"wrote {args.out}")
    return 0


def _heldout_score(args: argparse.Namespace) -> int:
    from simulations.national.heldout import score
    from simulations.scenario.scenario import ScenarioError

    documents = []
    for path in (args.predictions, args.observed):
        try:
            documents.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise ScenarioError(f"{path}: cannot read JSON ({exc})") from None
    predictions, observed = documents
    table = score(predictions["predictions"], observed["figures"])
    print(
        f"{'figure':24s} {'public':>12s} {'model':>12s} {'90% band':>25s} {'error':>8s} "
        f"{'winkler/public':>14s}"
    )
    for row in table.itertuples():
        band = f"[{row.low:,.0f}, {row.high:,.0f}]"
        print(
            f"{row.figure:24s} {row.public:>12,.0f} {row.median:>12,.0f} {band:>25s} "
            f"{100 * row.error:>+7.1f}% {row.winkler_relative:>14.2f}"
        )
    missed = table[table["error"].abs() > MISS]
    print(f"{len(table) - len(missed)}/{len(table)} held-out figures within {MISS:.0%}")
    return EXIT_OK if missed.empty else EXIT_UNDECIDED


def _uncertainty(args: argparse.Namespace) -> int:
    from simulations.national.uncertainty import bands, kpi_ensemble, prcc
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    ensemble = kpi_ensemble(scenario, args.samples, args.seed, args.processes)
    params = list(scenario.priors)
    kpis = [c for c in ensemble.columns if c not in params]
    band = bands(ensemble, kpis)
    sens = prcc(ensemble, params, kpis)
    out = args.out or Path("results") / "uncertainty" / scenario.name
    out.mkdir(parents=True, exist_ok=True)
    ensemble.to_csv(out / "ensemble.csv", index_label="sample")
    band.to_csv(out / "bands.csv")
    sens.to_csv(out / "sensitivity.csv")
    print(f"{scenario.name}: {args.samples} samples over {len(params)} priors")
    print(f"{'kpi':24s} {'p05':>12s} {'median':>12s} {'p95':>12s}  most influential (PRCC)")
    for kpi in (k for k in SHOWN if k in band.index):
        row = band.loc[kpi]
        top = sens[kpi].abs().idxmax() if sens[kpi].notna().any() else "-"
        rho = sens.loc[top, kpi] if top != "-" else float("nan")
        print(
            f"{kpi:24s} {row.p05:>12.4g} {row['median']:>12.4g} {row.p95:>12.4g}  {top} ({rho:+.2f})"
        )
    print(f"wrote {out}/ensemble.csv, bands.csv, sensitivity.csv")
    return 0
