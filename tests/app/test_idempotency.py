"""Idempotency-Key: a replay returns the original result and never books twice."""

from __future__ import annotations

from support.booking_api import ADMIN, TestClient, new_patient


def test_replay_returns_the_original_result(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    headers = {**patient.headers, "Idempotency-Key": "retry-1"}
    body = {"slot_id": campaign["dose1"][0]["id"]}
    first = client.post("/appointments", headers=headers, json=body)
    replay = client.post("/appointments", headers=headers, json=body)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert client.get("/admin/invariants", headers=ADMIN).json()["appointments"] == 1


def test_replay_of_a_refusal_returns_the_same_refusal(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    headers = {**patient.headers, "Idempotency-Key": "retry-2"}
    body = {"slot_id": campaign["dose1"][0]["id"], "second_slot_id": campaign["late"][0]["id"]}
    first = client.post("/appointments", headers=headers, json=body)
    replay = client.post("/appointments", headers=headers, json=body)
    assert first.status_code == replay.status_code == 409
    assert replay.json()["error"] == first.json()["error"] == "dose2_out_of_window"


def test_same_key_with_another_body_is_rejected(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    headers = {**patient.headers, "Idempotency-Key": "retry-3"}
    client.post("/appointments", headers=headers, json={"slot_id": campaign["dose1"][0]["id"]})
    other = client.post(
        "/appointments", headers=headers, json={"slot_id": campaign["dose1"][1]["id"]}
    )
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"


def test_keys_are_scoped_per_patient(client: TestClient, campaign: dict) -> None:
    body = {"slot_id": campaign["dose1"][0]["id"]}
    for _ in range(2):
        patient = new_patient(client)
        response = client.post(
            "/appointments", headers={**patient.headers, "Idempotency-Key": "same"}, json=body
        )
        assert response.status_code == 201
    assert client.get("/admin/invariants", headers=ADMIN).json()["appointments"] == 2
