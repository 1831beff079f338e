"""Retention and data-subject rights against a real served app on each backend: export, erasure
(crypto-shredding: future seats freed, nothing identifying left to decrypt in the SQLite file and
WAL or in pg_dump) and `surge app purge --older-than`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import make_url
from support.booking_api import NO_RATE_LIMITS, BookingApi, api_for, broken

from loadtests.app_launcher import ServedApp, served_app
from reference_app.app import create_app
from reference_app.identity import generate_data_key
from reference_app.schema import appointments, patient_keys, patients
from reference_app.settings import Settings, normalize_database_url

with warnings.catch_warnings():
    # Starlette's TestClient warns at import that it prefers `httpx2`; httpx works fine.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

DAY_S = 86_400
FIELDS = ("first_name", "last_name", "birth_date", "email", "phone")


def person(tag: str) -> dict:
    return {
        "first_name": f"Eulalie{tag}",
        "last_name": f"Vermorel{tag}",
        "birth_date": "1944-07-21",
        "email": f"eulalie.vermorel.{tag}@example.fr",
        "phone": "+33 6 55 44 33 22",
    }


def join(api: BookingApi, http: httpx.Client, tag: str) -> dict:
    body = person(tag)
    response = http.post("/patients", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    return {**body, "id": created["id"], "headers": {"Authorization": f"Bearer {created['token']}"}}


def stored_secrets(url: str, patient_id: int) -> list[str]:
    """What the database holds that could lead back to the patient: the sealed fields and the
    wrapped data key (the master key unwraps it)."""
    engine = create_engine(normalize_database_url(url))
    with engine.connect() as conn:
        row = conn.execute(select(patients).where(patients.c.id == patient_id)).mappings().one()
        wrapped = conn.execute(
            select(patient_keys.c.wrapped).where(patient_keys.c.patient_id == patient_id)
        ).scalar_one()
    engine.dispose()
    return [wrapped, *(row[f].partition(".")[2] for f in FIELDS)]


def stored_bytes(url: str) -> bytes:
    """Every byte the database holds: the SQLite file with its WAL, or a full pg_dump."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]
        return b"".join(p.read_bytes() for p in files)
    parsed = make_url(url)
    dump = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        ["pg_dump", "--no-owner", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),  # noqa: S607 - a client tool found on PATH, as a user runs it
         "-U", parsed.username or "postgres", parsed.database or ""],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return dump.stdout


def assert_nothing_left(url: str, who: dict, secrets: list[str]) -> None:
    blob = stored_bytes(url)
    for value in [*(who[f] for f in FIELDS), *secrets]:
        assert value.encode() not in blob, f"{value[:24]!r}... still stored"


def serve(url: str, tmp_path: Path) -> AbstractContextManager[ServedApp]:
    return served_app(url, extra_args=NO_RATE_LIMITS, log_path=tmp_path / "app.log")


def test_a_patient_exports_their_own_data_decrypted(database_url: str, tmp_path: Path) -> None:
    with serve(database_url, tmp_path) as app:
        api = api_for(app)
        with api.client() as http:
            campaign = api.open_campaign(http, dose1_slots=1, capacity=2)
            me, other = join(api, http, "me"), join(api, http, "other")
            booked = http.post(
                "/appointments", json={"slot_id": campaign.dose1[0]["id"]}, headers=me["headers"]
            )
            assert booked.status_code == 201, booked.text
            mine = http.get("/patients/me/export", headers=me["headers"])
            anonymous = http.get("/patients/me/export")
    assert mine.status_code == 200, mine.text
    data = mine.json()
    assert {f: data["patient"][f] for f in FIELDS} == {f: me[f] for f in FIELDS}
    assert data["patient"]["id"] == me["id"] != other["id"]
    assert [a["id"] for a in data["appointments"]] == [booked.json()["id"]]
    assert anonymous.status_code == 401


def test_erasure_frees_future_seats_and_leaves_nothing_to_decrypt(
    database_url: str, tmp_path: Path
) -> None:
    with serve(database_url, tmp_path) as app:
        api = api_for(app)
        with api.client() as http:
            campaign = api.open_campaign(http, dose1_slots=1, capacity=1)
            me = join(api, http, "gone")
            slot = campaign.dose1[0]["id"]
            assert http.post("/appointments", json={"slot_id": slot}, headers=me["headers"]).status_code == 201  # fmt: skip
            assert api.availability(http, campaign.center_id) == {}
            secrets = stored_secrets(database_url, me["id"])
            erased = http.delete("/patients/me", headers=me["headers"])
            assert erased.status_code == 200, erased.text
            assert erased.json()["appointments_cancelled"] == 1
            assert api.availability(http, campaign.center_id) == {slot: 1}  # the seat is free
            assert http.get("/patients/me/export", headers=me["headers"]).status_code == 401
            found = http.get("/admin/patients", params={"email": me["email"]}, headers=api.admin)
            assert found.status_code == 200 and found.json() == []
            assert broken(api.invariants(http)) == {}
            assert_nothing_left(database_url, me, secrets)  # the app still running: WAL too
    assert_nothing_left(database_url, me, secrets)


