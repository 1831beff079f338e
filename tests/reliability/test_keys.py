"""Key rotation against real served apps and the real `surge app rotate-keys` command: every row
ends under the first key while the app serves, a SIGKILLed rotation resumes, the old key can
then be dropped, e-mail lookup survives (the blind index has its own key), a keyring that would
change the index is refused, and a row under an unknown key answers 503 `key_unavailable`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, insert, select
from support.booking_api import NO_RATE_LIMITS

from loadtests.app_launcher import ServedApp, served_app
from reference_app.identity import Keyring, generate_data_key, hash_token, new_token
from reference_app.schema import patient_keys, patients
from reference_app.settings import normalize_database_url

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

FIELDS = ("first_name", "last_name", "birth_date", "email", "phone")


@pytest.fixture
def index_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A pinned blind-index key, exported to every process the test starts."""
    key = "i" + generate_data_key()[1:]
    monkeypatch.setenv("SURGE_INDEX_KEY", key)
    return key


def serve(url: str, data_key: str, log: Path, admin_key: str = "a" * 40):
    return served_app(
        url, extra_args=NO_RATE_LIMITS, admin_key=admin_key, data_key=data_key, log_path=log
    )


def register(app: ServedApp, count: int, tag: str) -> list[dict]:
    people = []
    with httpx.Client(base_url=app.base_url, timeout=30) as http:
        for i in range(count):
            person = {
                "first_name": f"Prenom{tag}{i}",
                "last_name": f"Nom{tag}{i}",
                "birth_date": "1961-02-03",
                "email": f"{tag}{i}.{uuid.uuid4().hex[:6]}@example.fr",
                "phone": "+33 6 00 00 00 00",
            }
            response = http.post("/patients", json=person)
            assert response.status_code == 201, response.text
            people.append({**person, "token": response.json()["token"]})
    return people


def legacy_patients(url: str, data_key: str, index_key: str, count: int) -> list[dict]:
    """Rows as written before per-patient keys: fields sealed directly under a master key."""
    keyring = Keyring.parse(data_key, index_key)
    engine = create_engine(normalize_database_url(url))
    people = []
    with engine.begin() as conn:
        for i in range(count):
            person = {
                "first_name": f"Ancien{i}",
                "last_name": f"Legacy{i}",
                "birth_date": "1950-01-01",
                "email": f"legacy{i}.{uuid.uuid4().hex[:6]}@example.fr",
                "phone": "0102030405",
            }
            token = new_token()
            conn.execute(
                insert(patients).values(
                    token_hash=hash_token(token),
                    email_index=keyring.blind_index(person["email"]),
                    created_s=0,
                    **{f: keyring.encrypt(person[f], f) for f in FIELDS},
                )
            )
            people.append({**person, "token": token})
    engine.dispose()
    return people


