"""A database that goes away: requests fail fast with 503 + Retry-After, and the app recovers by
itself when the database comes back (no restart)."""

from __future__ import annotations

from pathlib import Path

from support.booking_api import ADMIN_KEY, TestClient, new_patient
from support.metrics import metric

from reference_app.app import create_app
from reference_app.identity import generate_data_key
from reference_app.settings import Settings


def test_sqlite_outage_is_a_503_with_retry_after_and_recovers(tmp_path: Path) -> None:
    home = tmp_path / "db"
    settings = Settings(
        database_url=f"sqlite:///{home / 'app.db'}",
        admin_key=ADMIN_KEY,
        data_keys=generate_data_key(),
        rate_limit_token_per_min=0,
        rate_limit_ip_per_min=0,
        db_timeout_s=1.0,
    )
    with TestClient(create_app(settings)) as client:
        patient = new_patient(client)
        client.app.state.ctx.engine.dispose()
        home.rename(tmp_path / "elsewhere")  # the database file is gone
        try:
            for response in (
                client.get("/healthz"),
                client.get("/vaccines"),
                client.post("/appointments", headers=patient.headers, json={"slot_id": 1}),
                client.post(
                    "/patients",
                    json={
                        "first_name": "A",
                        "last_name": "B",
                        "birth_date": "1990-01-01",
                        "email": "a@b.fr",
                        "phone": "0102",
                    },  # fmt: skip
                ),
            ):
                assert response.status_code == 503, response.text
                assert response.json()["error"] == "db_unavailable"
                assert int(response.headers["Retry-After"]) >= 1
            scraped = client.get("/metrics")
            assert scraped.status_code == 200
            assert metric(scraped.text, "surge_database_up") == 0
        finally:
            (tmp_path / "elsewhere").rename(home)
        assert client.get("/healthz").status_code == 200
        assert client.get("/appointments", headers=patient.headers).status_code == 200
