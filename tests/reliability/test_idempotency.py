"""Client retries: the same booking sent again with the same Idempotency-Key (after a client
timeout, while the first is still in flight, or many at once) never creates a second booking."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import create_engine, text
from support.booking_api import BookingApi, Patient, broken
from support.waiting import wait_until

pytestmark = pytest.mark.reliability

REPLAYS = 8


@pytest.fixture(scope="module")
def campaign(shared_api: BookingApi):
    with shared_api.client() as http:
        return shared_api.open_campaign(http, dose1_slots=5, capacity=20)


def _book(api: BookingApi, patient: Patient, slot_id: int, key: str, timeout_s: float = 30.0):
    with api.client(timeout_s=timeout_s) as http:
        return http.post(
            "/appointments",
            json={"slot_id": slot_id},
            headers={**patient.headers, "Idempotency-Key": key},
        )


def _settle(api: BookingApi, patient: Patient, slot_id: int, key: str) -> httpx.Response:
    """Replay, honouring Retry-After, until the key's outcome is known."""
    for _ in range(30):
        response = _book(api, patient, slot_id, key)
        if response.status_code != 409 or response.json()["error"] != "idempotency_in_progress":
            return response
        time.sleep(float(response.headers["retry-after"]))
    raise AssertionError("the key stayed in flight for 30 replays")


def _concurrent_replays(api: BookingApi, patient: Patient, slot_id: int, key: str) -> list:
    barrier = threading.Barrier(REPLAYS)

    def replay(_: int) -> httpx.Response:
        barrier.wait()
        return _book(api, patient, slot_id, key)

    with ThreadPoolExecutor(REPLAYS) as pool:
        return list(pool.map(replay, range(REPLAYS)))


def _assert_one_booking(api: BookingApi, patient: Patient, responses: list) -> None:
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1, [r.text for r in responses]
    for response in responses:
        if response.status_code != 201:
            assert response.status_code == 409, response.text
            assert response.json()["error"] == "idempotency_in_progress"
            assert int(response.headers["retry-after"]) >= 1
    with api.client() as http:
        held = api.appointments(http, patient)
        assert [a["id"] for a in held] == list(created)
        assert broken(api.invariants(http)) == {}


def test_concurrent_replays_of_one_key_book_once(shared_api: BookingApi, campaign) -> None:
    with shared_api.client() as http:
        patient = shared_api.new_patient(http)
    slot_id = campaign.dose1[0]["id"]
    key = str(uuid.uuid4())
    responses = _concurrent_replays(shared_api, patient, slot_id, key)
    settled = _settle(shared_api, patient, slot_id, key)
    assert settled.status_code == 201
    _assert_one_booking(shared_api, patient, [*responses, settled])
    assert settled.headers.get("idempotent-replayed") == "true"


@contextmanager
def _database_held(url: str) -> Iterator[None]:
    """Block booking writes: PostgreSQL, lock every slot row; SQLite, hold the write lock."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM slots FOR UPDATE"))
            yield
    finally:
        engine.dispose()


def _in_flight(api: BookingApi) -> int:
    """Requests the app is serving, not counting this /metrics request."""
    with api.client() as http:
        text = http.get("/metrics").text
    (line,) = [x for x in text.splitlines() if x.startswith("surge_http_requests_in_flight ")]
    return int(float(line.split()[1])) - 1


def _wait_until_at_the_server(api: BookingApi, retries: list) -> None:
    """Until the timed-out first request and every retry are in flight at the server (held on
    the database) or already answered."""
    wait_until(
        lambda: _in_flight(api) + sum(r.done() for r in retries) >= len(retries) + 1,
        "the retries never reached the server",
    )


def test_retry_after_client_timeout_while_first_in_flight_books_once(
    shared_api: BookingApi,
    campaign,
    shared_app,
) -> None:
    with shared_api.client() as http:
        patient = shared_api.new_patient(http)
    slot_id = campaign.dose1[1]["id"]
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(REPLAYS) as pool, _database_held(shared_app[1]):
        with pytest.raises(httpx.TimeoutException):  # the client gives up; the server goes on
            _book(shared_api, patient, slot_id, key, timeout_s=0.5)
        retries = [pool.submit(_book, shared_api, patient, slot_id, key) for _ in range(REPLAYS)]
        _wait_until_at_the_server(shared_api, retries)
        # the database is released: the first commits, the retries replay it
    responses = [future.result() for future in retries]
    settled = _settle(shared_api, patient, slot_id, key)
    _assert_one_booking(shared_api, patient, [*responses, settled])


def test_same_key_with_another_body_is_refused_and_books_nothing(
    shared_api: BookingApi,
    campaign,
) -> None:
    with shared_api.client() as http:
        patient, other = shared_api.new_patient(http), shared_api.new_patient(http)
    key = str(uuid.uuid4())
    first = _book(shared_api, patient, campaign.dose1[2]["id"], key)
    assert first.status_code == 201
    changed = _book(shared_api, patient, campaign.dose1[3]["id"], key)
    assert changed.status_code == 422
    assert changed.json()["error"] == "idempotency_key_reused"
    # The key belongs to one patient: another patient's same key is their own booking.
    theirs = _book(shared_api, other, campaign.dose1[2]["id"], key)
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    with shared_api.client() as http:
        assert [a["id"] for a in shared_api.appointments(http, patient)] == [first.json()["id"]]
