"""The `[slo]` section: service-level objectives shared by the load tests and sizing.

Route names are shared with the load tests: see `ROUTES`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

ROUTES = (
    "queue_join",
    "queue_poll",
    "search",
    "availability",
    "book",
    "cancel",
    "appointments",
    "register",
)


def check_routes(values: dict[str, float], key: str) -> dict[str, float]:
    unknown = sorted(set(values) - set(ROUTES))
    if unknown:
        raise ValueError(f"{key}: unknown route {unknown[0]!r} (routes: {', '.join(ROUTES)})")
    negative = [r for r, v in values.items() if v < 0]
    if negative:
        raise ValueError(f"{key}.{negative[0]}: must be >= 0")
    return values


class Slo(BaseModel):
    """Objectives a run (load test or model) must meet.

    - `p95_ms`, `p99_ms`: latency percentiles per route (routes absent from the table have none).
    - `error_rate_max`: share of requests answered with a 5xx, a timeout or a connection error.
    - `booking_success_min`: share of booking attempts (POSTs to `book`) that end in a legitimate
      outcome: a confirmed appointment, or a 409 "slot full/taken" (the platform answered
      correctly; the slot was simply gone). Only 5xx, timeouts and connection errors count against
      it. In the model: bookings / (bookings + commits failed by a platform error).
    - `waiting_room_wait_max_s`: the longest time a visitor may wait in the waiting room (load
      tests: measured max; model: `wr_wait_max_min`).
    - `overbooked_max`: appointments beyond a slot's capacity (must stay 0).
    - sizing: `waiting_room_p95_max_min` (p95 waiting-room wait), `abandonment_max` (share of
      visitors who leave without booking because of the queue or errors).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    p95_ms: dict[str, float] = Field(default_factory=dict)
    p99_ms: dict[str, float] = Field(default_factory=dict)
    error_rate_max: float = Field(0.01, ge=0, le=1)
    booking_success_min: float = Field(0.99, ge=0, le=1)
    waiting_room_wait_max_s: float = Field(1800.0, ge=0)
    overbooked_max: int = Field(0, ge=0)
    waiting_room_p95_max_min: float = Field(15.0, ge=0)
    abandonment_max: float = Field(0.2, ge=0, le=1)

    @field_validator("p95_ms", "p99_ms")
    @classmethod
    def _known_routes(cls, values: dict[str, float], info) -> dict[str, float]:
        return check_routes(values, f"slo.{info.field_name}")
