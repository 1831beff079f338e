"""The files of a campaign run (`surge sim run` on a scenario with `[campaign]`): replicate, then
write summary.json, daily.csv, timeseries.csv, recalls.csv, kpis.csv and campaign.png; and the
tables shown on screen."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from simulations.national.campaign import (
    CampaignResult,
    run_campaign_replications,
    simulate_campaign,
)
from simulations.replications import Replications
from simulations.scenario.scenario import Scenario

__all__ = [
    "CAMPAIGN_KPIS",
    "campaign_tables",
    "plot_campaign",
    "replicate_campaign",
    "write_campaign_outputs",
]

CAMPAIGN_KPIS = (
    "visitors",
    "bookers",
    "bookings",
    "bookings_day_max",
    "peak_bookings_per_min",
    "wr_wait_max_min",
    "days_sold_out",
    "abandoned",
    "deferred_at_end",
    "unmet_share",
    "recall_bookers",
    "no_shows",
    "lost_bookers",
    "lost_visitors",
)
DAILY_SHOWN = (
    ("date", "date", "s"),
    ("weekday", "day", "s"),
    ("visitors", "visitors", ",.0f"),
    ("bookings", "bookings", ",.0f"),
    ("cum_bookings", "cumulative", ",.0f"),
    ("wr_wait_max_min", "wait_max_min", ".1f"),
    ("sellout_time", "sold out at", "s"),
    ("unmet", "unmet", ",.0f"),
    ("deferred_to_next_day", "to next day", ",.0f"),
)


def replicate_campaign(scenario: Scenario, replications: int, seed: int) -> Replications:
    """`replications` independent campaigns (one run keeps the first stream of `seed`)."""
    if replications == 1:
        run = simulate_campaign(scenario, np.random.SeedSequence(seed).spawn(1)[0], progress=True)
        kpis = pd.DataFrame([run.kpis])
        kpis.index.name = "replication"
        return Replications(kpis=kpis, runs=[run])
    return run_campaign_replications(scenario, replications, seed, progress=True)


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def write_campaign_outputs(
    scenario: Scenario,
    reps: Replications,
    out: Path,
    *,
    seed: int,
    overrides: Sequence[str] = (),
    command: str = "",
    plots: bool = True,
) -> list[str]:
    """Write the run's files under `out` (daily, time series and recalls of the first
    replication); returns their names."""
    out.mkdir(parents=True, exist_ok=True)
    first: CampaignResult = reps.runs[0]
    first.daily.to_csv(out / "daily.csv", index=False)
    first.timeseries.to_csv(out / "timeseries.csv", index=False)
    first.recalls.to_csv(out / "recalls.csv", index=False)
    reps.kpis.to_csv(out / "kpis.csv")
    summary = reps.summary()
    document = {
        "scenario": scenario.name,
        "kind": "campaign",
        "seed": seed,
        "replications": len(reps.runs),
        "overrides": list(overrides),
        "command": command,
        "kpis": {
            name: {key: _number(row[key]) for key in ("mean", "ci_low", "ci_high")}
            for name, row in summary.iterrows()
        },
    }
    (out / "summary.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    written = ["summary.json", "daily.csv", "timeseries.csv", "recalls.csv", "kpis.csv"]
    if plots:
        fig = plot_campaign(first.daily, scenario.name)
        fig.savefig(out / "campaign.png", dpi=100)
        written.append("campaign.png")
    return written


def plot_campaign(daily: pd.DataFrame, title: str = ""):
    """Bookings a day (bars) and cumulative, unmet demand, and the longest wait each day."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    x = np.arange(len(daily))
    ax = axes[0]
    ax.bar(x, daily["bookings"], label="bookings")
    ax.bar(x, daily["unmet"], bottom=daily["bookings"], alpha=0.4, label="unmet (gave up or later)")
    ax.plot(x, daily["cum_bookings"], color="black", marker="o", label="cumulative bookings")
    ax.set_ylabel("bookers")
    ax.legend()
    ax.set_title(title)
    ax = axes[1]
    ax.plot(x, daily["wr_wait_max_min"], marker="o", color="tab:red", label="longest wait")
    ax.plot(x, daily["wr_wait_p95_min"], marker="o", color="tab:purple", label="95th pct wait")
    ax.set_ylabel("waiting room (min)")
    ax.legend()
    ax.set_xticks(x, [f"{d}\n{w}" for d, w in zip(daily["date"], daily["weekday"], strict=True)])
    fig.tight_layout()
    return fig


def _cell(value, fmt: str) -> str:
    if fmt == "s":
        return str(value) if value == value else ""
    return format(value, fmt)


def campaign_tables(name: str, reps: Replications) -> list[str]:
    """The first replication's days, then the campaign KPIs with 95% intervals, as text."""
    daily = reps.runs[0].daily
    widths = [max(len(h), 11) for _, h, _ in DAILY_SHOWN]
    lines = [f"{name}: day by day (replication 1)"]
    lines.append(" ".join(f"{h:>{w}s}" for (_, h, _), w in zip(DAILY_SHOWN, widths, strict=True)))
    for row in daily.itertuples(index=False):
        cells = [_cell(getattr(row, key), fmt) for key, _, fmt in DAILY_SHOWN]
        lines.append(" ".join(f"{c:>{w}s}" for c, w in zip(cells, widths, strict=True)))
    summary = reps.summary()
    lines.append(f"{name}: {len(reps.runs)} replication(s), 95% CI over replications")
    lines.append(f"{'kpi':26s} {'mean':>14s} {'ci_low':>14s} {'ci_high':>14s}")
    for kpi in CAMPAIGN_KPIS:
        row = summary.loc[kpi]
        cells = " ".join(
            f"{'-' if math.isnan(row[c]) else format(row[c], ',.4g'):>14s}"
            for c in ("mean", "ci_low", "ci_high")
        )
        lines.append(f"{kpi:26s} {cells}")
    return lines
