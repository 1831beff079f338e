"""Test-side client calls for the booking API: create centres, slots and patients; read the
metrics exposition; a clock the tests advance."""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

with warnings.catch_warnings():
    # Starlette's TestClient warns at import that it prefers `httpx2`; httpx works fine.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ADMIN_KEY = "test-admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}

__all__ = [
    "ADMIN",
    "ADMIN_KEY",
    "ManualClock",
    "TestClient",
    "metric",
    "make_center",
    "new_patient",
    "open_slots",
    "tomorrow_at",
]


def make_center(
    client: TestClient, vaccines: list[str], postcode: str = "75011", name: str = "Centre"
) -> int:
    response = client.post(
        "/admin/centers",
        headers=ADMIN,
        json={"name": name, "kind": "vaccination", "postcode": postcode, "vaccines": vaccines},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def tomorrow_at(hour: int = 9, days: int = 1) -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def open_slots(
    client: TestClient,
    center_id: int,
    vaccine: str,
    dose: int,
    start: datetime,
    capacity: int = 3,
    count: int = 1,
    interval_minutes: int = 10,
) -> list[dict]:
    response = client.post(
        f"/admin/centers/{center_id}/slots",
        headers=ADMIN,
        json={
            "vaccine": vaccine,
            "dose": dose,
            "start": start.isoformat(),
            "capacity": capacity,
            "count": count,
            "interval_minutes": interval_minutes,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["slots"]


def new_patient(client: TestClient, first_name: str = "Jeanne", last_name: str = "Dupont") -> dict:
    response = client.post(
        "/patients",
        json={
            "first_name": first_name,
            "last_name": last_name,
            "birth_date": "1980-05-17",
            "email": f"{first_name}.{last_name}.{uuid.uuid4().hex[:6]}@example.fr".lower(),
            "phone": "+33 6 12 34 56 78",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return {
        "id": body["id"],
        "token": body["token"],
        "headers": {"Authorization": f"Bearer {body['token']}"},
    }


def metric(exposition: str, name: str, **labels: str) -> float | None:
    """The sum of the samples `name` whose labels include `labels` in a Prometheus text
    exposition (read with prometheus_client's parser, so a malformed one fails); None if none."""
    values = [
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]
    return sum(values) if values else None


@dataclass
class ManualClock:
    """Seconds since the epoch, moved on by the test instead of sleeping."""

    now_s: float

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds
