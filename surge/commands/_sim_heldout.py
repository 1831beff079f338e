"""`surge sim heldout predict|score`: pre-registered held-out predictions, then their score."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MISS = 0.25  # a held-out median further than this from the public figure is not confirmed


def register(sub: argparse._SubParsersAction) -> None:
    heldout = sub.add_parser(
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
    pred.add_argument("--samples", type=int, default=16, help="ensemble size (default 16)")
    pred.add_argument("--seed", type=int, default=2021)
    pred.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    pred.add_argument("--out", type=Path, required=True, help="predictions JSON to write")
    pred.set_defaults(func=predict_command)
    sc = actions.add_parser("score", help="score predictions against observed figures")
    sc.add_argument("--predictions", type=Path, required=True)
    sc.add_argument("--observed", type=Path, required=True, help="JSON {figure: {low, high}}")
    sc.set_defaults(func=score_command)


def predict_command(args: argparse.Namespace) -> int:
    from simulations.national.heldout import predict, prediction_document
    from simulations.scenario.scenario import ScenarioError, load_scenario, scenario_path

    scenario = load_scenario(args.scenario)
    if not scenario.heldout:
        raise ScenarioError(f"scenario {scenario.name}: no [heldout] figures to predict")
    ensemble = predict(scenario, scenario.heldout, args.samples, args.seed, args.workers)
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


def score_command(args: argparse.Namespace) -> int:
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
    return 0 if missed.empty else 4
