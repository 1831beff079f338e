"""Who may do what, and patient data at rest: admin key, own appointments only, rate limits,
encryption, blind index, keys required to start."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.booking_api import ADMIN, TestClient, new_patient

from reference_app.app import create_app
from reference_app.identity import generate_data_key
from reference_app.settings import Settings
from surge.cli import main


def test_admin_routes_need_the_admin_key(client: TestClient) -> None:
    assert client.get("/admin/invariants").status_code == 401
    wrong = client.get("/admin/invariants", headers={"Authorization": "Bearer not-the-key"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
    patient = new_patient(client)
    assert client.get("/admin/invariants", headers=patient.headers).status_code == 403
    assert (
        client.put("/admin/waiting-room", json={"enabled": True, "rate_per_s": 1}).status_code
        == 401
    )


def test_a_patient_sees_and_cancels_only_their_own_appointments(
    client: TestClient, campaign: dict
) -> None:
    alice, bob = new_patient(client, "Alice"), new_patient(client, "Bob")
    booked = client.post(
        "/appointments", headers=alice.headers, json={"slot_id": campaign["dose1"][0]["id"]}
    )
    appointment_id = booked.json()["id"]
    assert client.get("/appointments", headers=bob.headers).json() == []
    stolen = client.delete(f"/appointments/{appointment_id}", headers=bob.headers)
    assert stolen.status_code == 404
    assert [a["status"] for a in client.get("/appointments", headers=alice.headers).json()] == [
        "active"
    ]


def test_booking_attempts_are_rate_limited_per_token(client_with) -> None:
    with client_with(rate_limit_token_per_min=3) as client:
        patient = new_patient(client)
        codes = [
            client.post("/appointments", headers=patient.headers, json={"slot_id": 999}).status_code
            for _ in range(4)
        ]
        assert codes == [404, 404, 404, 429]
        limited = client.post("/appointments", headers=patient.headers, json={"slot_id": 999})
        assert (
            limited.json()["error"] == "rate_limited"
            and 1 <= int(limited.headers["Retry-After"]) <= 61
        )
        other = new_patient(client, "Other")  # another token is not limited
        assert (
            client.post("/appointments", headers=other.headers, json={"slot_id": 999}).status_code
            == 404
        )


def test_booking_attempts_are_rate_limited_per_address(client_with) -> None:
    with client_with(rate_limit_ip_per_min=2) as client:
        codes = [
            client.post(
                "/appointments",
                headers=new_patient(client, f"P{i}").headers,
                json={"slot_id": 1},
            ).status_code
            for i in range(3)
        ]
        assert codes[-1] == 429


def test_identity_is_encrypted_at_rest_and_found_by_blind_index(
    client: TestClient, settings: Settings
) -> None:
    response = client.post(
        "/patients",
        json={
            "first_name": "Zephyrine",
            "last_name": "Quasimodoz",
            "birth_date": "1971-03-09",
            "email": "zephyrine.quasimodoz@example.fr",
            "phone": "+33 6 98 76 54 32",
        },
    )
    token = response.json()["token"]
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM patients")).mappings().one()
    engine.dispose()
    stored = " ".join(str(v) for v in row.values())
    for secret in (
        "Zephyrine",
        "Quasimodoz",
        "1971-03-09",
        "zephyrine.quasimodoz",
        "98 76 54 32",
        token,
    ):
        assert secret not in stored
    assert row["first_name"].split(".")[0] == "_p"  # sealed under the patient's own key
    if settings.database_url.startswith("sqlite"):
        raw = Path(settings.database_url.split("///", 1)[1]).read_bytes()
        for suffix in ("-wal", ""):
            path = Path(settings.database_url.split("///", 1)[1] + suffix)
            raw = path.read_bytes() if path.exists() else b""
            assert b"Zephyrine" not in raw and b"Quasimodoz" not in raw
    found = client.get(
        "/admin/patients", params={"email": "Zephyrine.Quasimodoz@EXAMPLE.fr"}, headers=ADMIN
    )
    assert [p["last_name"] for p in found.json()] == ["Quasimodoz"]


def test_rotated_keys_still_decrypt_and_find_old_patients(
    client: TestClient, settings: Settings
) -> None:
    person = {
        "first_name": "Ancienne",
        "last_name": "Cle",
        "birth_date": "1950-01-01",
        "email": "ancienne@example.fr",
        "phone": "0102030405",
    }
    assert client.post("/patients", json=person).status_code == 201
    rotated = replace(settings, data_keys=f"{generate_data_key()},{settings.data_keys}")
    with TestClient(create_app(rotated)) as second:
        second.post("/patients", json={**person, "first_name": "Nouvelle"})
        found = second.get(
            "/admin/patients", params={"email": "ancienne@example.fr"}, headers=ADMIN
        ).json()
    assert sorted(p["first_name"] for p in found) == ["Ancienne", "Nouvelle"]
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        kids = set(conn.execute(text("SELECT kid FROM patient_keys")).scalars())
    engine.dispose()
    assert len(kids) == 2  # each wrapped patient key names the master key that wrapped it


def test_serve_refuses_to_start_without_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)  # no .surge/ key files here
    for name in [k for k in os.environ if k.startswith("SURGE_")]:
        monkeypatch.delenv(name)
    argv = ["app", "serve", "--db", str(tmp_path / "x.db"), "--port", "1"]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("surge: error: no admin key")
    monkeypatch.setenv("SURGE_ADMIN_KEY", "some-admin-key-123")
    assert main(argv) == 2
    assert "no patient-data key" in capsys.readouterr().err
    assert not (tmp_path / ".surge").exists()  # nothing generated without --dev


def test_dev_mode_creates_local_key_files_and_says_so(tmp_path: Path) -> None:
    from reference_app.settings import load_secrets

    env_backup = {
        k: os.environ.pop(k) for k in list(os.environ) if k.startswith("SURGE_") and "KEY" in k
    }
    try:
        admin, data, notes = load_secrets(dev=True, dev_dir=tmp_path / ".surge")
        again = load_secrets(dev=True, dev_dir=tmp_path / ".surge")
    finally:
        os.environ.update(env_backup)
    assert (tmp_path / ".surge" / "admin.key").read_text().strip() == admin
    assert (tmp_path / ".surge" / "data.key").read_text().strip() == data
    assert len(notes) == 2 and all("--dev" in n for n in notes)
    assert again[:2] == (admin, data) and again[2] == []  # reused, not regenerated
