"""Limits with an injected clock: the per-minute rate-limit windows across a window boundary and
the 24-hour Idempotency-Key lifetime; and `X-Forwarded-For`, believed only from a configured
trusted proxy (`--trusted-proxy CIDR`) of a really served app, tested both ways."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.booking_api import BookingApi

from loadtests.app_launcher import served_app
from reference_app.app import create_app
from reference_app.identity import generate_data_key
from reference_app.settings import Settings, normalize_database_url

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.reliability

ADMIN_KEY = "limits-admin-key-0123456789abcdef"
DAY_S = 86_400


@dataclass
class Clock:
    now_s: float

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    """Two seconds before a minute boundary, near the real time (slots are opened for
    tomorrow, and booking checks them against the real time)."""
    return Clock((int(time.time()) // 60 + 1) * 60 - 2.0)


def app_client(url: str, clock: Clock, **overrides: object) -> TestClient:
    settings = Settings(
        database_url=normalize_database_url(url),
        admin_key=ADMIN_KEY,
        data_keys=generate_data_key(),
        rate_limit_token_per_min=0,
        rate_limit_ip_per_min=0,
        waiting_room_cache_s=0.0,
    ).with_overrides(**overrides)
    return TestClient(create_app(settings, clock=clock))


@pytest.fixture
def limited(database_url: str, clock: Clock) -> Iterator[TestClient]:
    with app_client(database_url, clock, rate_limit_token_per_min=3) as client:
        yield client


def attempt(client: httpx.Client, headers: dict) -> httpx.Response:
    return client.post("/appointments", json={"slot_id": 999_999}, headers=headers)


def test_the_rate_limit_window_ends_at_the_minute_boundary(
    limited: TestClient, clock: Clock
) -> None:
    patient = BookingApi("", ADMIN_KEY).new_patient(limited)
    codes = [attempt(limited, patient.headers).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    refused = attempt(limited, patient.headers)
    assert refused.json()["error"] == "rate_limited"
    assert refused.headers["retry-after"] == "3"  # 2 s left in the window, rounded up, +1
    clock.now_s += 1.9  # still inside the same minute
    assert attempt(limited, patient.headers).status_code == 429
    clock.now_s += 0.2  # the next minute: a fresh window
    codes = [attempt(limited, patient.headers).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]


def test_an_idempotency_key_is_replayed_for_24_hours_then_forgotten(
    database_url: str, clock: Clock
) -> None:
    with app_client(database_url, clock) as client:
        api = BookingApi("", ADMIN_KEY)
        campaign = api.open_campaign(client, dose1_slots=1, capacity=5)
        patient = api.new_patient(client)
        headers = {**patient.headers, "Idempotency-Key": "tab-1"}
        body = {"slot_id": campaign.dose1[0]["id"]}
        first = client.post("/appointments", json=body, headers=headers)
        assert first.status_code == 201, first.text
        clock.now_s += DAY_S - 1
        replay = client.post("/appointments", json=body, headers=headers)
        assert replay.status_code == 201 and replay.headers.get("idempotent-replayed") == "true"
        assert replay.json()["id"] == first.json()["id"]
        cancelled = client.delete(f"/appointments/{first.json()['id']}", headers=patient.headers)
        assert cancelled.status_code == 200
        clock.now_s += 2  # the key is now more than a day old: a new request
        again = client.post("/appointments", json=body, headers=headers)
        assert again.status_code == 201, again.text
        assert "idempotent-replayed" not in again.headers
        assert again.json()["id"] != first.json()["id"]
        held = [a["status"] for a in api.appointments(client, patient)]
        assert sorted(held) == ["active", "cancelled"]


def _codes(base_url: str, forwarded: list[str], headers: dict) -> list[int]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        return [
            attempt(http, {**headers, "X-Forwarded-For": address}).status_code
            for address in forwarded
        ]


def _not_near_a_minute_boundary() -> None:
    """The served app counts per wall-clock minute: start a sequence well inside one."""
    left = 60 - time.time() % 60
    if left < 5:
        time.sleep(left + 0.1)


@pytest.mark.slow
def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'surge.db'}"
    limits = ["--rate-limit-token", "0", "--rate-limit-ip", "2"]
    spoofed = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    with served_app(url, extra_args=limits, log_path=tmp_path / "direct.log") as app:
        with httpx.Client(base_url=app.base_url, timeout=30) as http:
            patient = BookingApi(app.base_url, app.admin_key).new_patient(http)
        _not_near_a_minute_boundary()
        # Not behind a trusted proxy: every spoofed address counts as this one peer.
        assert _codes(app.base_url, spoofed, patient.headers) == [404, 404, 429]
    trusted = [*limits, "--trusted-proxy", "127.0.0.1/32"]
    keys = {"admin_key": app.admin_key, "data_key": app.data_key}  # the same deployment
    with served_app(url, extra_args=trusted, log_path=tmp_path / "proxied.log", **keys) as app:
        _not_near_a_minute_boundary()
        # Behind the trusted proxy: each forwarded client has its own budget ...
        assert _codes(app.base_url, spoofed, patient.headers) == [404, 404, 404]
        # ... counted on the right-most address that is not the proxy itself: these are the
        # second and third attempts of 203.0.113.1 (the left-most entry is the client's say).
        chain = ["198.51.100.7, 203.0.113.1", "203.0.113.1, 127.0.0.1"]
        assert _codes(app.base_url, chain, patient.headers) == [404, 429]


def test_a_bad_trusted_proxy_block_is_refused_in_one_line(tmp_path: Path) -> None:
    from surge.cli import main

    argv = ["app", "serve", "--db", str(tmp_path / "x.db"), "--dev", "--trusted-proxy", "10.0.0/33"]
    assert main(argv) == 2
