"""The `[demand]` section: who arrives, when, and how many of them try to book.

The arrival rate is `baseline_per_min` plus a surge of `surge_visitors` arrivals shaped by a
curve: nothing before `trigger_min + delay_min`, a linear ramp over `ramp_min` to the peak, a
hold of `peak_hold_min`, then a two-speed exponential decay (`decay_fast_min`, and
`decay_slow_min` for the share `slow_share`). The curve is normalised so that the surge adds
exactly `surge_visitors` arrivals over the scenario. A piecewise-linear table
(`table_min`, `table_per_min`) replaces the whole curve when given.

Time of day and the days after (for runs longer than an evening): `daily_profile` holds 24
multipliers of `baseline_per_min`, one per local clock hour (empty = 1 all day); from the first
local midnight after the start, `after_visitors_per_day` more visitors arrive each day (interest
carried over from the surge), spread over the day's hours in proportion to `daily_profile` and
shrinking by the factor `after_decay_per_day` from one day to the next. Neither applies to a
table.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Demand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    eligible_population: int = Field(0, ge=0)
    baseline_per_min: float = Field(0.0, ge=0)
    surge_visitors: float = Field(0.0, ge=0)
    trigger_min: float = Field(0.0, ge=0)
    delay_min: float = Field(0.0, ge=0)
    ramp_min: float = Field(10.0, gt=0)
    peak_hold_min: float = Field(0.0, ge=0)
    decay_fast_min: float = Field(30.0, gt=0)
    decay_slow_min: float = Field(120.0, gt=0)
    slow_share: float = Field(0.5, ge=0, le=1)
    book_share: float = Field(0.5, ge=0, le=1)
    table_min: list[float] = Field(default_factory=list)
    table_per_min: list[float] = Field(default_factory=list)
    daily_profile: list[float] = Field(default_factory=list)
    after_visitors_per_day: float = Field(0.0, ge=0)
    after_decay_per_day: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _table_is_consistent(self) -> Demand:
        if len(self.table_min) != len(self.table_per_min):
            raise ValueError(
                f"demand.table_per_min: {len(self.table_per_min)} rates for "
                f"{len(self.table_min)} times in demand.table_min"
            )
        if self.table_min:
            if self.table_min[0] != 0:
                raise ValueError("demand.table_min: must start at 0")
            if any(b <= a for a, b in zip(self.table_min, self.table_min[1:], strict=False)):
                raise ValueError("demand.table_min: times must increase")
            if any(r < 0 for r in self.table_per_min):
                raise ValueError("demand.table_per_min: rates must be >= 0")
        if self.daily_profile and (
            len(self.daily_profile) != 24 or any(w < 0 for w in self.daily_profile)
        ):
            raise ValueError("demand.daily_profile: expected 24 multipliers >= 0, one per hour")
        if self.daily_profile and sum(self.daily_profile) == 0 and self.after_visitors_per_day:
            raise ValueError("demand.daily_profile: all zero, after_visitors_per_day cannot arrive")
        if self.decay_slow_min < self.decay_fast_min:
            raise ValueError(
                f"demand.decay_slow_min ({self.decay_slow_min:g}) must be >= "
                f"demand.decay_fast_min ({self.decay_fast_min:g})"
            )
        return self

    @property
    def onset_min(self) -> float:
        """When the surge starts, in minutes after the scenario start."""
        return self.trigger_min + self.delay_min

    def scaled(self, factor: float) -> Demand:
        return self.model_copy(
            update={
                "eligible_population": round(self.eligible_population * factor),
                "baseline_per_min": self.baseline_per_min * factor,
                "surge_visitors": self.surge_visitors * factor,
                "after_visitors_per_day": self.after_visitors_per_day * factor,
                "table_per_min": [r * factor for r in self.table_per_min],
            }
        )