def _age(url: str, patient_id: int, days: int) -> None:
    """Backdate a patient and their bookings, as if registered and booked `days` ago."""
    engine = create_engine(normalize_database_url(url))
    with engine.begin() as conn:
        old = int(time.time()) - days * DAY_S
        conn.execute(update(patients).where(patients.c.id == patient_id).values(created_s=old))
        conn.execute(
            update(appointments)
            .where(appointments.c.patient_id == patient_id)
            .values(created_s=old)
        )
    engine.dispose()


def test_purge_erases_patients_beyond_retention_and_keeps_the_counts(
    database_url: str, tmp_path: Path
) -> None:
    """Three patients registered 100 days ago: one never booked, one cancelled, one still
    holding a future appointment. `purge --older-than 90d` erases the first two (the cancelled
    appointment is deleted) and keeps the third; one patient of today is untouched."""
    with serve(database_url, tmp_path) as app:
        api = api_for(app)
        with api.client() as http:
            campaign = api.open_campaign(http, dose1_slots=2, capacity=2)
            idle, cancelled, holder, recent = (
                join(api, http, t) for t in ("idle", "cancelled", "holder", "recent")
            )
            first, second = (s["id"] for s in campaign.dose1)
            gone = http.post("/appointments", json={"slot_id": first}, headers=cancelled["headers"])
            assert http.delete(f"/appointments/{gone.json()['id']}", headers=cancelled["headers"]).status_code == 200  # fmt: skip
            kept = http.post("/appointments", json={"slot_id": second}, headers=holder["headers"])
            assert kept.status_code == 201, kept.text
            secrets = {p["id"]: stored_secrets(database_url, p["id"]) for p in (idle, cancelled)}
            for who in (idle, cancelled, holder):
                _age(database_url, who["id"], 100)
            done = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
                [sys.executable, "-m", "surge", "app", "purge", "--db", database_url,
                 "--older-than", "90d"],
                capture_output=True, text=True, timeout=120, env=os.environ,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert '"patients_erased": 2' in done.stdout, done.stdout
            assert '"appointments_deleted": 1' in done.stdout, done.stdout
            for who in (idle, cancelled):
                assert http.get("/patients/me/export", headers=who["headers"]).status_code == 401
            for who in (holder, recent):
                assert http.get("/patients/me/export", headers=who["headers"]).status_code == 200
            assert api.availability(http, campaign.center_id) == {first: 2, second: 1}
            assert broken(api.invariants(http)) == {}
    for who in (idle, cancelled):
        assert_nothing_left(database_url, who, secrets[who["id"]])


def test_purge_refuses_a_bad_age_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        [sys.executable, "-m", "surge", "app", "purge", "--db", f"sqlite:///{tmp_path / 'x.db'}",
         "--older-than", "ninety days"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "90d" in done.stderr and "Traceback" not in done.stderr


def test_serve_purges_periodically_on_its_clock_when_asked(database_url: str) -> None:
    """`purge_older_than_s` set: the app purges by itself; the app's clock (injected) decides
    what is beyond retention."""
    now = [time.time()]
    settings = Settings(
        database_url=normalize_database_url(database_url),
        admin_key="retention-admin-key-0123456789",
        data_keys=generate_data_key(),
        rate_limit_token_per_min=0,
        rate_limit_ip_per_min=0,
        purge_older_than_s=90 * DAY_S,
        purge_every_s=0.05,
    )
    with TestClient(create_app(settings, clock=lambda: now[0])) as client:
        api = BookingApi("", settings.admin_key)
        patient = api.new_patient(client)
        mine = {"Authorization": f"Bearer {patient.token}"}
        time.sleep(0.3)  # several purge periods: nobody is beyond retention yet
        assert client.get("/patients/me/export", headers=mine).status_code == 200
        now[0] += 91 * DAY_S
        for _ in range(100):  # bounded: the next purge period erases the patient
            if client.get("/patients/me/export", headers=mine).status_code == 401:
                break
            time.sleep(0.05)
        assert client.get("/patients/me/export", headers=mine).status_code == 401
