"""`surge sim center`: one day at a vaccination centre, with replications and 95% intervals."""

from __future__ import annotations

import argparse
from pathlib import Path


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from simulations.center.config import load_center
    from simulations.center.report import run_center_replications, write_center_outputs

    config = load_center(args.config)
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
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "center",
        help="simulate a vaccination centre day (TOML config or built-in name)",
        description=(
            "Simulate patients through a vaccination centre's stations. --config is a TOML file "
            "or a built-in centre: mass-hub, berlin-messe, gp-practice, drive-through, hanly-medium-hub, mmc-desk. Writes "
            "summary.json (means and 95%% intervals), replications.csv and queue_lengths.png."
        ),
    )
    parser.add_argument("--config", required=True, help="TOML file or built-in centre name")
    parser.add_argument("--replications", type=_positive, default=10, help="default 10")
    parser.add_argument("--seed", type=int, default=1, help="root seed (default 1)")
    parser.add_argument("--out", default="results/center", help="output directory")
    parser.set_defaults(func=run)
