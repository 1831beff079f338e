"""The `[campaign]` section: a scenario of many days (`simulations.national.campaign`).

A campaign runs `days` whole days from `start_date` at `clock_start`; each day is an opening day
of the national model, and the campaign carries its state to the next (deferred visitors, the
slot stock, dose-2 recalls, no-shows). The scenario's other sections describe the platform,
behaviour and supply as for one evening; `[demand]` gives the everyday traffic
(`baseline_per_min` times `daily_profile`, times `weekday_factor`) and the booking share.

- `waves`: eligibility waves. A cohort becomes eligible at `opens` (local date-time): a surge of
  `surge_visitors` shaped like `[demand]`'s curve (ramp, hold, two-speed decay) from that
  instant, then `after_visitors_per_day` visitors a day from the next local midnight (spread by
  `daily_profile`, times `weekday_factor`), shrinking by `after_decay_per_day` a day.
- Daily slot releases: each day at `release_at` (local clock) centres publish
  `release_pairs_per_day` dose-1/dose-2 pairs over `release_over_min` minutes (a Berlin-style
  release after a 12:00 meeting is `release_at = "12:00"`, a rolling agenda `"00:00"` over 1,440
  min), times `release_weekday_factor`; `deliveries` change the daily release from a date on
  (supply following vaccine deliveries); nothing is released before `release_from` (a date;
  the agendas already published are the initial stock of `[supply]`). These replace
  `supply.new_slots_*`.
- Carry-over: visitors still queued, in a session or due back after the end of a day come back
  the next day; of the bookers who gave up during a day, `return_next_day_share` try again the
  next day (the rest abandon for good).
- Appointments: a day's bookings are spread over the following days with a geometric lead time
  of mean `lead_time_days_mean` (truncated at `supply.days_ahead`); `supply.no_show_share` of
  each day's dose-1 appointments are missed, and `no_show_rebook_share` of those book again the
  next day. Appointments booked before the campaign come at `recall_dose1_per_day_before` a day.
- Dose-2 recalls: of the dose-1 injections (before the campaign at `recall_dose1_per_day_before`
  a day, then the campaign's own), `recall_rebook_share` book their dose 2 separately, on a day
  drawn uniformly so that the appointment, `recall_lead_days` later, lands in the vaccine's
  `supply.dose2_window_days`. They book through the platform like anyone else (and take one
  bookable pair, the model's slot unit).

Weekdays are Monday first; a date in `holidays` counts as a Sunday (demand and releases).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Campaign", "Delivery", "Wave"]

DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$"
CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"


def _seven(values: list[float], name: str) -> list[float]:
    if len(values) != 7 or any(v < 0 for v in values):
        raise ValueError(f"campaign.{name}: expected 7 multipliers >= 0, Monday first")
    return values


class Wave(BaseModel):
    """A cohort that becomes eligible at `opens`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    opens: str = Field(pattern=DATETIME)
    surge_visitors: float = Field(0.0, ge=0)
    ramp_min: float = Field(10.0, gt=0)
    peak_hold_min: float = Field(0.0, ge=0)
    decay_fast_min: float = Field(30.0, gt=0)
    decay_slow_min: float = Field(120.0, gt=0)
    slow_share: float = Field(0.5, ge=0, le=1)
    after_visitors_per_day: float = Field(0.0, ge=0)
    after_decay_per_day: float = Field(1.0, ge=0)

    @property
    def opens_at(self) -> datetime:
        return datetime.fromisoformat(self.opens)

    def scaled(self, factor: float) -> Wave:
        return self.model_copy(
            update={
                "surge_visitors": self.surge_visitors * factor,
                "after_visitors_per_day": self.after_visitors_per_day * factor,
            }
        )


class Delivery(BaseModel):
    """From `date` on, centres release `pairs_per_day` pairs a day (before the weekday factor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    pairs_per_day: float = Field(ge=0)

    @field_validator("date", mode="before")
    @classmethod
    def _date_as_text(cls, value: object) -> object:
        return value.isoformat() if hasattr(value, "isoformat") else value


class Campaign(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(ge=1, le=31)
    weekday_factor: list[float] = Field(default_factory=lambda: [1.0] * 7)
    holidays: list[str] = Field(default_factory=list)
    waves: list[Wave] = Field(default_factory=list)
    release_at: str = Field("00:00", pattern=CLOCK)
    release_over_min: float = Field(1440.0, gt=0, le=1440)
    release_pairs_per_day: float = Field(0.0, ge=0)
    release_weekday_factor: list[float] = Field(default_factory=lambda: [1.0] * 7)
    release_from: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    deliveries: list[Delivery] = Field(default_factory=list)
    return_next_day_share: float = Field(0.5, ge=0, le=1)
    lead_time_days_mean: float = Field(9.2, gt=0)
    no_show_rebook_share: float = Field(0.5, ge=0, le=1)
    recall_dose1_per_day_before: float = Field(0.0, ge=0)
    recall_rebook_share: float = Field(0.0, ge=0, le=1)
    recall_lead_days: float = Field(3.0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        _seven(self.weekday_factor, "weekday_factor")
        _seven(self.release_weekday_factor, "release_weekday_factor")
        for holiday in self.holidays:
            date.fromisoformat(holiday)  # ValueError names the bad date
        dates = [d.date for d in self.deliveries]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("campaign.deliveries: dates must increase")
        names = [w.name for w in self.waves]
        if len(set(names)) != len(names):
            raise ValueError("campaign.waves: names must be unique")
        return self

    @field_validator("release_from", mode="before")
    @classmethod
    def _from_as_text(cls, value: object) -> object:
        return value.isoformat() if hasattr(value, "isoformat") else value

    @field_validator("holidays", mode="before")
    @classmethod
    def _dates_as_text(cls, value: object) -> object:
        if isinstance(value, list):
            return [v.isoformat() if hasattr(v, "isoformat") else v for v in value]
        return value

    def weekday(self, day: date) -> int:
        """0 = Monday .. 6 = Sunday; a holiday is a Sunday."""
        return 6 if day.isoformat() in self.holidays else day.weekday()

    @property
    def release_at_min(self) -> float:
        hours, minutes = (int(x) for x in self.release_at.split(":"))
        return float(hours * 60 + minutes)

    def pairs_on(self, day: date) -> float:
        """Pairs released on `day` (the latest delivery by then, times the weekday factor)."""
        if self.release_from is not None and day < date.fromisoformat(self.release_from):
            return 0.0
        pairs = self.release_pairs_per_day
        for delivery in self.deliveries:
            if date.fromisoformat(delivery.date) <= day:
                pairs = delivery.pairs_per_day
        return pairs * self.release_weekday_factor[self.weekday(day)]

    def scaled(self, factor: float) -> Campaign:
        return self.model_copy(
            update={
                "waves": [w.scaled(factor) for w in self.waves],
                "release_pairs_per_day": self.release_pairs_per_day * factor,
                "deliveries": [
                    d.model_copy(update={"pairs_per_day": d.pairs_per_day * factor})
                    for d in self.deliveries
                ],
                "recall_dose1_per_day_before": self.recall_dose1_per_day_before * factor,
            }
        )
