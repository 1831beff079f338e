"""Waiting room: without a pass, 503 pointing to /queue; queue -> pass -> allowed; FIFO; expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from support.booking_api import ADMIN, TestClient, new_patient
from support.clock import ManualClock

from reference_app.app import create_app
from reference_app.settings import Settings


@pytest.fixture
def clock() -> ManualClock:
    """The room's time: tests move it on instead of sleeping."""
    return ManualClock(time.time())


@pytest.fixture(params=[True, False], ids=["edge", "routes"])
def client(
    settings: Settings, clock: ManualClock, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    """Every test twice: the room answered by its ASGI edge, and by the FastAPI routes alone."""
    app = create_app(replace(settings, waiting_room_edge=request.param), clock=clock)
    with TestClient(app) as test_client:
        yield test_client


def _switch_on(client: TestClient, rate_per_s: float, pass_lifetime_s: float = 600) -> None:
    response = client.put(
        "/admin/waiting-room",
        headers=ADMIN,
        json={"enabled": True, "rate_per_s": rate_per_s, "pass_lifetime_s": pass_lifetime_s},
    )
    assert response.status_code == 200, response.text


def _admitted_pass(client: TestClient, clock: ManualClock, ticket: str) -> str:
    """Poll as a visitor does, coming back after the `poll_after_s` the server gives."""
    state = client.get(f"/queue/{ticket}").json()
    assert state["status"] == "waiting", state
    clock.advance(state["poll_after_s"])
    state = client.get(f"/queue/{ticket}").json()
    assert state["status"] == "admitted", state
    return state["pass"]


def test_waiting_room_is_off_by_default(client: TestClient, campaign: dict) -> None:
    response = client.get(
        f"/centers/{campaign['center_id']}/availability", params={"vaccine": "pfizer"}
    )
    assert response.status_code == 200


def test_without_a_pass_booking_and_availability_get_503_pointing_to_the_queue(
    client: TestClient, campaign: dict
) -> None:
    patient = new_patient(client)  # registered before the room went on
    _switch_on(client, rate_per_s=5)
    person = {"first_name": "Ana", "last_name": "Late", "birth_date": "1980-01-01"}
    for response in (
        client.post("/patients", json=person),
        client.get("/centers", params={"postcode": "75011"}),
        client.get(f"/centers/{campaign['center_id']}/availability", params={"vaccine": "pfizer"}),
        client.post(
            "/appointments",
            headers=patient.headers,
            json={"slot_id": campaign["dose1"][0]["id"]},
        ),
        client.post(
            "/appointments",
            headers={**patient.headers, "X-Waiting-Room-Pass": "wp_forged"},
            json={"slot_id": campaign["dose1"][0]["id"]},
        ),
    ):
        assert response.status_code == 503
        assert response.json()["error"] == "waiting_room" and response.json()["queue"] == "/queue"
        assert int(response.headers["Retry-After"]) > 0


def test_queue_admits_in_order_and_the_pass_lets_the_visitor_book(
    client: TestClient, clock: ManualClock, campaign: dict
) -> None:
    patient = new_patient(client)
    _switch_on(client, rate_per_s=0.05)  # one admission per 20 s
    tickets = [client.post("/queue").json() for _ in range(5)]  # all at the same instant
    assert [t["position"] for t in tickets] == [0, 1, 2, 3, 4]
    assert [t["estimated_wait_s"] for t in tickets] == [0.0, 20.0, 40.0, 60.0, 80.0]
    _switch_on(client, rate_per_s=20)  # the rest are in within 4 / 20 s from now
    last = tickets[-1]["ticket"]
    pass_token = _admitted_pass(client, clock, last)
    for earlier in tickets[:-1]:  # FIFO: everyone before the last one is in too
        assert client.get(f"/queue/{earlier['ticket']}").json()["status"] == "admitted"
    booked = client.post(
        "/appointments",
        headers={**patient.headers, "X-Waiting-Room-Pass": pass_token},
        json={"slot_id": campaign["dose1"][0]["id"]},
    )
    assert booked.status_code == 201


def test_a_pass_expires(client: TestClient, clock: ManualClock, campaign: dict) -> None:
    _switch_on(client, rate_per_s=100, pass_lifetime_s=600)
    joined = client.post("/queue").json()
    assert joined["status"] == "admitted"  # an empty line: admitted at once
    ticket = joined["ticket"]
    polled = client.get(f"/queue/{ticket}").json()
    assert polled["status"] == "admitted" and polled["pass_expires_in_s"] == 600
    url = f"/centers/{campaign['center_id']}/availability"
    with_pass = {
        "params": {"vaccine": "pfizer"},
        "headers": {"X-Waiting-Room-Pass": polled["pass"]},
    }
    clock.advance(599.9)
    assert client.get(url, **with_pass).status_code == 200
    clock.advance(0.1)
    late = client.get(url, **with_pass)
    assert late.status_code == 503 and late.json()["error"] == "waiting_room"
    assert client.get(f"/queue/{ticket}").json()["status"] == "expired"


def test_switching_the_room_off_lets_everyone_in(client: TestClient, campaign: dict) -> None:
    _switch_on(client, rate_per_s=1)
    client.put("/admin/waiting-room", headers=ADMIN, json={"enabled": False})
    response = client.get(
        f"/centers/{campaign['center_id']}/availability", params={"vaccine": "pfizer"}
    )
    assert response.status_code == 200
    state = client.get("/admin/waiting-room", headers=ADMIN).json()
    assert state["enabled"] is False


def test_unknown_ticket_is_404(client: TestClient) -> None:
    assert client.get("/queue/wt_nope").status_code == 404


@pytest.mark.parametrize("edge", [True, False], ids=["edge", "routes"])
def test_another_workers_switch_is_seen_once_the_cache_period_is_over(
    settings: Settings, clock: ManualClock, edge: bool
) -> None:
    cached = replace(settings, waiting_room_edge=edge, waiting_room_cache_s=5.0)
    search = {"params": {"postcode": "75011"}}
    with (
        TestClient(create_app(cached, clock=clock)) as worker,
        TestClient(create_app(settings, clock=clock)) as other,
    ):
        assert worker.get("/centers", **search).status_code == 200  # reads the room: off
        _switch_on(other, rate_per_s=1)
        clock.advance(4.9)
        assert worker.get("/centers", **search).status_code == 200  # its cache is 4.9 s old
        clock.advance(0.1)
        assert worker.get("/centers", **search).status_code == 503
