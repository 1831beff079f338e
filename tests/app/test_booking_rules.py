"""Booking rules: dose-2 window, auto-pick, one booking per dose, full slots, rule changes."""

from __future__ import annotations

from datetime import datetime, timedelta

from support.booking_api import ADMIN, TestClient, day_at, make_center, new_patient, open_slots


def _start(slot: dict) -> datetime:
    return datetime.fromisoformat(slot["start"].replace("Z", "+00:00"))


def test_auto_picked_dose2_is_the_earliest_open_slot_inside_the_window(client: TestClient) -> None:
    center = make_center(client, ["pfizer"])
    dose1 = open_slots(client, center, "pfizer", 1, day_at(1, 9), capacity=5)[0]
    too_early = open_slots(client, center, "pfizer", 2, day_at(1 + 20, 8), capacity=5)[0]
    first_fit = open_slots(client, center, "pfizer", 2, day_at(1 + 21, 10), capacity=1)[0]
    second_fit = open_slots(client, center, "pfizer", 2, day_at(1 + 30, 9), capacity=5)[0]
    picks = []
    for _ in range(2):
        patient = new_patient(client)
        body = client.post(
            "/appointments", headers=patient.headers, json={"slot_id": dose1["id"]}
        ).json()
        picks.append(body["dose2"]["slot_id"])
        gap = _start(body["dose2"]) - _start(body["dose1"])
        assert timedelta(days=21) <= gap <= timedelta(days=49)
    assert picks == [first_fit["id"], second_fit["id"]]  # the earliest fills up, then the next
    assert too_early["id"] not in picks


def test_no_dose2_slot_in_the_window_is_a_409_and_books_nothing(client: TestClient) -> None:
    center = make_center(client, ["pfizer"])
    dose1 = open_slots(client, center, "pfizer", 1, day_at(1, 9), capacity=5)[0]
    open_slots(client, center, "pfizer", 2, day_at(1 + 60, 9), capacity=5)  # too late
    patient = new_patient(client)
    refused = client.post("/appointments", headers=patient.headers, json={"slot_id": dose1["id"]})
    assert refused.status_code == 409 and refused.json()["error"] == "no_dose2_slot"
    seats = client.get(
        f"/centers/{center}/availability", params={"vaccine": "pfizer", "days": 2}
    ).json()
    assert seats[0]["remaining"] == 5  # dose 1 was rolled back with the failed dose 2
    assert client.get("/appointments", headers=patient.headers).json() == []


def test_explicit_second_slot_outside_the_window_is_refused(
    client: TestClient, campaign: dict
) -> None:
    patient = new_patient(client)
    refused = client.post(
        "/appointments",
        headers=patient.headers,
        json={"slot_id": campaign["dose1"][0]["id"], "second_slot_id": campaign["late"][0]["id"]},
    )
    assert refused.status_code == 409 and refused.json()["error"] == "dose2_out_of_window"


def test_full_slot_is_a_409_slot_full(client: TestClient, campaign: dict) -> None:
    slot = campaign["dose1"][0]  # capacity 2
    codes = [
        client.post(
            "/appointments", headers=new_patient(client).headers, json={"slot_id": slot["id"]}
        ).status_code
        for _ in range(3)
    ]
    assert codes == [201, 201, 409]
    last = client.post(
        "/appointments", headers=new_patient(client).headers, json={"slot_id": slot["id"]}
    )
    assert last.json()["error"] == "slot_full"


def test_a_patient_holds_one_booking_per_dose(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    first = client.post(
        "/appointments", headers=patient.headers, json={"slot_id": campaign["dose1"][0]["id"]}
    )
    assert first.status_code == 201
    again = client.post(
        "/appointments", headers=patient.headers, json={"slot_id": campaign["dose1"][1]["id"]}
    )
    assert again.status_code == 409 and again.json()["error"] == "dose_already_booked"
    other = client.post(
        "/appointments", headers=patient.headers, json={"slot_id": campaign["janssen"][0]["id"]}
    )
    assert other.status_code == 409 and other.json()["error"] == "dose_already_booked"


def test_single_dose_vaccine_books_no_dose2(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    body = client.post(
        "/appointments", headers=patient.headers, json={"slot_id": campaign["janssen"][0]["id"]}
    )
    assert body.status_code == 201 and body.json()["dose2"] is None


def test_changing_the_window_applies_to_new_bookings_only(client: TestClient) -> None:
    center = make_center(client, ["pfizer"])
    dose1 = open_slots(client, center, "pfizer", 1, day_at(1, 9), capacity=5)[0]
    at_day_22 = open_slots(client, center, "pfizer", 2, day_at(1 + 22, 9), capacity=5)[0]
    at_day_43 = open_slots(client, center, "pfizer", 2, day_at(1 + 43, 9), capacity=5)[0]
    before = client.post(
        "/appointments", headers=new_patient(client).headers, json={"slot_id": dose1["id"]}
    )
    assert before.json()["dose2"]["slot_id"] == at_day_22["id"]

    changed = client.put(
        "/admin/vaccines/pfizer", headers=ADMIN, json={"min_days": 42, "max_days": 49}
    )
    assert changed.status_code == 200 and changed.json()["min_days"] == 42

    after = client.post(
        "/appointments", headers=new_patient(client).headers, json={"slot_id": dose1["id"]}
    )
    assert after.json()["dose2"]["slot_id"] == at_day_43["id"]
    # The earlier appointment (day 22, valid under the old rule) is still counted as valid.
    assert client.get("/admin/invariants", headers=ADMIN).json()["dose2_out_of_window"] == 0
    listed = client.get("/vaccines").json()
    assert {v["code"]: v["min_days"] for v in listed}["pfizer"] == 42


def test_cancelled_patient_can_book_again(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    first = client.post(
        "/appointments", headers=patient.headers, json={"slot_id": campaign["dose1"][0]["id"]}
    )
    client.delete(f"/appointments/{first.json()['id']}", headers=patient.headers)
    again = client.post(
        "/appointments", headers=patient.headers, json={"slot_id": campaign["dose1"][1]["id"]}
    )
    assert again.status_code == 201
    twice = client.delete(f"/appointments/{first.json()['id']}", headers=patient.headers)
    assert twice.status_code == 404
