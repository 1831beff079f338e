"""Races against a really served app (uvicorn, two worker processes) on each backend."""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.metrics import metric

from loadtests.app_launcher import ServedApp, served_app

pytestmark = pytest.mark.slow
REQUESTS = "surge_http_requests_total"
OPEN_LIMITS = ["--rate-limit-ip", "0", "--rate-limit-token", "0"]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApp]:
    """The app served by uvicorn with two workers on a fresh database, stopped with SIGTERM."""
    tmp = tmp_path_factory.mktemp("served")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp / 'app.db'}"
        else:
            fresh = request.getfixturevalue("fresh_postgres_database")
            url = stack.enter_context(fresh(request.getfixturevalue("postgres_url")))
        with served_app(url, workers=2, extra_args=OPEN_LIMITS, log_path=tmp / "server.log") as app:
            yield app
        assert app.process.returncode == 0  # SIGTERM: a clean exit


def _race(count: int, action) -> list[httpx.Response]:
    """Run `action(i)` in `count` threads released at the same instant."""
    barrier = threading.Barrier(count)
    results: list[httpx.Response | None] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = action(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def _setup(
    client: httpx.Client, admin: dict, capacity: int, patients: int
) -> tuple[int, list[dict]]:
    center = client.post(
        "/admin/centers",
        headers=admin,
        json={"name": "Stade", "kind": "vaccination", "postcode": "33000", "vaccines": ["pfizer"]},
    ).json()["id"]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    slot = client.post(
        f"/admin/centers/{center}/slots",
        headers=admin,
        json={"vaccine": "pfizer", "dose": 1, "start": start.isoformat(), "capacity": capacity},
    ).json()["slots"][0]["id"]
    client.post(
        f"/admin/centers/{center}/slots",
        headers=admin,
        json={
            "vaccine": "pfizer",
            "dose": 2,
            "start": (start + timedelta(days=25)).isoformat(),
            "capacity": 1000,
        },
    )
    people = []
    for i in range(patients):
        body = client.post(
            "/patients",
            json={
                "first_name": f"P{i}",
                "last_name": "Race",
                "birth_date": "1990-01-01",
                "email": f"p{i}@example.fr",
                "phone": "0600000000",
            },
        ).json()
        people.append({"Authorization": f"Bearer {body['token']}"})
    return slot, people


def test_racing_clients_book_exactly_the_capacity_of_the_last_seats(served: ServedApp) -> None:
    capacity, racers = 7, 32
    admin = {"Authorization": f"Bearer {served.admin_key}"}
    with httpx.Client(base_url=served.base_url, timeout=60) as client:
        slot, people = _setup(client, admin, capacity, racers)
        responses = _race(
            racers,
            lambda i: httpx.post(
                f"{served.base_url}/appointments",
                headers=people[i],
                json={"slot_id": slot},
                timeout=60,
            ),
        )
        codes = Counter(r.status_code for r in responses)
        assert codes == {201: capacity, 409: racers - capacity}, codes
        assert {r.json()["error"] for r in responses if r.status_code == 409} == {"slot_full"}
        checks = client.get("/admin/invariants", headers=admin).json()
    broken = ("overbooked_slots", "double_bookings", "dose2_out_of_window", "orphan_dose2")
    assert [checks[k] for k in broken] == [0, 0, 0, 0]


def test_concurrent_replays_of_one_idempotency_key_book_once(served: ServedApp) -> None:
    admin = {"Authorization": f"Bearer {served.admin_key}"}
    with httpx.Client(base_url=served.base_url, timeout=60) as client:
        slot, people = _setup(client, admin, capacity=50, patients=1)
        headers = {**people[0], "Idempotency-Key": "client-retry-42"}
        responses = _race(
            12,
            lambda _i: httpx.post(
                f"{served.base_url}/appointments",
                headers=headers,
                json={"slot_id": slot},
                timeout=60,
            ),
        )
        ok = [r for r in responses if r.status_code == 201]
        others = [r for r in responses if r.status_code != 201]
        assert all(
            r.status_code == 409 and r.json()["error"] == "idempotency_in_progress" for r in others
        )
        assert ok and len({r.json()["id"] for r in ok}) == 1
        mine = client.get("/appointments", headers=people[0]).json()
    assert [a["id"] for a in mine] == [ok[0].json()["id"]]


def _worker_serving(served: ServedApp, client_port: int) -> int:
    """The pid of the worker process holding the server end of our connection."""
    for worker in psutil.Process(served.pid).children(recursive=True):
        for connection in worker.net_connections(kind="tcp"):
            if connection.raddr and connection.raddr.port == client_port:
                return worker.pid
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def _get_on_a_new_connection(served: ServedApp, path: str) -> int:
    """GET `path` on a fresh connection; the pid of the worker that answered."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        return _worker_serving(served, connection.sock.getsockname()[1])
    finally:
        connection.close()


def test_one_scrape_counts_the_requests_of_every_worker(served: ServedApp) -> None:
    vaccines = {"method": "GET", "route": "/vaccines", "status": "200"}
    before = metric(httpx.get(f"{served.base_url}/metrics").text, REQUESTS, **vaccines) or 0
    answered: Counter[int] = Counter()
    for _ in range(200):  # new connections until both workers have answered some
        answered[_get_on_a_new_connection(served, "/vaccines")] += 1
        if len(answered) == 2 and answered.total() >= 20:
            break
    assert len(answered) == 2, answered
    text = httpx.get(f"{served.base_url}/metrics").text  # one scrape, one worker answers it
    assert metric(text, REQUESTS, **vaccines) - before == answered.total()  # both workers' counts
    assert metric(text, "surge_workers") == 2
    families = {f.name: f for f in text_string_to_metric_families(text)}
    pool_pids = {int(s.labels["pid"]) for s in families["surge_db_pool_checked_out"].samples}
    assert pool_pids == set(answered)  # one pool gauge per live worker
