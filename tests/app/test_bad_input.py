"""One test per bad-input class: each gets a 4xx JSON error that says what is wrong, never a
500, and books nothing."""

from __future__ import annotations

from support.booking_api import ADMIN, TestClient, day_at, new_patient


def _error(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "detail"} and body["detail"]
    if code:
        assert body["error"] == code


def _nothing_booked(client: TestClient) -> None:
    assert client.get("/admin/invariants", headers=ADMIN).json()["appointments"] == 0


def test_bad_json_is_400(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    for raw in (b"{not json", b'{"slot_id": 1', "\xff\xfe{}".encode("latin-1"), b"[" * 5000):
        response = client.post(
            "/appointments",
            headers={**patient.headers, "Content-Type": "application/json"},
            content=raw,
        )
        assert response.status_code in (400, 422), response.text
        assert response.json()["error"] in ("bad_json", "invalid_request")
    _error(
        client.post("/patients", content=b"{oops", headers={"Content-Type": "application/json"}),
        400,
        "bad_json",
    )
    _nothing_booked(client)


def test_wrong_types_are_422_naming_the_field(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    for body in (
        {"slot_id": "abc"},
        {"slot_id": 1.5},
        {"slot_id": None},
        [],
        {"slot_id": 1, "extra": True},
        {},
    ):
        response = client.post("/appointments", headers=patient.headers, json=body)
        _error(response, 422, "invalid_request")
    response = client.post(
        "/patients", json={"first_name": 3, "last_name": "X", "birth_date": "soon"}
    )
    _error(response, 422, "invalid_request")
    assert "birth_date" in response.json()["detail"]
    _error(client.get("/centers", params={"postcode": "Paris"}), 422)
    _error(client.get("/centers", params={"postcode": "75011", "vaccine": "sputnik"}), 422)
    _error(client.get("/centers", params={"postcode": "75011", "limit": 10_000}), 422)
    _nothing_booked(client)


def test_unknown_ids_are_404(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    _error(
        client.post("/appointments", headers=patient.headers, json={"slot_id": 987654}),
        404,
        "not_found",
    )
    _error(
        client.post(
            "/appointments",
            headers=patient.headers,
            json={"slot_id": campaign["dose1"][0]["id"], "second_slot_id": 987654},
        ),
        404,
        "not_found",
    )
    _error(client.get("/centers/987654/availability", params={"vaccine": "pfizer"}), 404)
    _error(client.delete("/appointments/987654", headers=patient.headers), 404)
    _error(client.post("/admin/centers/987654/slots", headers=ADMIN, json={
        "vaccine": "pfizer", "dose": 1, "start": day_at(1).isoformat(), "capacity": 1}), 404)  # fmt: skip
    _error(client.get("/no/such/route"), 404, "not_found")
    _error(
        client.get("/centers/99999999999999999999999/availability", params={"vaccine": "pfizer"}),
        422,
    )
    _error(client.post("/appointments", headers=patient.headers, json={"slot_id": 2**70}), 422)
    _nothing_booked(client)


def test_dates_out_of_range_are_422(client: TestClient, campaign: dict) -> None:
    url = f"/centers/{campaign['center_id']}/availability"
    _error(
        client.get(url, params={"vaccine": "pfizer", "from": "1999-01-01"}),
        422,
        "date_out_of_range",
    )
    _error(
        client.get(url, params={"vaccine": "pfizer", "from": "2999-01-01"}),
        422,
        "date_out_of_range",
    )
    _error(client.get(url, params={"vaccine": "pfizer", "from": "2021-02-30"}), 422)
    _error(client.get(url, params={"vaccine": "pfizer", "days": 400}), 422)
    _error(
        client.post(
            f"/admin/centers/{campaign['center_id']}/slots",
            headers=ADMIN,
            json={"vaccine": "pfizer", "dose": 1, "start": "1990-01-01T09:00:00", "capacity": 1},
        ),
        422,
        "date_out_of_range",
    )
    bad_birth = {
        "first_name": "A",
        "last_name": "B",
        "birth_date": "2999-01-01",
        "email": "a@b.c",
        "phone": "0102",
    }
    _error(client.post("/patients", json=bad_birth), 422)
    _error(
        client.put("/admin/vaccines/pfizer", headers=ADMIN, json={"min_days": 40, "max_days": 20}),
        422,
    )


def test_huge_body_is_413(client: TestClient, campaign: dict) -> None:
    patient = new_patient(client)
    padding = "x" * 200_000
    response = client.post(
        "/appointments", headers=patient.headers, content=f'{{"slot_id": 1, "p": "{padding}"}}'
    )
    _error(response, 413, "body_too_large")

    def chunks():
        for _ in range(100):
            yield b"x" * 10_000

    streamed = client.post(
        "/patients", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _error(streamed, 413, "body_too_large")
    _nothing_booked(client)


def test_missing_or_forged_tokens_are_401(client: TestClient, campaign: dict) -> None:
    body = {"slot_id": campaign["dose1"][0]["id"]}
    _error(client.post("/appointments", json=body), 401, "unauthorized")
    _error(
        client.post("/appointments", json=body, headers={"Authorization": "Basic abc"}),
        401,
        "unauthorized",
    )
    _error(client.post("/appointments", json=body, headers={"Authorization": "Bearer "}), 401)
    _error(
        client.post("/appointments", json=body, headers={"Authorization": "Bearer pt_forged"}),
        401,
        "invalid_token",
    )
    _error(
        client.post("/appointments", json=body, headers={"Authorization": "Bearer " + "a" * 5000}),
        401,
    )
    _error(
        client.get("/appointments", headers={"Authorization": "Bearer pt_forged"}),
        401,
        "invalid_token",
    )
    _error(client.delete("/appointments/1", headers={"Authorization": "Bearer pt_forged"}), 401)
    _nothing_booked(client)


def test_sql_looking_strings_are_just_data(client: TestClient) -> None:
    hostile = "Robert'); DROP TABLE patients;--"
    response = client.post(
        "/patients",
        json={
            "first_name": hostile,
            "last_name": hostile,
            "birth_date": "1990-01-01",
            "email": "r@b.fr",
            "phone": "0102",
        },
    )
    assert response.status_code == 201
    found = client.get("/admin/patients", params={"email": "r@b.fr"}, headers=ADMIN).json()
    assert found[0]["first_name"] == hostile


def test_control_characters_and_floods_are_refused(client: TestClient) -> None:
    center = {
        "name": "Centre\u0000",
        "kind": "vaccination",
        "postcode": "75011",
        "vaccines": ["pfizer"],
    }
    _error(client.post("/admin/centers", headers=ADMIN, json=center), 422, "invalid_request")
    person = {
        "first_name": "A\u0007",
        "last_name": "B",
        "birth_date": "1990-01-01",
        "email": "a@b.fr",
        "phone": "0102",
    }
    _error(client.post("/patients", json=person), 422, "invalid_request")
    flood = {
        "name": "Dr Flood",
        "postcode": "69001",
        "vaccines": ["pfizer", "moderna", "astrazeneca"],
        "agenda": [{"weekday": d, "start": "00:00", "end": "23:55"} for d in range(7)] * 7,
        "interval_minutes": 5,
        "weeks": 8,
    }
    _error(client.post("/practitioners", json=flood), 422, "too_many_slots")
    assert client.get("/centers", params={"postcode": "69001"}).json() == []  # rolled back
