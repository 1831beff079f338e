"""Each route's happy path, through the app factory against a fresh database on each backend."""

from __future__ import annotations

from support.booking_api import ADMIN, TestClient, day_at, make_center, new_patient, open_slots
from support.metrics import metric


def test_healthz_reports_database_status(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"


def test_vaccines_list_the_four_codes_with_their_windows(client: TestClient) -> None:
    rules = {v["code"]: v for v in client.get("/vaccines").json()}
    assert set(rules) == {"pfizer", "moderna", "astrazeneca", "janssen"}
    assert (rules["pfizer"]["min_days"], rules["pfizer"]["max_days"]) == (21, 49)
    assert (rules["astrazeneca"]["min_days"], rules["astrazeneca"]["max_days"]) == (63, 84)
    assert rules["janssen"]["doses"] == 1


def test_centers_near_a_postcode_come_same_department_first(client: TestClient) -> None:
    lyon = make_center(client, ["pfizer"], postcode="69003", name="Lyon")
    paris = make_center(client, ["pfizer"], postcode="75011", name="Paris")
    creteil = make_center(client, ["pfizer", "moderna"], postcode="94000", name="Creteil")
    found = client.get(
        "/centers", params={"postcode": "75020", "vaccine": "pfizer", "limit": 10}
    ).json()
    assert [c["id"] for c in found] == [paris, creteil, lyon]
    only_moderna = client.get("/centers", params={"postcode": "75020", "vaccine": "moderna"}).json()
    assert [c["id"] for c in only_moderna] == [creteil]
    assert len(client.get("/centers", params={"postcode": "75020", "limit": 1}).json()) == 1


def test_availability_lists_open_slots_with_remaining_seats(
    client: TestClient, campaign: dict
) -> None:
    day = day_at(1).date().isoformat()
    slots = client.get(
        f"/centers/{campaign['center_id']}/availability",
        params={"vaccine": "pfizer", "dose": 1, "from": day, "days": 1},
    ).json()
    assert [s["id"] for s in slots] == [s["id"] for s in campaign["dose1"]]
    assert set(slots[0]) == {"id", "start", "capacity", "remaining"}
    assert slots[0]["remaining"] == slots[0]["capacity"] == 2


def test_booking_returns_both_doses_and_lists_and_cancels(
    client: TestClient, campaign: dict
) -> None:
    patient = new_patient(client)
    slot = campaign["dose1"][0]
    booked = client.post("/appointments", headers=patient.headers, json={"slot_id": slot["id"]})
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert body["dose1"] == {
        "slot_id": slot["id"],
        "start": slot["start"],
        "center_id": campaign["center_id"],
    }
    assert body["dose2"]["slot_id"] == campaign["dose2"][0]["id"]
    listed = client.get("/appointments", headers=patient.headers).json()
    assert [a["id"] for a in listed] == [body["id"]]
    cancelled = client.delete(f"/appointments/{body['id']}", headers=patient.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    seats = client.get(
        f"/centers/{campaign['center_id']}/availability",
        params={"vaccine": "pfizer", "from": day_at(1).date().isoformat(), "days": 1},
    ).json()
    assert seats[0]["remaining"] == 2  # freed
    assert client.get("/admin/invariants", headers=ADMIN).json() == {
        "overbooked_slots": 0,
        "double_bookings": 0,
        "dose2_out_of_window": 0,
        "orphan_dose2": 0,
        "appointments": 0,
    }


def test_explicit_second_slot_is_booked_when_inside_the_window(
    client: TestClient, campaign: dict
) -> None:
    patient = new_patient(client)
    chosen = campaign["dose2"][2]["id"]
    body = client.post(
        "/appointments",
        headers=patient.headers,
        json={"slot_id": campaign["dose1"][0]["id"], "second_slot_id": chosen},
    ).json()
    assert body["dose2"]["slot_id"] == chosen


def test_admin_opens_slots_and_invariants_count_appointments(
    client: TestClient, campaign: dict
) -> None:
    patient = new_patient(client)
    client.post(
        "/appointments", headers=patient.headers, json={"slot_id": campaign["janssen"][0]["id"]}
    )
    checks = client.get("/admin/invariants", headers=ADMIN).json()
    assert checks["appointments"] == 1 and checks["overbooked_slots"] == 0


def test_practitioner_agenda_becomes_bookable_slots(client: TestClient) -> None:
    response = client.post(
        "/practitioners",
        json={
            "name": "Dr Marie Curie",
            "postcode": "13001",
            "vaccines": ["moderna"],
            "agenda": [{"weekday": d, "start": "09:00", "end": "10:00"} for d in range(7)],
            "interval_minutes": 15,
            "weeks": 1,
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["kind"] == "teleconsultation" and created["slots_created"] > 28
    slots = client.get(
        f"/centers/{created['id']}/availability", params={"vaccine": "moderna", "days": 8}
    ).json()
    assert len(slots) == 28  # 7 days x 4 slots, starting tomorrow
    patient = new_patient(client)
    booked = client.post("/appointments", headers=patient.headers, json={"slot_id": slots[0]["id"]})
    assert booked.status_code == 201 and booked.json()["dose2"] is not None


def test_metrics_expose_route_counts_latency_and_gauges(client: TestClient) -> None:
    client.get("/vaccines")
    text = client.get("/metrics").text
    route = {"method": "GET", "route": "/vaccines"}
    assert metric(text, "surge_http_requests_total", **route, status="200") == 1
    assert metric(text, "surge_http_request_duration_seconds_bucket", **route, le="+Inf") == 1
    assert metric(text, "surge_http_request_duration_seconds_count", **route) == 1
    assert metric(text, "surge_http_requests_in_flight") == 1  # this scrape
    assert metric(text, "surge_workers") == 1
    assert metric(text, "surge_waiting_room_size") == 0
    assert metric(text, "surge_waiting_room_enabled") == 0
    assert metric(text, "surge_waiting_room_admission_rate") == 0
    assert metric(text, "surge_database_up") == 1
    assert metric(text, "surge_db_pool_size") == client.app.state.ctx.settings.db_pool_size
    assert metric(text, "surge_db_pool_checked_out") == 0  # none between requests


def test_openapi_schema_documents_the_contract(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/healthz",
        "/vaccines",
        "/centers",
        "/centers/{center_id}/availability",
        "/patients",
        "/appointments",
        "/appointments/{appointment_id}",
        "/practitioners",
        "/queue",
        "/queue/{ticket}",
        "/admin/centers",
        "/admin/centers/{center_id}/slots",
        "/admin/invariants",
        "/admin/vaccines/{code}",
        "/admin/waiting-room",
    ):
        assert path in paths


def test_admin_slots_start_without_timezone_is_utc(client: TestClient) -> None:
    center = make_center(client, ["moderna"])
    start = day_at(1, 10).replace(tzinfo=None)
    slots = open_slots(client, center, "moderna", 1, start, count=2, interval_minutes=30)
    assert [s["start"][11:16] for s in slots] == ["10:00", "10:30"]
