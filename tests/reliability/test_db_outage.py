"""The database goes away mid-load and comes back: requests fail fast with 503 + Retry-After,
no worker hangs, and the app recovers by itself without a restart."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import make_url
from support.booking_api import BookingApi, Patient, api_for, broken
from support.tcp_proxy import TcpProxy
from support.waiting import wait_until

pytestmark = pytest.mark.reliability

CLIENTS = 6
DB_TIMEOUT_S = 5.0  # the app's default bounded wait for a connection, a lock or a statement
# Failing fast means within the app's DB timeout plus scheduling slack on a busy 2-core box.
# On SQLite a writer first queues (bounded) on its process's writer lock, then on the file lock.
FAIL_FAST_BOUND_S = DB_TIMEOUT_S + 3.0
SQLITE_BOUND_S = 2 * DB_TIMEOUT_S + 3.0


@dataclass(frozen=True)
class Outcome:
    started_s: float
    latency_s: float
    route: str
    status: int  # 0: transport error or client timeout
    retry_after: str | None
    error: str | None


def _load(
    api: BookingApi,
    patients: list[Patient],
    slot_ids: list[int],
    stop: threading.Event,
    outcomes: list[Outcome],
):
    """Clients booking (and reading their bookings) in a loop until stopped; every request's
    outcome is appended to `outcomes` as it completes."""
    confirmed: dict[int, dict] = {}
    lock = threading.Lock()

    def call(http: httpx.Client, route: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        started = time.monotonic()
        try:
            response = send()
        except httpx.TransportError:
            response = None
        status = response.status_code if response is not None else 0
        error = None
        if response is not None and status >= 400:
            error = response.json().get("error")
        with lock:
            outcomes.append(
                Outcome(
                    started,
                    time.monotonic() - started,
                    route,
                    status,
                    response.headers.get("retry-after") if response is not None else None,
                    error,
                )
            )
        return response

    def client(index: int) -> None:
        mine = patients[index::CLIENTS]
        n = 0
        with api.client(timeout_s=3 * SQLITE_BOUND_S) as http:
            while not stop.is_set():
                waiting = [p for p in mine if p.id not in confirmed] or mine
                patient = waiting[0]
                slot_id = slot_ids[n % len(slot_ids)]
                n += 1
                response = call(
                    http,
                    "book",
                    lambda p=patient, s=slot_id: http.post(
                        "/appointments", json={"slot_id": s}, headers=p.headers
                    ),
                )
                if response is not None and response.status_code == 201:
                    with lock:
                        confirmed[patient.id] = response.json()
                call(http, "list", lambda p=patient: http.get("/appointments", headers=p.headers))
                stop.wait(0.3)  # paced, so patients last the whole outage

    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client, i) for i in range(CLIENTS)]:
            future.result()
    return outcomes, confirmed


def _run_outage(
    api: BookingApi, break_db: Callable[[], None], mend_db: Callable[[], None], outage_s: float
):
    with api.client() as http:
        campaign = api.open_campaign(http, dose1_slots=20, capacity=10)
    patients = api.new_patients(60)
    stop = threading.Event()
    outcomes: list[Outcome] = []
    result: list = []
    slot_ids = [s["id"] for s in campaign.dose1]
    load = threading.Thread(
        target=lambda: result.append(_load(api, patients, slot_ids, stop, outcomes))
    )
    load.start()
    try:
        wait_until(lambda: _booked_since(outcomes, 0.0), "the load never booked before the outage")
        down_s = time.monotonic()
        break_db()
        time.sleep(outage_s)  # the fault itself: the database stays away this long
        mend_db()
        up_s = time.monotonic()
        recovered_s = _wait_recovered(api, patients[-1], campaign.dose1[-1]["id"])
        wait_until(
            lambda: _booked_since(outcomes, up_s + recovered_s),
            "the load never booked after recovery",
        )
    finally:
        mend_db()
        stop.set()
        load.join(timeout=60)
    outcomes, confirmed = result[0]
    return outcomes, confirmed, patients, (down_s, up_s, recovered_s)


def _booked_since(outcomes: list[Outcome], since_s: float) -> bool:
    """Has a booking that started after `since_s` been confirmed?"""
    return any(o.route == "book" and o.started_s > since_s and o.status == 201 for o in outcomes)


def _wait_recovered(api: BookingApi, patient: Patient, slot_id: int) -> float:
    """Seconds from the DB coming back to the app booking again (no restart)."""
    started = time.monotonic()
    with api.client() as http:
        while time.monotonic() - started < 30:
            response = http.post(
                "/appointments", json={"slot_id": slot_id}, headers=patient.headers
            )
            if response.status_code in (201, 409):
                return time.monotonic() - started
            time.sleep(0.2)
    raise AssertionError("the app did not recover within 30 s of the database coming back")


def _check(
    api: BookingApi, outcomes: list[Outcome], confirmed: dict, patients, window, bound_s: float
) -> None:
    down_s, up_s, recovered_s = window
    assert not [o for o in outcomes if o.status == 0], "no request may hang or be dropped"
    assert not [o for o in outcomes if o.status >= 500 and o.status != 503]
    during = [
        o for o in outcomes if down_s + 0.05 < o.started_s and o.started_s + o.latency_s < up_s
    ]
    failed = [o for o in during if o.route == "book"]
    assert failed, "bookings were attempted while the database was down"
    assert all(o.status == 503 and o.error == "db_unavailable" for o in failed), failed[:3]
    assert all(o.retry_after and int(o.retry_after) > 0 for o in failed)
    assert max(o.latency_s for o in outcomes) < bound_s
    assert recovered_s < 15
    print(
        f"outage: {len(failed)} bookings refused with 503, slowest answer "
        f"{max(o.latency_s for o in failed):.2f} s, median "
        f"{sorted(o.latency_s for o in failed)[len(failed) // 2]:.3f} s; "
        f"booking again {recovered_s:.2f} s after the database came back"
    )
    after = [o for o in outcomes if o.started_s > up_s + recovered_s]
    assert any(o.status == 201 for o in after), "bookings succeed again after recovery"
    with api.client() as http:
        assert broken(api.invariants(http)) == {}
        for patient in patients:
            if patient.id in confirmed:
                assert api.appointments(http, patient) == [confirmed[patient.id]]


@pytest.mark.postgres
def test_postgres_outage_fails_fast_with_503_and_recovers_without_restart(
    postgres_url: str,
    fresh_postgres_database,
    serve,
) -> None:
    with fresh_postgres_database(postgres_url) as url:
        target = make_url(url)
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        try:
            proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
            with serve(proxied) as app:
                api = api_for(app)
                outcomes, confirmed, patients, window = _run_outage(
                    api, proxy.cut, proxy.restore, outage_s=DB_TIMEOUT_S
                )
                _check(api, outcomes, confirmed, patients, window, FAIL_FAST_BOUND_S)
                with api.client() as http:
                    assert http.get("/healthz").status_code == 200
        finally:
            proxy.close()


def test_sqlite_locked_by_another_writer_fails_fast_with_503_and_recovers(
    tmp_path,
    serve,
) -> None:
    path = tmp_path / "surge.db"
    holder: list[sqlite3.Connection] = []

    def lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN EXCLUSIVE")  # another process grabbed the write lock and sits on it
        holder.append(conn)

    def unlock() -> None:
        while holder:
            conn = holder.pop()
            conn.rollback()
            conn.close()

    with serve(f"sqlite:///{path}") as app:
        api = api_for(app)
        outcomes, confirmed, patients, window = _run_outage(
            api, lock, unlock, outage_s=3 * DB_TIMEOUT_S
        )
        _check(api, outcomes, confirmed, patients, window, SQLITE_BOUND_S)
