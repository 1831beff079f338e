"""A campaign of many days: the opening-day model run day after day, with state carried over.

Each day is an `OpeningDay` (`simulations.national.day`) of 1,440 minutes, built from the
campaign scenario by `simulations.national.campaign_day` and stepped by the same SimPy processes
(`simulations.national.opening_day.run_day`). Between days the campaign carries:
- the slot stock (the same `Slots`: what is booked stays booked; each day releases its pairs);
- the visitors still in the system at the end of a day (queued, in a session, or due back later)
  to the next day (`OpeningDay.carry_out`), not dropped;
- of the bookers who gave up during a day, `campaign.return_next_day_share` come back the next
  day as fresh bookers (spread over the day like the everyday traffic); the rest abandon;
- the appointment book (`simulations.national.appointments`): no-shows who book again, and
  dose-2 recall bookers, injected into the day they book.

Conservation (KPI `lost_bookers`, must be 0): new bookers + recall bookers + no-show rebookers
= bookings + abandoned for good + deferred at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulations.national.appointments import AppointmentBook
from simulations.national.campaign_day import campaign_of, day_date, day_scenario, everyday_rates
from simulations.national.day import OpeningDay
from simulations.national.opening_day import STREAMS, run_day, streams
from simulations.national.records import build_result
from simulations.replications import Replications, run_replications_with
from simulations.scenario.scenario import Scenario

__all__ = ["CampaignResult", "run_campaign_replications", "simulate_campaign"]

ABANDONS = (
    "abandon_queue",
    "abandon_error",
    "abandon_taken",
    "abandon_no_slot",
    "abandon_checkout",
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class CampaignResult:
    kpis: dict[str, float]
    daily: pd.DataFrame = field(repr=False)
    timeseries: pd.DataFrame = field(repr=False)
    recalls: pd.DataFrame = field(repr=False)


def _child(seq: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(
        seq.entropy, spawn_key=(*seq.spawn_key, *key), pool_size=seq.pool_size
    )


def simulate_campaign(
    scenario: Scenario, seed: int | np.random.SeedSequence, progress: bool = False
) -> CampaignResult:
    """One replication of a campaign scenario (one with a `[campaign]` section)."""
    sc = scenario.scaled()
    c = campaign_of(sc)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng = np.random.default_rng(_child(seq, 2000))
    book = AppointmentBook(c, sc.supply, c.days, rng)
    slots, carry = None, None
    returners = rebookers = 0
    rows, frames = [], []
    days = range(c.days)
    if progress:
        from tqdm import tqdm

        days = tqdm(days, desc=sc.name, unit="day")
    for d in days:
        day_sc = day_scenario(sc, d)
        rngs = {
            name: np.random.default_rng(s)
            for name, s in zip(STREAMS, streams(_child(seq, 1000, d)), strict=True)
        }
        injected = {
            "returning": returners,
            "recall_bookers": int(book.recall_bookers[d]),
            "no_show_rebookers": rebookers,
        }
        carry_in = _carry_in(sc, day_sc, d, carry, sum(injected.values()), rng)
        released_before = 0 if slots is None else slots.released
        day = OpeningDay(day_sc, rngs, slots=slots, carry_in=carry_in)
        run_day(day)
        slots = day.slots
        kpis, ts, _ = build_result(day)
        carry = day.carry_out()
        abandoned = sum(day.count[k] for k in ABANDONS)
        returners = int(rng.binomial(abandoned, c.return_next_day_share))
        book.book(d, day.count["bookings"])
        missed = book.close_day(d)
        rebookers = int(rng.binomial(missed, c.no_show_rebook_share))
        carried_out = int(carry[:, 1:].sum())
        rows.append(
            _day_row(sc, d, day, kpis, ts, injected, int(carry_in[:, 1:].sum()))
            | {
                "slots_released": int(day.slots.released - released_before),
                "abandoned": abandoned - returners,
                "returning_next_day": returners,
                "deferred_to_next_day": carried_out + returners,
                "unmet": abandoned + carried_out,
                "dose1_appointments": int(book.dose1[d]),
                "no_shows": missed,
                "no_show_rebookers_next_day": rebookers,
            }
        )
        ts = ts.assign(minute=ts["minute"] + d * 1440)
        frames.append(ts)
    daily = pd.DataFrame(rows)
    daily["cum_bookings"] = daily["bookings"].cumsum()
    timeseries = pd.concat(frames, ignore_index=True)
    timeseries["cum_arrivals"] = timeseries["arrivals"].cumsum()
    timeseries["cum_bookings"] = timeseries["bookings"].cumsum()
    last = rows[-1]
    deferred_at_end = last["deferred_to_next_day"] + last["no_show_rebookers_next_day"]
    return CampaignResult(
        kpis=_kpis(daily, deferred_at_end), daily=daily, timeseries=timeseries, recalls=book.recalls
    )


def _carry_in(
    sc: Scenario,
    day_sc: Scenario,
    d: int,
    carry: np.ndarray | None,
    injected: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Yesterday's carry plus today's injected bookers (class 1), spread over the day's ticks
    like the everyday traffic."""
    tick_s = day_sc.model.tick_s
    n_ticks = math.ceil(1440 * 60.0 / tick_s)
    n_classes = day_sc.behaviour.retry_max + 2
    out = np.zeros((n_ticks, n_classes), dtype=np.int64) if carry is None else carry.copy()
    if injected:
        mid = d * 1440 + (np.arange(n_ticks) + 0.5) * tick_s / 60.0
        weights = everyday_rates(sc, mid)
        total = weights.sum()
        weights = weights / total if total > 0 else np.full(n_ticks, 1.0 / n_ticks)
        out[:, 1] += rng.multinomial(injected, weights)
    return out


