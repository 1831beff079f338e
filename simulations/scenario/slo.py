"""The `[slo]` table: the service-level objectives of a run, one model for the load tests, the
national model and the sizing.

The schema (a scenario's `[slo]` table, or a standalone file read by `load_slo`):

    [slo]
    error_rate_max = 0.01                        # any target, any journey
    p95_ms = { search = 500.0, book = 800.0 }    # per request name, in ms
    p99_ms = { search = 1000.0, book = 1500.0 }

    [slo.journey]                                # only when the reference journey runs
    booking_success_min = 0.99
    waiting_room_wait_max_s = 1800.0
    waiting_room_p95_max_min = 15.0
    abandonment_max = 0.2
    overbooked_max = 0

Request names are any names the journey gives its requests (the reference journey's are `ROUTES`). Unknown
keys, wrong types (a string for a number, a float for a count), negative or non-finite values
are input errors (`ScenarioError`, one line naming the key).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulations.scenario.errors import ScenarioError, describe

__all__ = ["ROUTES", "JourneySlo", "Slo", "check_routes", "load_slo"]

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
STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def check_routes(values: dict[str, float], key: str) -> dict[str, float]:
    """`values` keyed by known routes, each >= 0; else ValueError naming `key`."""
    unknown = sorted(set(values) - set(ROUTES))
    if unknown:
        raise ValueError(f"{key}: unknown route {unknown[0]!r} (routes: {', '.join(ROUTES)})")
    negative = [r for r, v in values.items() if v < 0]
    if negative:
        raise ValueError(f"{key}.{negative[0]}: must be >= 0")
    return values


class JourneySlo(BaseModel):
    """Objectives of the reference booking journey (`[slo.journey]`): they apply only when that
    journey runs, in the load tests (`loadtests.journeys.patient`) or in the national model.

    - `booking_success_min`: share of booking attempts (POSTs to `book`) that end in a legitimate
      outcome: a confirmed appointment, or a 409 "slot full/taken" (the platform answered
      correctly; the slot was simply gone). Only 5xx, timeouts and connection errors count against
      it. Model KPI: `booking_success` = bookings / (bookings + commits failed by a platform error).
    - `waiting_room_wait_max_s`: the longest time a visitor may wait in the waiting room (load
      tests: measured max, in the scenario's time; model KPI: `wr_wait_max_min`).
    - `overbooked_max`: appointments beyond a slot's capacity (load tests: `/admin/invariants`;
      must stay 0).
    - `waiting_room_p95_max_min` (model KPI `wr_wait_p95_min`) and `abandonment_max` (model KPI
      `abandonment`, share of bookers who leave without booking): targets of the model and the
      sizing; the load-test verdict does not check them.
    """

    model_config = STRICT

    booking_success_min: float = Field(0.99, ge=0, le=1)
    waiting_room_wait_max_s: float = Field(1800.0, ge=0)
    waiting_room_p95_max_min: float = Field(15.0, ge=0)
    abandonment_max: float = Field(0.2, ge=0, le=1)
    overbooked_max: int = Field(0, ge=0)


class Slo(BaseModel):
    """Objectives a run (load test or model) must meet.

    - `p95_ms`, `p99_ms`: latency percentiles per request name (names absent have none).
    - `error_rate_max`: share of requests answered with a 5xx, a timeout or a connection error
      (model KPI: `request_error_rate`).
    - `journey`: the reference journey's own objectives (`JourneySlo`).
    """

    model_config = STRICT

    p95_ms: dict[str, float] = Field(default_factory=dict)
    p99_ms: dict[str, float] = Field(default_factory=dict)
    error_rate_max: float = Field(0.01, ge=0, le=1)
    journey: JourneySlo = JourneySlo()

    @field_validator("p95_ms", "p99_ms")
    @classmethod
    def _request_names(cls, values: dict[str, float], info) -> dict[str, float]:
        """Any request name (a user's journey names its own); targets finite and >= 0."""
        for name, target in values.items():
            if not name.strip():
                raise ValueError(f"slo.{info.field_name}: empty request name")
            if not (math.isfinite(target) and target >= 0):
                raise ValueError(f"slo.{info.field_name}.{name}: must be a finite number >= 0")
        return values


class SloFile(BaseModel):
    """A standalone SLO file: one `[slo]` table and nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slo: Slo


def load_slo(path: str | Path) -> Slo:
    """The `[slo]` table of a standalone TOML file; bad input raises `ScenarioError` (one line,
    naming the file and the key)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"slo {path}: no such file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"slo {path}: invalid TOML: {exc}") from None
    try:
        return SloFile.model_validate(data).slo
    except ValidationError as exc:
        raise ScenarioError(f"slo {path}: {describe(exc, SloFile)}") from None
