"""Who may do what: admin routes need the admin key, patients see and cancel only their own
appointments, booking attempts are rate-limited per token and per client address, and patient
identity is never stored or logged in plaintext (SQLite file and WAL, pg_dump, server log)."""

from __future__ import annotations

import random
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url
from support.booking_api import BookingApi, Patient, api_for

from loadtests.app_launcher import ServedApp, served_app

pytestmark = pytest.mark.reliability

TOKEN_LIMIT = 5
IP_LIMIT = 12
# The tests play a reverse proxy on 127.0.0.1 that names each client in X-Forwarded-For.
LIMITS = (
    "--rate-limit-token", str(TOKEN_LIMIT), "--rate-limit-ip", str(IP_LIMIT),
    "--trusted-proxy", "127.0.0.1/32",
)  # fmt: skip


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def guarded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServedApp, str, Path]]:
    """An app with tight booking rate limits: (app, database URL, server log path)."""
    where = tmp_path_factory.mktemp("guarded")
    log = where / "app.log"
    if request.param == "sqlite":
        url = f"sqlite:///{where / 'surge.db'}"
        with served_app(url, extra_args=LIMITS, log_path=log, cwd=where) as app:
            yield app, url, log
        return
    fresh = request.getfixturevalue("fresh_postgres_database")
    with (
        fresh(request.getfixturevalue("postgres_url")) as url,
        served_app(url, extra_args=LIMITS, log_path=log, cwd=where) as app,
    ):
        yield app, url, log


@pytest.fixture(scope="module")
def api(guarded) -> BookingApi:
    return api_for(guarded[0])


def _address() -> dict[str, str]:
    """A client address of its own (X-Forwarded-For is believed from the trusted 127.0.0.1)."""
    octets = random.randrange(256), random.randrange(256)  # noqa: S311 - test addresses
    return {"X-Forwarded-For": f"10.{octets[0]}.{octets[1]}.7"}


def _admin_operations(http: httpx.Client) -> list[tuple[str, str]]:
    paths = http.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path.replace("{center_id}", "1").replace("{code}", "pfizer"))
        for path, item in paths.items()
        if path.startswith("/admin")
        for method in item
    ]


def test_admin_routes_need_the_admin_key(api: BookingApi) -> None:
    with api.client() as http:
        patient = api.new_patient(http)
        operations = _admin_operations(http)
        assert len(operations) >= 6
        for method, path in operations:
            for headers, status in (
                ({}, 401),
                ({"Authorization": "Bearer not-the-key"}, 403),
                ({"Authorization": f"Bearer {api.admin_key}x"}, 403),
                ({"Authorization": f"Basic {api.admin_key}"}, 401),
                (patient.headers, 403),
            ):
                response = http.request(method, path, headers=headers, json={})
                assert response.status_code == status, (method, path, headers, response.text)
                assert response.json()["error"] in ("unauthorized", "forbidden")


def test_a_patient_reads_and_cancels_only_their_own_appointments(api: BookingApi) -> None:
    with api.client() as http:
        campaign = api.open_campaign(http, dose1_slots=2, capacity=5)
        alice, bob = api.new_patient(http), api.new_patient(http)
        booked = http.post(
            "/appointments",
            json={"slot_id": campaign.dose1[0]["id"]},
            headers={**bob.headers, **_address()},
        )
        assert booked.status_code == 201, booked.text
        theirs = booked.json()["id"]
        assert api.appointments(http, alice) == []
        response = http.delete(f"/appointments/{theirs}", headers=alice.headers)
        assert response.status_code == 404
        assert http.delete(f"/appointments/{theirs}").status_code == 401
        forged = {"Authorization": "Bearer pt_" + "A" * 43}
        assert http.delete(f"/appointments/{theirs}", headers=forged).status_code == 401
        assert [a["status"] for a in api.appointments(http, bob)] == ["active"]


def _attempts(http: httpx.Client, patients: list[Patient], address: dict, count: int) -> list:
    return [
        http.post(
            "/appointments",
            json={"slot_id": 2**40},  # no such slot: an attempt, never a booking
            headers={**patients[n % len(patients)].headers, **address},
        )
        for n in range(count)
    ]


def _assert_limited(responses: list, allowed: int) -> None:
    statuses = [r.status_code for r in responses]
    assert 429 not in statuses[:allowed], statuses
    assert set(statuses[allowed:]) == {429}, statuses
    for response in responses[allowed:]:
        assert 1 <= int(response.headers["retry-after"]) <= 61
        assert response.json()["error"] == "rate_limited"


def test_booking_attempts_are_rate_limited_per_patient_token(api: BookingApi) -> None:
    with api.client() as http:
        patient = api.new_patient(http)
        # One token from changing addresses (the token bucket, not the address bucket).
        responses = [_attempts(http, [patient], _address(), 1)[0] for _ in range(TOKEN_LIMIT + 3)]
        _assert_limited(responses, TOKEN_LIMIT)
        other = api.new_patient(http)
        assert _attempts(http, [other], _address(), 1)[0].status_code == 404


def test_booking_attempts_are_rate_limited_per_client_address(api: BookingApi) -> None:
    with api.client() as http:
        herd = [api.new_patient(http) for _ in range(IP_LIMIT)]  # the alert-bot herd
        address = _address()
        _assert_limited(_attempts(http, herd, address, IP_LIMIT + 3), IP_LIMIT)
        assert _attempts(http, herd[:1], _address(), 1)[0].status_code == 404


def test_patient_identity_is_never_stored_or_logged_in_plaintext(guarded, api: BookingApi) -> None:
    _, url, log = guarded
    marker = f"Zorglub{uuid.uuid4().hex[:8]}"
    secrets_sent: list[str] = []
    with api.client() as http:
        campaign = api.open_campaign(http, dose1_slots=1, capacity=5)
        for n in range(3):
            person = {
                "first_name": f"{marker}Prenom{n}",
                "last_name": f"{marker}Nom{n}",
                "birth_date": "1931-02-0" + str(n + 1),
                "email": f"{marker.lower()}.{n}@hostile.example",
                "phone": f"+33 7 99 {n}8 76 54",
            }
            created = http.post("/patients", json=person)
            assert created.status_code == 201
            token = created.json()["token"]
            headers = {"Authorization": f"Bearer {token}", **_address()}
            booked = http.post(
                "/appointments", json={"slot_id": campaign.dose1[0]["id"]}, headers=headers
            )
            assert booked.status_code == 201
            secrets_sent += [person["first_name"], person["last_name"], person["email"], token]
            secrets_sent.append(person["phone"])
            # Identity found through the blind index, decrypted for the admin only.
            found = http.get(
                "/admin/patients", params={"email": person["email"]}, headers=api.admin
            )
            assert [p["last_name"] for p in found.json()] == [person["last_name"]]
    stored = _stored_bytes(url)
    assert len(stored) > 10_000  # the search reads the real data
    logged = log.read_bytes()
    for secret in [*secrets_sent, marker]:
        for where, blob in (("database", stored), ("server log", logged)):
            assert secret.encode() not in blob, f"{secret!r} in plaintext in the {where}"
            assert secret.lower().encode() not in blob.lower()


def _stored_bytes(url: str) -> bytes:
    """Every byte the database holds: the SQLite file with its WAL, or a full pg_dump."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
        assert Path(f"{path}-wal").exists()
        return b"".join(p.read_bytes() for p in files)
    parsed = make_url(url)
    dump = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        ["pg_dump", "--no-owner", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),  # noqa: S607 - a client tool found on PATH, as a user runs it
         "-U", parsed.username or "postgres", parsed.database or ""],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return dump.stdout
