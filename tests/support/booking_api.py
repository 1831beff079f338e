"""The one test-side client of the booking API, for the app and reliability suites: open a
campaign through the admin routes, register patients, book, and read the invariants.

Every call takes its HTTP client: an `httpx.Client` on a served app (reliability), or a
Starlette `TestClient` on the app from the factory (app suite; `make_center`, `open_slots` and
`new_patient` below are the calls of `IN_PROCESS`, the client with the test admin key)."""

from __future__ import annotations

import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from loadtests.app_launcher import ServedApp

with warnings.catch_warnings():
    # Starlette's TestClient warns at import that it prefers `httpx2`; httpx works fine.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

__all__ = [
    "NO_RATE_LIMITS",
    "ADMIN",
    "ADMIN_KEY",
    "DOSE2_OFFSET_DAYS",
    "IN_PROCESS",
    "BookingApi",
    "Campaign",
    "Patient",
    "TestClient",
    "api_for",
    "broken",
    "day_at",
    "make_center",
    "new_patient",
    "open_slots",
]

ADMIN_KEY = "test-admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}

# Dose-1 day is tomorrow; Pfizer's dose-2 window is 21-49 days after dose 1.
DOSE2_OFFSET_DAYS = 25
# `surge app serve` options for tests whose load comes from one address and one token.
NO_RATE_LIMITS = ("--rate-limit-token", "0", "--rate-limit-ip", "0")


def day_at(days_ahead: int, hour: int = 9) -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=days_ahead)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Patient:
    id: int
    token: str
    last_name: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Campaign:
    """One centre's open slots: Pfizer dose 1 and dose 2, and single-dose Janssen."""

    center_id: int
    dose1: list[dict]
    dose2: list[dict]
    janssen: list[dict] = field(default_factory=list)

    @property
    def seats(self) -> int:
        return sum(s["capacity"] for s in self.dose1 + self.janssen)


@dataclass(frozen=True)
class BookingApi:
    base_url: str
    admin_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def client(self, timeout_s: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def make_center(
        self, http: httpx.Client, vaccines: list[str], postcode: str = "75011", name: str = "Center"
    ) -> int:
        body = {"name": name, "kind": "vaccination", "postcode": postcode, "vaccines": vaccines}
        response = http.post("/admin/centers", headers=self.admin, json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def open_slots(
        self,
        http: httpx.Client,
        center_id: int,
        vaccine: str,
        dose: int,
        start: datetime,
        capacity: int = 3,
        count: int = 1,
        interval_minutes: int = 10,
    ) -> list[dict]:
        body = {
            "vaccine": vaccine,
            "dose": dose,
            "start": start.isoformat(),
            "capacity": capacity,
            "count": count,
            "interval_minutes": interval_minutes,
        }
        response = http.post(f"/admin/centers/{center_id}/slots", headers=self.admin, json=body)
        assert response.status_code == 201, response.text
        return response.json()["slots"]

    def open_campaign(
        self,
        http: httpx.Client,
        dose1_slots: int,
        capacity: int,
        janssen_slots: int = 0,
        dose2_capacity: int | None = None,
    ) -> Campaign:
        """Dose-2 seats always cover every dose-1 seat, so dose 2 never runs out first."""
        vaccines = ["pfizer", "janssen"] if janssen_slots else ["pfizer"]
        center_id = self.make_center(http, vaccines)
        dose1 = self.open_slots(http, center_id, "pfizer", 1, day_at(1), capacity, dose1_slots)
        dose2 = self.open_slots(
            http,
            center_id,
            "pfizer",
            2,
            day_at(1 + DOSE2_OFFSET_DAYS),
            dose2_capacity or capacity,
            dose1_slots,
        )
        janssen = (
            self.open_slots(http, center_id, "janssen", 1, day_at(2), capacity, janssen_slots)
            if janssen_slots
            else []
        )
        return Campaign(center_id, dose1, dose2, janssen)

    def new_patient(
        self, http: httpx.Client, last_name: str = "Dupont", first_name: str = "Jeanne"
    ) -> Patient:
        body = {
            "first_name": first_name,
            "last_name": last_name,
            "birth_date": "1980-05-17",
            "email": f"{first_name}.{uuid.uuid4().hex[:10]}@example.fr".lower(),
            "phone": "+33 6 12 34 56 78",
        }
        response = http.post("/patients", json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        return Patient(created["id"], created["token"], last_name)

    def new_patients(
        self, count: int, last_name: str = "Dupont", clients: int = 8
    ) -> list[Patient]:
        """Register `count` patients over a few concurrent connections."""

        def register(share: int) -> list[Patient]:
            with self.client() as http:
                return [self.new_patient(http, last_name) for _ in range(share)]

        shares = [count // clients + (i < count % clients) for i in range(clients)]
        with ThreadPoolExecutor(clients) as pool:
            return [p for batch in pool.map(register, shares) for p in batch]

    def invariants(self, http: httpx.Client) -> dict[str, int]:
        response = http.get("/admin/invariants", headers=self.admin)
        assert response.status_code == 200, response.text
        return response.json()

    def appointments(self, http: httpx.Client, patient: Patient) -> list[dict]:
        response = http.get("/appointments", headers=patient.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def availability(
        self,
        http: httpx.Client,
        center_id: int,
        dose: int = 1,
        headers: dict | None = None,
        days_ahead: int | None = None,
    ) -> dict[int, int]:
        """Remaining seats of the open Pfizer slots of one dose over 31 days from `days_ahead`
        (slot id -> remaining; full slots are absent)."""
        if days_ahead is None:
            days_ahead = 1 if dose == 1 else 1 + DOSE2_OFFSET_DAYS
        first_day = day_at(days_ahead).date()
        params = {"vaccine": "pfizer", "dose": dose, "from": first_day.isoformat(), "days": 31}
        response = http.get(
            f"/centers/{center_id}/availability", params=params, headers=headers or {}
        )
        assert response.status_code == 200, response.text
        return {s["id"]: s["remaining"] for s in response.json()}


def broken(invariants: dict[str, int]) -> dict[str, int]:
    """The invariant counters that are not zero (`appointments` is a count, not a rule)."""
    return {k: v for k, v in invariants.items() if k != "appointments" and v != 0}


def api_for(app: ServedApp) -> BookingApi:
    """The client of a served app (its URL and admin key)."""
    return BookingApi(app.base_url, app.admin_key)


IN_PROCESS = BookingApi("", ADMIN_KEY)
make_center = IN_PROCESS.make_center
open_slots = IN_PROCESS.open_slots
new_patient = IN_PROCESS.new_patient
