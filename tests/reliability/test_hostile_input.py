"""Hostile input: oversized bodies, deep JSON, invalid UTF-8 and SQL-looking strings in every
field get a 4xx JSON error (or are stored as the plain data they are) and have no effect."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx
import pytest
from support.booking_api import BookingApi, Campaign, broken

pytestmark = pytest.mark.reliability

SQL_LIKE = [
    "' OR '1'='1",
    "1; DROP TABLE slots; --",
    "Robert'); DROP TABLE patients; --",
    '" OR ""="',
    "1 UNION SELECT token_hash FROM patients",
    "%' AND 1=1 AND '%'='",
    "\\'; SELECT pg_sleep(10); --",
    "é\x00nul",
]


@pytest.fixture(scope="module")
def campaign(shared_api: BookingApi) -> Campaign:
    with shared_api.client() as http:
        return shared_api.open_campaign(http, dose1_slots=3, capacity=4)


def _state(shared_api: BookingApi, campaign: Campaign) -> tuple:
    """What hostile requests must not change."""
    with shared_api.client() as http:
        return (
            shared_api.invariants(http),
            shared_api.availability(http, campaign.center_id),
            http.get("/vaccines").json(),
        )


def _assert_client_error(response: httpx.Response, *allowed: int) -> None:
    assert 400 <= response.status_code < 500, (response.request.url, response.text)
    if allowed:
        assert response.status_code in allowed, (response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]


def _body_routes(http: httpx.Client) -> list[tuple[str, str]]:
    paths = http.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path.replace("{center_id}", "1").replace("{code}", "pfizer"))
        for path, item in paths.items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]


def test_oversized_deep_and_invalid_utf8_bodies_are_4xx_on_every_route(
    shared_api: BookingApi, campaign: Campaign
) -> None:
    before = _state(shared_api, campaign)
    with shared_api.client() as http:
        patient = shared_api.new_patient(http)
        routes = _body_routes(http)
        assert len(routes) >= 7
        headers = {**shared_api.admin, "Content-Type": "application/json"}
        for method, path in routes:
            auth = patient.headers if path == "/appointments" else shared_api.admin
            headers = {**auth, "Content-Type": "application/json"}
            big = b'{"name": "' + b"x" * 300_000 + b'"}'
            response = http.request(method, path, content=big, headers=headers)
            _assert_client_error(response, 413)
            chunked = http.request(method, path, content=iter([big[:1000]] * 300), headers=headers)
            _assert_client_error(chunked, 413)
            for body in (
                b"[" * 30_000 + b"]" * 30_000,  # deep, within the size limit
                b'{"a":' * 7_000 + b"1" + b"}" * 7_000,
                b'{"slot_id": "\xff\xfe\xfd", "name": "\xc3\x28"}',  # invalid UTF-8
                b'{"slot_id": 1,',  # truncated
                b"\x00\x01\x02",
                b"",
            ):
                response = http.request(method, path, content=body, headers=headers)
                _assert_client_error(response, 400, 401, 404, 415, 422)
    assert _state(shared_api, campaign) == before


def test_sql_looking_strings_in_every_field_are_refused_or_stored_verbatim(
    shared_api: BookingApi, campaign: Campaign
) -> None:
    before = _state(shared_api, campaign)
    with shared_api.client() as http:
        patient = shared_api.new_patient(http)
        for payload in SQL_LIKE:
            person = {
                "first_name": "Ana",
                "last_name": "Lopez",
                "birth_date": "1970-01-01",
                "email": f"ana.{uuid.uuid4().hex[:8]}@example.fr",
                "phone": "+33 6 00 00 00 00",
            }
            for field in person:
                hostile = {**person, field: payload}
                response = http.post("/patients", json=hostile)
                if response.status_code == 201:  # a strange name is still a name
                    assert field in ("first_name", "last_name"), response.text
                    found = http.get(
                        "/admin/patients",
                        params={"email": person["email"]},
                        headers=shared_api.admin,
                    ).json()
                    assert payload in [p[field] for p in found]
                else:
                    _assert_client_error(response, 422)
            for center in (
                {"name": "C", "kind": payload, "postcode": "75011", "vaccines": ["pfizer"]},
                {"name": "C", "kind": "vaccination", "postcode": payload, "vaccines": ["pfizer"]},
                {"name": "C", "kind": "vaccination", "postcode": "75011", "vaccines": [payload]},
            ):
                _assert_client_error(
                    http.post("/admin/centers", json=center, headers=shared_api.admin), 422
                )
            named = http.post(
                "/admin/centers",
                json={"name": payload, "kind": "vaccination", "postcode": "75011", "vaccines": ["pfizer"]},
                headers=shared_api.admin,
            )  # fmt: skip
            if named.status_code != 201:
                _assert_client_error(named, 422)
            for params in ({"postcode": payload}, {"postcode": "75011", "vaccine": payload}):
                _assert_client_error(http.get("/centers", params=params), 422)
            _assert_client_error(
                http.get("/centers/1/availability", params={"vaccine": payload}), 422
            )
            _assert_client_error(
                http.get("/centers/1/availability", params={"vaccine": "pfizer", "from": payload}),
                422,
            )
            segment = quote(payload, safe="")
            availability = f"/centers/{segment}/availability"
            _assert_client_error(http.get(availability, params={"vaccine": "pfizer"}), 404, 422)
            _assert_client_error(http.delete(f"/appointments/{segment}"), 401, 404, 422)
            _assert_client_error(http.get(f"/queue/{segment}"), 404)
            window = {"min_days": 1, "max_days": 2}
            _assert_client_error(
                http.put(f"/admin/vaccines/{segment}", json=window, headers=shared_api.admin),
                404,
                422,
            )
            _assert_client_error(
                http.post("/appointments", json={"slot_id": payload}, headers=patient.headers), 422
            )
            printable = payload.replace("\x00", "")
            if printable.isascii():
                for headers in (
                    {"Authorization": f"Bearer {printable}"},
                    {**patient.headers, "X-Waiting-Room-Pass": printable},
                ):
                    response = http.post("/appointments", json={"slot_id": 2**40}, headers=headers)
                    _assert_client_error(response, 401, 404)
            found = http.get("/admin/patients", params={"email": payload}, headers=shared_api.admin)
            assert found.status_code in (200, 422) and (
                found.status_code == 422 or found.json() == []
            )
        assert http.get("/healthz").status_code == 200
    after = _state(shared_api, campaign)
    assert after == before and broken(after[0]) == {}
