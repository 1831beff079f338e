"""Waiting room: without a pass, 503 pointing to /queue; queue -> pass -> allowed; FIFO; expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from support.booking_api import ADMIN, TestClient, new_patient


@pytest.fixture(params=[True, False], ids=["edge", "routes"])
def client(client_with, request: pytest.FixtureRequest) -> Iterator[TestClient]:  # noqa: ANN001
    """Every test twice: the room answered by its ASGI edge, and by the FastAPI routes alone."""
    with client_with(waiting_room_edge=request.param) as test_client:
        yield test_client


def _switch_on(client: TestClient, rate_per_s: float, pass_lifetime_s: float = 600) -> None:
    response = client.put(
        "/admin/waiting-room",
        headers=ADMIN,
        json={"enabled": True, "rate_per_s": rate_per_s, "pass_lifetime_s": pass_lifetime_s},
    )
    assert response.status_code == 200, response.text


def _admitted_pass(client: TestClient, ticket: str, timeout_s: float = 5) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = client.get(f"/queue/{ticket}").json()
        if state["status"] == "admitted":
            return state["pass"]
        time.sleep(0.05)
    raise AssertionError("ticket never admitted")


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
    client: TestClient, campaign: dict
) -> None:
    patient = new_patient(client)
    # A slow room while joining (one admission per 20 s), so positions taken at different
    # moments stay comparable even on a busy machine; then speed it up to let them in.
    _switch_on(client, rate_per_s=0.05)
    tickets = [client.post("/queue").json() for _ in range(5)]
    positions = [t["position"] for t in tickets]
    assert positions == sorted(positions) and positions[-1] >= 2
    assert tickets[-1]["estimated_wait_s"] > tickets[0]["estimated_wait_s"]
    _switch_on(client, rate_per_s=20)
    last = tickets[-1]["ticket"]
    pass_token = _admitted_pass(client, last)
    for earlier in tickets[:-1]:  # FIFO: everyone before the last one is in too
        assert client.get(f"/queue/{earlier['ticket']}").json()["status"] == "admitted"
    booked = client.post(
        "/appointments",
        headers={**patient.headers, "X-Waiting-Room-Pass": pass_token},
        json={"slot_id": campaign["dose1"][0]["id"]},
    )
    assert booked.status_code == 201


def test_a_pass_expires(client: TestClient, campaign: dict) -> None:
    _switch_on(client, rate_per_s=100, pass_lifetime_s=0.5)
    ticket = client.post("/queue").json()["ticket"]
    pass_token = _admitted_pass(client, ticket)
    url = f"/centers/{campaign['center_id']}/availability"
    assert (
        client.get(
            url, params={"vaccine": "pfizer"}, headers={"X-Waiting-Room-Pass": pass_token}
        ).status_code
        == 200
    )
    time.sleep(0.7)
    late = client.get(
        url, params={"vaccine": "pfizer"}, headers={"X-Waiting-Room-Pass": pass_token}
    )
    assert late.status_code == 503
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
