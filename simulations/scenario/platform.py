"""The `[platform]` section: waiting room, web tier, database, what a booking costs.

Flat on purpose: a calibration "platform profile" is a TOML file with a `[platform]` table holding
any of these keys (measured values), included by `platform.profile = "file.toml"` or applied with
`--set platform.key=value`.

- Waiting room: `waiting_room` on/off; admits FIFO at `admission_rate_per_s` while fewer than
  `max_active_sessions` sessions are active (0 = no cap). A pass stays valid for
  `pass_lifetime_min` after admission: a visitor retrying within it skips the queue. Waiting
  visitors poll every `queue_poll_interval_s` (edge traffic, not origin). `waiting_room_line =
  "numbered"` follows the app's numbered line: the room admits ticket numbers, so a ticket whose
  visitor left still uses its admission ("fifo", the default, admits only visitors still there).
  `admission_schedule = [[t_s, rate_per_s], ...]` changes the rate over the day (from t = 0, as an
  operator would through `PUT /admin/waiting-room`); it replaces `admission_rate_per_s`.
- Web tier: `web_workers` workers; a request costs `service_ms[route]` of worker time; requests
  waiting longer than `web_timeout_s` fail (finite capacity: workers x timeout of backlog).
- Database: `db_connections` connections; a request holds one for `db_ms[route]`; waits beyond
  `db_timeout_s` fail.
- A booker's session: a search phase (mean `search_mean_min`, exponential) issuing
  `requests_per_booking` requests for the search routes, then a checkout of `checkout_s` ending
  with the `book` request(s). A browser (not booking) stays `browse_mean_min` on average and
  issues `requests_per_browse`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from simulations.scenario.slo import check_routes

CHECKOUT_ROUTES = ("book", "register")


class Platform(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    waiting_room: bool = True
    admission_rate_per_s: float = Field(100.0, gt=0)
    max_active_sessions: int = Field(0, ge=0)
    waiting_room_line: Literal["fifo", "numbered"] = "fifo"
    admission_schedule: list[tuple[float, float]] | None = None
    pass_lifetime_min: float = Field(30.0, ge=0)
    queue_poll_interval_s: float = Field(30.0, gt=0)
    web_workers: int = Field(100, ge=1)
    web_timeout_s: float = Field(10.0, gt=0)
    db_connections: int = Field(50, ge=1)
    db_timeout_s: float = Field(5.0, gt=0)
    service_ms: dict[str, float] = Field(
        default_factory=lambda: {
            "queue_join": 2.0,
            "queue_poll": 1.0,
            "search": 40.0,
            "availability": 30.0,
            "book": 60.0,
            "cancel": 40.0,
            "appointments": 20.0,
            "register": 50.0,
        }
    )
    db_ms: dict[str, float] = Field(
        default_factory=lambda: {
            "search": 10.0,
            "availability": 8.0,
            "book": 25.0,
            "cancel": 15.0,
            "appointments": 5.0,
            "register": 15.0,
        }
    )
    requests_per_booking: dict[str, float] = Field(
        default_factory=lambda: {"search": 3.0, "availability": 6.0, "book": 1.0}
    )
    requests_per_browse: dict[str, float] = Field(
        default_factory=lambda: {"search": 2.0, "availability": 2.0}
    )
    search_mean_min: float = Field(3.0, gt=0)
    checkout_s: float = Field(60.0, gt=0)
    browse_mean_min: float = Field(2.0, gt=0)

    @field_validator("service_ms", "db_ms", "requests_per_booking", "requests_per_browse")
    @classmethod
    def _known_routes(cls, values: dict[str, float], info) -> dict[str, float]:
        return check_routes(values, f"platform.{info.field_name}")

    @field_validator("admission_schedule")
    @classmethod
    def _schedule(
        cls, points: list[tuple[float, float]] | None
    ) -> list[tuple[float, float]] | None:
        if points is not None:
            from simulations.national.waiting_room import AdmissionSchedule

            AdmissionSchedule(points)  # raises ValueError naming the problem
        return points

    def admission_rate_at(self, t_s: float) -> float:
        """The room's admission rate at `t_s` seconds into the day (schedule or constant)."""
        if self.admission_schedule is None:
            return self.admission_rate_per_s
        from simulations.national.waiting_room import AdmissionSchedule

        return AdmissionSchedule(self.admission_schedule).rate_at(t_s)

    def scaled(self, factor: float) -> Platform:
        schedule = self.admission_schedule
        return self.model_copy(
            update={
                "admission_schedule": None
                if schedule is None
                else [(t, rate * factor) for t, rate in schedule],
                "admission_rate_per_s": self.admission_rate_per_s * factor,
                "max_active_sessions": round(self.max_active_sessions * factor),
                "web_workers": max(1, round(self.web_workers * factor)),
                "db_connections": max(1, round(self.db_connections * factor)),
            }
        )

    def work_s(self, requests: dict[str, float], table: str) -> float:
        """Seconds of web (`table="service_ms"`) or DB (`"db_ms"`) time for a request mix."""
        costs = self.service_ms if table == "service_ms" else self.db_ms
        return sum(n * costs.get(route, 0.0) for route, n in requests.items()) / 1000.0

    def split_checkout(self) -> tuple[dict[str, float], dict[str, float]]:
        """The booking mix split into (search phase, checkout phase) requests."""
        search = {r: n for r, n in self.requests_per_booking.items() if r not in CHECKOUT_ROUTES}
        checkout = {r: n for r, n in self.requests_per_booking.items() if r in CHECKOUT_ROUTES}
        return search, checkout
