"""The `[supply]` section: centres, agendas, vaccines and dose-2 windows, holds.

Each of `centres` centres publishes `days_ahead` days of agenda at `slots_per_center_per_day`
slots a day on average (sizes vary, lognormal with coefficient of variation `center_size_cv`).
A share `dose1_share` of each day is open to first doses, the rest to second doses; a share
`initial_fill_share` is already booked at the start. Each centre offers one vaccine, drawn with
the shares in `vaccines`; a first-dose booking also needs a dose-2 slot `dose2_window_days[v]`
= [min, max] days later in the same centre (empty = single dose). Demand for a centre is
proportional to its catchment (lognormal, `popularity_cv`), not to its size, so centres sell out
one by one. Bookers hold `hold_slots_per_session` slots during checkout (0 = no hold: a slot can
be taken by someone else between choice and commit). Booked appointments are cancelled at
`cancel_share_per_h` per hour (slot released); `no_show_share` is reported, not simulated.
New bookable pairs are released during the run at `new_slots_per_min` (Poisson, spread over
centres by size), a rate growing linearly by `new_slots_growth_per_day` times its initial value
each day (practitioners opening agendas, daily releases). Releases start `new_slots_start_min`
minutes after the scenario start (the growth counts from then) and stop `new_slots_stop_min`
minutes after it (0 = never; a campaign releases each day's agenda within a window).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Supply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    centers: int = Field(100, ge=1)
    days_ahead: int = Field(28, ge=1)
    slots_per_center_per_day: float = Field(300.0, ge=0)
    center_size_cv: float = Field(0.8, ge=0)
    popularity_cv: float = Field(1.0, ge=0)
    dose1_share: float = Field(0.5, ge=0, le=1)
    initial_fill_share: float = Field(0.5, ge=0, le=1)
    vaccines: dict[str, float] = Field(default_factory=lambda: {"pfizer": 1.0})
    dose2_window_days: dict[str, list[int]] = Field(default_factory=lambda: {"pfizer": [21, 49]})
    hold_slots_per_session: int = Field(0, ge=0, le=10)
    cancel_share_per_h: float = Field(0.0, ge=0, le=1)
    no_show_share: float = Field(0.01, ge=0, le=1)
    new_slots_per_min: float = Field(0.0, ge=0)
    new_slots_growth_per_day: float = Field(0.0, ge=0)
    new_slots_start_min: float = Field(0.0, ge=0)
    new_slots_stop_min: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _vaccines_are_consistent(self) -> Supply:
        if not self.vaccines:
            raise ValueError("supply.vaccines: at least one vaccine is needed")
        if any(share < 0 for share in self.vaccines.values()):
            raise ValueError("supply.vaccines: shares must be >= 0")
        total = sum(self.vaccines.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"supply.vaccines: shares must sum to 1 (got {total:g})")
        for vaccine in self.vaccines:
            window = self.dose2_window_days.get(vaccine)
            if window is None:
                raise ValueError(f"supply.dose2_window_days.{vaccine}: missing window")
            if window and (len(window) != 2 or window[0] < 1 or window[1] < window[0]):
                raise ValueError(
                    f"supply.dose2_window_days.{vaccine}: expected [min, max] with "
                    f"1 <= min <= max (got {window})"
                )
        return self

    def scaled(self, factor: float) -> Supply:
        return self.model_copy(
            update={
                "centers": max(1, round(self.centers * factor)),
                "new_slots_per_min": self.new_slots_per_min * factor,
            }
        )