def _day_row(sc, d, day, kpis, ts, injected, carried_in) -> dict:
    full = ts.index[ts["centers_sold_out_share"] >= 0.5]
    when = day_date(sc, d)
    return {
        "day": d + 1,
        "date": when.isoformat(),
        "weekday": WEEKDAYS[when.weekday()],
        "visitors": int(day.count["visitors"]),
        "bookers": int(day.count["bookers"]),
        **injected,
        "carried_in_bookers": carried_in,
        "bookings": int(day.count["bookings"]),
        "peak_bookings_per_min": kpis["peak_bookings_per_min"],
        "wr_wait_p50_min": kpis["wr_wait_p50_min"],
        "wr_wait_p95_min": kpis["wr_wait_p95_min"],
        "wr_wait_max_min": kpis["wr_wait_max_min"],
        "wr_queue_max": kpis["wr_queue_max"],
        "sellout_time": ts.loc[full[0], "time"] if len(full) else "",
        "slots_left": int(np.maximum(day.slots.free, 0).sum()),
        "centers_sold_out_share": kpis["centers_sold_out_share"],
        "lost_visitors": kpis["lost_visitors"],
        "visitor_events": kpis["visitor_events"],
    }


def _kpis(daily: pd.DataFrame, deferred_at_end: int) -> dict[str, float]:
    external = int(
        daily["bookers"].sum()
        + daily["recall_bookers"].sum()
        + daily["no_show_rebookers"].sum()
        + daily["no_show_rebookers_next_day"].iloc[-1]
    )
    bookings, gone = int(daily["bookings"].sum()), int(daily["abandoned"].sum())
    return {
        "days": float(len(daily)),
        "visitors": float(daily["visitors"].sum()),
        "bookers": float(external),
        "bookings": float(bookings),
        "bookings_day_max": float(daily["bookings"].max()),
        "peak_bookings_per_min": float(daily["peak_bookings_per_min"].max()),
        "wr_wait_p95_min_max": float(daily["wr_wait_p95_min"].max()),
        "wr_wait_max_min": float(daily["wr_wait_max_min"].max()),
        "days_sold_out": float((daily["sellout_time"] != "").sum()),
        "abandoned": float(gone),
        "deferred_at_end": float(deferred_at_end),
        "unmet_share": (gone + deferred_at_end) / max(external, 1),
        "recall_bookers": float(daily["recall_bookers"].sum()),
        "no_shows": float(daily["no_shows"].sum()),
        "lost_bookers": float(external - bookings - gone - deferred_at_end),
        "lost_visitors": float(daily["lost_visitors"].abs().sum()),
        "visitor_events": float(daily["visitor_events"].sum()),
    }


def run_campaign_replications(
    scenario: Scenario, replications: int, seed: int, progress: bool = False
) -> Replications:
    """`replications` independent campaigns from `SeedSequence(seed).spawn(replications)`."""
    return run_replications_with(simulate_campaign, scenario, replications, seed, progress)
