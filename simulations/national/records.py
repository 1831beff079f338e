"""Records of an opening-day run: per-tick counters, the per-minute time series, KPIs, and
sampled per-visitor waiting-room episodes. Pure bookkeeping over the state of a finished day
(`DayState`, which `simulations.national.day.OpeningDay` satisfies)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from simulations.national.slots import Slots
    from simulations.national.waiting_room import WaitingRoom
    from simulations.scenario.scenario import Scenario

SUMMED = (
    "arrivals",
    "returns",
    "joined",
    "admitted",
    "admitted_wait_s",
    "reneged",
    "bookings",
    "errors",
    "taken",
    "no_slot",
    "checkout_drops",
    "retries",
    "deferrals",
    "abandons",
    "origin_requests",
    "failed_requests",
    "edge_requests",
)
AVERAGED = ("web_utilisation", "db_utilisation", "web_wait_s")
LAST = ("in_queue", "active_sessions", "slots_left", "centers_sold_out_share")
MAXED = ("oldest_wait_s",)


class Recorder:
    """Per-tick columns, aggregated to minutes at the end."""

    def __init__(self, n_ticks: int, tick_s: float) -> None:
        self.tick_s = tick_s
        names = SUMMED + AVERAGED + LAST + MAXED
        self.cols = {name: np.zeros(n_ticks, dtype=np.float64) for name in names}
        self.queue_area = 0.0

    def add(self, t: int, **values: float) -> None:
        for name, value in values.items():
            self.cols[name][t] += value

    def set(self, t: int, **values: float) -> None:
        for name, value in values.items():
            self.cols[name][t] = value

    def per_minute(self, clock_start: str, start_date: str | None = None) -> pd.DataFrame:
        ticks = pd.DataFrame(self.cols)
        minute = (np.arange(len(ticks)) * self.tick_s // 60).astype(int)
        grouped = ticks.groupby(minute)
        df = grouped[list(SUMMED)].sum()
        df = df.join(grouped[list(AVERAGED)].mean()).join(grouped[list(LAST)].last())
        df = df.join(grouped[list(MAXED)].max())
        df.index.name = "minute"
        seconds = 60.0 * grouped.size()  # the last minute may be partial
        seconds = np.minimum(seconds * self.tick_s / 60.0, 60.0)
        df["wr_wait_mean_min"] = np.where(
            df["admitted"] > 0, df["admitted_wait_s"] / df["admitted"].clip(lower=1) / 60.0, 0.0
        )
        df["wr_oldest_min"] = df.pop("oldest_wait_s") / 60.0
        df["origin_requests_per_s"] = df["origin_requests"] / seconds
        df["edge_requests_per_s"] = df.pop("edge_requests") / seconds
        df["request_error_share"] = np.where(
            df["origin_requests"] > 0, df["failed_requests"] / df["origin_requests"], 0.0
        )
        df = df.drop(columns=["admitted_wait_s", "failed_requests", "origin_requests"])
        df["cum_arrivals"] = df["arrivals"].cumsum()
        df["cum_bookings"] = df["bookings"].cumsum()
        start_h, start_m = (int(x) for x in clock_start.split(":"))
        clock = start_h * 60 + start_m + df.index.to_numpy()
        df.insert(0, "clock", [f"{(m // 60) % 24:02d}:{m % 60:02d}" for m in clock])
        if start_date is not None:
            start = pd.Timestamp(f"{start_date}T{clock_start}")
            times = start + pd.to_timedelta(df.index.to_numpy(), unit="min")
            df.insert(1, "time", times.strftime("%Y-%m-%dT%H:%M"))
        return df.reset_index()


class DayState(Protocol):
    """What the records read of a finished opening day."""

    sc: Scenario
    rng: dict[str, np.random.Generator]
    rec: Recorder
    count: dict[str, int]
    wr: WaitingRoom
    slots: Slots
    n_ticks: int
    tick_s: float

    @property
    def active(self) -> int:
        """Visitors in a session (browsing, searching or checking out) at the end."""
        ...


def build_result(day: DayState) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame]:
    ts = day.rec.per_minute(day.sc.clock_start, day.sc.start_date)
    c, wr, slots = day.count, day.wr, day.slots
    end_s = day.n_ticks * day.tick_s
    pending = c["scheduled"] - c["returns"]
    abandoned = sum(v for k, v in c.items() if k.startswith("abandon_"))
    in_system = wr.length + day.active + pending
    accounted = c["bookings"] + c["browsed"] + c["browser_reneges"] + abandoned + in_system
    queue_l = day.rec.queue_area / end_s
    queue_lw = (wr.waited_s + wr.queued_age_s(end_s)) / end_s
    full_minutes = ts.index[ts["centers_sold_out_share"] >= 0.5]
    arrivals_15 = ts["arrivals"].rolling(15, min_periods=1).sum()
    busiest = ts["admitted"] > 0
    kpis: dict[str, float] = {
        "visitors": float(c["visitors"]),
        "visitors_max_15min": float(arrivals_15.max()),
        "returns": float(c["returns"]),
        "bookings": float(c["bookings"]),
        "peak_bookings_per_min": float(ts["bookings"].max()),
        "conversion": c["bookings"] / max(c["visitors"], 1),
        "wr_wait_p50_min": wr.wait_quantile_s(0.50) / 60.0,
        "wr_wait_p95_min": wr.wait_quantile_s(0.95) / 60.0,
        "wr_wait_max_min": wr.max_wait_s / 60.0,
        "wr_wait_peak_min": float(ts.loc[busiest, "wr_wait_mean_min"].max())
        if busiest.any()
        else 0.0,
        "wr_queue_max": float(ts["in_queue"].max()),
        "wr_renege_share": wr.reneged / max(wr.joined, 1),
        "abandonment": abandoned / max(c["bookers"], 1),
        "deferred_pending": float(pending),
        "retries": float(c["retries"]),
        "sellout_min": float(ts.loc[full_minutes[0], "minute"]) if len(full_minutes) else math.nan,
        "centers_sold_out_share": slots.sold_out_share(),
        "slots_left_share": float(
            np.maximum(slots.free, 0).sum() / max(slots.initial_free + slots.released, 1)
        ),
        "slots_released": float(slots.released),
        "lead_time_days_mean": slots.lead_time_days_mean(),
        "expected_no_shows": c["bookings"] * day.sc.supply.no_show_share,
        "web_utilisation": float(day.rec.cols["web_utilisation"].mean()),
        "web_utilisation_peak": float(ts["web_utilisation"].max()),
        "db_utilisation": float(day.rec.cols["db_utilisation"].mean()),
        "db_utilisation_peak": float(ts["db_utilisation"].max()),
        "request_error_rate": float(
            day.rec.cols["failed_requests"].sum() / max(day.rec.cols["origin_requests"].sum(), 1e-9)
        ),
        "booking_success": c["bookings"] / max(c["bookings"] + c["commit_errors"], 1),
        "origin_requests_peak_per_s": float(ts["origin_requests_per_s"].max()),
        "edge_requests_peak_per_s": float(ts["edge_requests_per_s"].max()),
        "littles_law_gap": abs(queue_l - queue_lw) / queue_l if queue_l > 0 else 0.0,
        "lost_visitors": float(c["visitors"] + c.get("carried_in", 0) - accounted),
        "visitor_events": float(c["events"]),
    }
    visitors = _sample_visitors(day)
    return kpis, ts, visitors


def _sample_visitors(day: DayState) -> pd.DataFrame:
    """`model.visitor_sample` waiting-room episodes drawn with probability proportional to size."""
    columns = ["arrival_min", "left_queue_min", "wr_wait_min", "outcome", "attempt"]
    log = day.wr.log or []
    n = day.sc.model.visitor_sample
    if not log or n == 0:
        return pd.DataFrame(columns=columns)
    joined = np.concatenate([entry[0] for entry in log])
    left = np.concatenate([np.full(len(entry[0]), entry[1]) for entry in log])
    counts = np.concatenate([entry[2] for entry in log])  # rows x classes
    outcome = np.concatenate([np.full(len(entry[0]), entry[3]) for entry in log])
    flat = counts.ravel().astype(np.float64)
    if flat.sum() == 0:
        return pd.DataFrame(columns=columns)
    rng = day.rng["records"]
    picks = rng.choice(len(flat), size=n, p=flat / flat.sum())
    rows, attempt = np.divmod(picks, counts.shape[1])
    attempt = attempt % (day.sc.behaviour.retry_max + 2)  # classes: department * attempts + k
    df = pd.DataFrame(
        {
            "arrival_min": joined[rows] / 60.0,
            "left_queue_min": left[rows] / 60.0,
            "wr_wait_min": (left[rows] - joined[rows]) / 60.0,
            "outcome": outcome[rows],
            "attempt": attempt,
        }
    )
    return df.sort_values("arrival_min", ignore_index=True)
