"""`surge sim uncertainty`: KPI bands and parameter sensitivity over a scenario's priors."""

from __future__ import annotations

import argparse
from pathlib import Path

SHOWN = ("bookings", "peak_bookings_per_min", "wr_wait_peak_min", "abandonment", "sellout_min")


def register(sub: argparse._SubParsersAction) -> None:
    unc = sub.add_parser(
        "uncertainty",
        help="ensemble over the scenario's [priors]: 5-95%% bands on every KPI, PRCC sensitivity",
        description=(
            "Sample every [priors] parameter by Latin hypercube (scipy.stats.qmc), run each "
            "sample once, write ensemble.csv, bands.csv (5th/50th/95th percentile of every KPI) "
            "and sensitivity.csv (partial rank correlation coefficients)."
        ),
    )
    unc.add_argument("--scenario", required=True, help="built-in name or TOML file")
    unc.add_argument("--samples", type=int, default=64, help="ensemble size (default 64)")
    unc.add_argument("--seed", type=int, default=2021)
    unc.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    unc.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    unc.add_argument(
        "--out", type=Path, help="output directory (default results/uncertainty/<name>)"
    )
    unc.set_defaults(func=uncertainty_command)


def uncertainty_command(args: argparse.Namespace) -> int:
    from simulations.national.uncertainty import bands, kpi_ensemble, prcc
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    ensemble = kpi_ensemble(scenario, args.samples, args.seed, args.workers)
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