def rotate(url: str, data_key: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        [sys.executable, "-m", "surge", "app", "rotate-keys", "--db", url, *args],
        env={**os.environ, "SURGE_DATA_KEY": data_key},
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_all_readable(app: ServedApp, people: list[dict]) -> None:
    """Every patient's export and admin e-mail lookup decrypt to what they registered."""
    admin = {"Authorization": f"Bearer {app.admin_key}"}
    with httpx.Client(base_url=app.base_url, timeout=30) as http:
        for person in people:
            mine = http.get(
                "/patients/me/export", headers={"Authorization": f"Bearer {person['token']}"}
            )
            assert mine.status_code == 200, mine.text
            assert mine.json()["patient"]["last_name"] == person["last_name"]
            found = http.get("/admin/patients", params={"email": person["email"]}, headers=admin)
            assert found.status_code == 200, found.text
            assert [p["first_name"] for p in found.json()] == [person["first_name"]]


def wrapping_kids(url: str) -> dict[str, int]:
    engine = create_engine(normalize_database_url(url))
    with engine.connect() as conn:
        rows = conn.execute(
            select(patient_keys.c.kid, func.count()).group_by(patient_keys.c.kid)
        ).all()
    engine.dispose()
    return dict(rows)


def test_rotation_while_serving_lets_the_old_key_be_dropped(
    database_url: str, index_key: str, tmp_path: Path
) -> None:
    old, new = generate_data_key(), generate_data_key()
    with serve(database_url, old, tmp_path / "old.log") as app:
        people = register(app, 6, "a")
    people += legacy_patients(database_url, old, index_key, 4)
    both = f"{new},{old}"
    with serve(database_url, both, tmp_path / "both.log") as app:
        people += register(app, 3, "b")  # wrapped by the new key already
        done = rotate(database_url, both, "--batch", "2")  # while the app serves
        assert done.returncode == 0, done.stderr
        assert_all_readable(app, people)
    new_id = new.split(":")[0]
    assert wrapping_kids(database_url) == {new_id: len(people)}
    with serve(database_url, new, tmp_path / "new.log") as app:  # the old key dropped
        assert_all_readable(app, people)


def test_a_rotation_killed_midway_resumes_without_losing_a_row(
    database_url: str, index_key: str, tmp_path: Path
) -> None:
    old, new = generate_data_key(), generate_data_key()
    with serve(database_url, old, tmp_path / "old.log") as app:
        people = register(app, 10, "k")
    people += legacy_patients(database_url, old, index_key, 10)
    both = f"{new},{old}"
    command = [sys.executable, "-m", "surge", "app", "rotate-keys", "--db", database_url]
    first = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
        [*command, "--batch", "2", "--pause-s", "0.5"],
        env={**os.environ, "SURGE_DATA_KEY": both},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = first.stderr.readline()  # the first batch has committed
        assert "re-wrapped" in line, line
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=30)
        first.stderr.close()
    partial = wrapping_kids(database_url)
    assert 0 < partial.get(new.split(":")[0], 0) < len(people), partial
    done = rotate(database_url, both, "--batch", "3")
    assert done.returncode == 0, done.stderr
    assert '"left": 0' in done.stdout
    assert wrapping_kids(database_url) == {new.split(":")[0]: len(people)}
    with serve(database_url, new, tmp_path / "new.log") as app:
        assert_all_readable(app, people)


def test_a_row_under_an_unknown_key_answers_503_key_unavailable_and_logs_no_data(
    database_url: str, index_key: str, tmp_path: Path
) -> None:
    old, new = generate_data_key(), generate_data_key()
    with serve(database_url, old, tmp_path / "old.log") as app:
        person = register(app, 1, "u")[0]
    log = tmp_path / "new.log"
    with serve(database_url, new, log) as app:  # the old key dropped before any rotation
        with httpx.Client(base_url=app.base_url, timeout=30) as http:
            mine = http.get(
                "/patients/me/export", headers={"Authorization": f"Bearer {person['token']}"}
            )
            found = http.get(
                "/admin/patients",
                params={"email": person["email"]},
                headers={"Authorization": f"Bearer {app.admin_key}"},
            )
        for response in (mine, found):
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "key_unavailable"
            assert "retry-after" in response.headers
    text = log.read_text()
    assert old.split(":")[0] in text  # the key id is logged ...
    for value in (person["first_name"], person["last_name"], person["email"], person["token"]):
        assert value not in text  # ... and nothing about the patient


def test_dropping_the_key_that_derives_the_index_is_refused_until_reindexed(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SURGE_INDEX_KEY the index key derives from the last data key: dropping that key
    would silently break every e-mail lookup, so `serve` refuses in one line; the documented
    procedure (pin a SURGE_INDEX_KEY, `rotate-index-key`) then lets it go."""
    monkeypatch.delenv("SURGE_INDEX_KEY", raising=False)
    old, new = generate_data_key(), generate_data_key()
    with serve(database_url, old, tmp_path / "old.log") as app:
        people = register(app, 3, "d")
    both = f"{new},{old}"
    assert rotate(database_url, both).returncode == 0
    refused = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        [sys.executable, "-m", "surge", "app", "serve", "--db", database_url, "--port", "0"],
        env={**os.environ, "SURGE_DATA_KEY": new, "SURGE_ADMIN_KEY": "a" * 40},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2, refused.stderr
    assert "rotate-index-key" in refused.stderr and "Traceback" not in refused.stderr
    pinned = "i" + generate_data_key()[1:]
    monkeypatch.setenv("SURGE_INDEX_KEY", pinned)
    reindexed = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        [sys.executable, "-m", "surge", "app", "rotate-index-key", "--db", database_url],
        env={**os.environ, "SURGE_DATA_KEY": both},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reindexed.returncode == 0, reindexed.stderr
    with serve(database_url, new, tmp_path / "new.log") as app:
        assert_all_readable(app, people)
