"""`surge loadtest init --har`: a journey file with one named request per recorded request, on
a HAR recorded of the reference app's booking journey (the app from its factory on a fresh
SQLite database, driven through Starlette's TestClient with a recording step)."""

from __future__ import annotations

import ast
import json
from datetime import timedelta

import pytest

from loadtests.har import route_name
from loadtests.journeys.journey_file import read_journey_file
from reference_app.app import create_app
from reference_app.identity import generate_data_key
from reference_app.settings import Settings
from surge.cli import main
from tests.support.booking_api import (
    ADMIN_KEY,
    DOSE2_OFFSET_DAYS,
    TestClient,
    day_at,
    make_center,
    open_slots,
)
from tests.support.har_recorder import HarRecorder

JOURNEY = [  # what the recording did, as (method, request name)
    ("POST", "post_patients"),
    ("GET", "get_centers"),
    ("GET", "get_centers_id_availability"),
    ("POST", "post_appointments"),
    ("GET", "get_appointments"),
    ("DELETE", "delete_appointments_id"),
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    """One patient's booking journey against the reference app, recorded as HAR."""
    db = tmp_path_factory.mktemp("db") / "app.db"
    settings = Settings(database_url=f"sqlite:///{db}", admin_key=ADMIN_KEY,
                        data_keys=generate_data_key())  # fmt: skip
    recorder = HarRecorder()
    with TestClient(create_app(settings)) as client:
        center = make_center(client, ["pfizer"], postcode="75011")
        open_slots(client, center, "pfizer", 1, day_at(1), capacity=3, count=4)
        open_slots(client, center, "pfizer", 2, day_at(1 + DOSE2_OFFSET_DAYS), capacity=3, count=4)
        recorder.attach(client)  # from here on, what a visitor does
        body = {"first_name": "Jeanne", "last_name": "Dupont", "birth_date": "1980-05-17",
                "email": "jeanne.har@example.fr", "phone": "+33 6 12 34 56 78"}  # fmt: skip
        token = client.post("/patients", json=body).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        found = client.get("/centers", params={"postcode": "75011", "limit": 10}).json()
        first_day = (day_at(1) - timedelta(hours=9)).date().isoformat()
        slots = client.get(f"/centers/{found[0]['id']}/availability",
                           params={"vaccine": "pfizer", "dose": 1, "from": first_day,
                                   "days": 7}).json()  # fmt: skip
        booked = client.post("/appointments", json={"slot_id": slots[0]["id"]}, headers=auth)
        assert booked.status_code == 201, booked.text
        client.get("/appointments", headers=auth)
        client.delete(f"/appointments/{booked.json()['id']}", headers=auth)
    return {"har": recorder.har(), "token": token, "slot_id": slots[0]["id"]}


def _calls(source: str) -> list[tuple[str, str]]:
    """(method, name) of every request the journey makes, in order."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("request", "rest"):
            name = next(k.value.value for k in node.keywords if k.arg == "name")
            calls.append((node.lineno, node.args[0].value, name))
    return [(method, name) for _, method, name in sorted(calls)]


def test_one_named_request_per_recorded_request_and_locust_loads_it(tmp_path, recorded, capsys):
    har = tmp_path / "journey.har"
    har.write_text(json.dumps(recorded["har"]))
    out = tmp_path / "journeys.py"
    assert main(["loadtest", "init", "--har", str(har), "--out", str(out)]) == 0
    source = out.read_text()
    assert _calls(source) == JOURNEY == [
        (e["request"]["method"], route_name(e["request"]["method"],
                                            e["request"]["url"].split("?")[0][len("http://testserver"):]))
        for e in recorded["har"]["log"]["entries"]
    ]  # fmt: skip
    # the recorded values, to edit: relative paths with their query, the token, the JSON body
    assert (
        '"/centers?postcode=75011&limit=10"' in source
        or "'/centers?postcode=75011&limit=10'" in source
    )
    assert recorded["token"] in source and f"{recorded['slot_id']}" in source
    assert "self.rest(" in source  # JSON answers: har2locust's rest() (checks the status)
    journey = read_journey_file(out)
    assert [(c.name, c.arrival) for c in journey.classes] == [("Visitors", True)]
    assert main(["loadtest", "init", "--har", str(har), "--out", str(out)]) == 2  # not overwritten
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "not JSON"), ('{"log": {"entries": []}}', "no log.entries"),
     ('{"log": {"entries": [{"request": {}}]}}', "without request.url")],
)  # fmt: skip
def test_a_bad_har_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    har = tmp_path / "bad.har"
    har.write_text(content)
    code = main(["loadtest", "init", "--har", str(har), "--out", str(tmp_path / "j.py")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "j.py").exists()


def test_route_names_hide_the_ids_of_the_recording():
    assert route_name("GET", "/centers/12/availability") == "get_centers_id_availability"
    assert route_name("DELETE", "/appointments/3f2b9c1e-0d4a-4c7b-9e1f-2a3b4c5d6e7f") == (
        "delete_appointments_id"
    )
    assert route_name("GET", "/") == "get"
