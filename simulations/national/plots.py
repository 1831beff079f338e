"""Plots of opening-day runs (matplotlib, Agg backend): reused by `surge sim run`, reports and
notebooks. Each function returns a Figure; the caller saves or shows it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from simulations.scenario.arrivals import arrival_rates_per_min  # noqa: E402
from simulations.scenario.scenario import Scenario  # noqa: E402

__all__ = [
    "plot_arrival_curve",
    "plot_regions",
    "plot_timeseries",
    "plot_waits",
    "save_run_plots",
]


def _clock_ticks(ax, df: pd.DataFrame) -> None:
    step = max(1, len(df) // 8)
    ax.set_xticks(df["minute"].iloc[::step], df["clock"].iloc[::step])


def plot_timeseries(df: pd.DataFrame, title: str = "") -> Figure:
    """Arrivals, queue, bookings and utilisation per minute (an opening-day time series)."""
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    ax = axes[0]
    ax.plot(df["minute"], df["arrivals"], label="new visitors / min")
    ax.plot(df["minute"], df["admitted"], label="admitted / min")
    ax.plot(df["minute"], df["returns"], label="returning / min")
    ax.set_ylabel("visitors / min")
    ax.legend()
    ax = axes[1]
    ax.plot(df["minute"], df["in_queue"], color="tab:red", label="in waiting room")
    ax.set_ylabel("visitors queued")
    twin = ax.twinx()
    twin.plot(df["minute"], df["wr_wait_mean_min"], color="tab:purple", label="wait (min)")
    twin.set_ylabel("mean wait of admitted (min)")
    ax.legend(loc="upper left")
    twin.legend(loc="upper right")
    ax = axes[2]
    ax.plot(df["minute"], df["bookings"], color="tab:green", label="bookings / min")
    for column, colour in (
        ("no_slot", "tab:orange"),
        ("taken", "tab:brown"),
        ("errors", "tab:red"),
    ):
        ax.plot(df["minute"], df[column], color=colour, label=f"failed: {column}")
    ax.set_ylabel("per minute")
    ax.legend()
    ax = axes[3]
    ax.plot(df["minute"], df["web_utilisation"], label="web utilisation")
    ax.plot(df["minute"], df["db_utilisation"], label="DB utilisation")
    ax.plot(df["minute"], df["centers_sold_out_share"], label="centres sold out (share)")
    ax.set_ylim(0, 1.05)
    ax.legend()
    _clock_ticks(ax, df)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_arrival_curve(scenario: Scenario, points: int = 600) -> Figure:
    """The scenario's arrival rate (visitors per minute) over its duration."""
    t = np.linspace(0.0, scenario.duration_min, points)
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(t, arrival_rates_per_min(scenario.scaled().demand, t, scenario.clock_start_min))
    ax.set_xlabel(f"minutes after {scenario.clock_start}")
    ax.set_ylabel("arrivals / min")
    ax.set_title(f"{scenario.name}: arrival curve")
    fig.tight_layout()
    return fig


def plot_waits(visitors: pd.DataFrame) -> Figure:
    """Waiting-room waits of sampled visitors against their arrival time."""
    fig, ax = plt.subplots(figsize=(9, 4))
    for outcome, group in visitors.groupby("outcome"):
        ax.scatter(group["arrival_min"], group["wr_wait_min"], s=3, alpha=0.4, label=outcome)
    ax.set_xlabel("arrival (minutes after start)")
    ax.set_ylabel("waiting-room wait (min)")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_regions(regions: pd.DataFrame, title: str = "") -> Figure:
    """Per department (a `regions.csv` frame): bookers split into booked, unmet (abandoned or
    still trying) as stacked bars, and the minute half its centres were sold out."""
    df = regions.reset_index(drop=True)
    x = np.arange(len(df))
    fig, axes = plt.subplots(2, 1, figsize=(max(10, len(df) * 0.16), 7), sharex=True)
    ax = axes[0]
    ax.bar(x, df["bookings"], color="tab:green", label="booked")
    ax.bar(x, df["abandoned"], bottom=df["bookings"], color="tab:red", label="abandoned")
    ax.bar(
        x,
        df["in_system"],
        bottom=df["bookings"] + df["abandoned"],
        color="tab:orange",
        label="still trying at the end",
    )
    ax.set_ylabel("bookers by home department")
    ax.legend()
    ax = axes[1]
    never = df["sellout_min"].isna()
    ax.bar(x[~never], df.loc[~never, "sellout_min"], color="tab:purple")
    ax.set_ylabel("half its centres sold out (min)")
    ax.set_xticks(x, df["department"], rotation=90, fontsize=6)
    ax.set_xlabel("department (no bar: never sold out)")
    if title:
        fig.suptitle(f"{title}: per department")
    fig.tight_layout()
    return fig


def save_run_plots(
    scenario: Scenario,
    timeseries: pd.DataFrame,
    visitors: pd.DataFrame,
    out,
    regions: pd.DataFrame | None = None,
) -> list:
    """Write timeseries.png, arrivals.png, waits.png (and regions.png with a per-department
    frame) into `out`; returns the paths."""
    figures = {
        "timeseries.png": plot_timeseries(timeseries, scenario.name),
        "arrivals.png": plot_arrival_curve(scenario),
        "waits.png": plot_waits(visitors),
    }
    if regions is not None:
        figures["regions.png"] = plot_regions(regions, scenario.name)
    paths = []
    for name, fig in figures.items():
        path = out / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
