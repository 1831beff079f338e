"""The race matrix: real served processes (two uvicorn workers each), every racer released by one
barrier, on both backends. Each race asserts exact outcomes (which statuses, how many) and that
`/admin/invariants` reports no broken rule afterwards.

- the last dose-1 seat;
- the last dose-2 seat (dose 1 has room for everybody, dose 2 for one);
- one patient booking twice at once without an Idempotency-Key (two browser tabs);
- a cancel against books of the last seat;
- two deployments (two `surge app serve` processes) against one PostgreSQL database.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support.booking_api import (
    DOSE2_OFFSET_DAYS,
    NO_RATE_LIMITS,
    BookingApi,
    Patient,
    api_for,
    broken,
    day_at,
)

from loadtests.app_launcher import ServedApp, served_app
from loadtests.postgres import fresh_database as postgres_database

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

RACERS = 12
WORKERS = 2


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def racing_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApp]:
    """One app with two worker processes per backend, for the whole module."""
    where = tmp_path_factory.mktemp("races")
    options = {"workers": WORKERS, "extra_args": NO_RATE_LIMITS, "cwd": where}
    if request.param == "sqlite":
        url = f"sqlite:///{where / 'surge.db'}"
        with served_app(url, log_path=where / "app.log", **options) as app:
            yield app
        return
    with (
        postgres_database(request.getfixturevalue("postgres_url")) as url,
        served_app(url, log_path=where / "app.log", **options) as app,
    ):
        yield app


Action = Callable[[httpx.Client], httpx.Response]


def race(api: BookingApi | list[BookingApi], actions: list[Action]) -> list[httpx.Response]:
    """Run every action in its own thread on its own connection (to the apps in turn when given
    several), opened and warmed beforehand (building a client costs more than a booking), all
    released at once by one barrier."""
    apis = api if isinstance(api, list) else [api]
    barrier = threading.Barrier(len(actions))
    results: list[httpx.Response | BaseException | None] = [None] * len(actions)

    def run(i: int) -> None:
        try:
            with apis[i % len(apis)].client(timeout_s=60) as http:
                http.get("/healthz").raise_for_status()
                barrier.wait()
                results[i] = actions[i](http)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            barrier.abort()
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    assert all(r is not None for r in results), "a racer did not finish within 120 s"
    return results  # type: ignore[return-value]


def booking(patient: Patient, slot_id: int) -> Action:
    def book(http: httpx.Client) -> httpx.Response:
        return http.post("/appointments", json={"slot_id": slot_id}, headers=patient.headers)

    return book


def outcomes(responses: list[httpx.Response]) -> Counter:
    """(status, error code) -> how many."""
    return Counter(
        (r.status_code, None if r.status_code < 300 else r.json().get("error")) for r in responses
    )


def assert_rules_hold(api: BookingApi) -> None:
    with api.client() as http:
        assert broken(api.invariants(http)) == {}


def test_the_last_dose1_seat_goes_to_exactly_one_racer(racing_app: ServedApp) -> None:
    api = api_for(racing_app)
    with api.client() as http:
        campaign = api.open_campaign(http, dose1_slots=1, capacity=1, dose2_capacity=RACERS)
    slot = campaign.dose1[0]["id"]
    patients = api.new_patients(RACERS, clients=4)
    got = outcomes(race(api, [booking(p, slot) for p in patients]))
    assert got == {(201, None): 1, (409, "slot_full"): RACERS - 1}, got
    with api.client() as http:
        assert api.availability(http, campaign.center_id, 1) == {}
    assert_rules_hold(api)


def test_the_last_dose2_seat_goes_to_exactly_one_racer(racing_app: ServedApp) -> None:
    """Dose 1 has a seat for every racer, dose 2 has one: one booking, the rest refused whole
    (their dose-1 seats are given back)."""
    api = api_for(racing_app)
    with api.client() as http:
        center = api.make_center(http, ["pfizer"])
        dose1 = api.open_slots(http, center, "pfizer", 1, day_at(1), RACERS, 1)[0]["id"]
        api.open_slots(http, center, "pfizer", 2, day_at(1 + DOSE2_OFFSET_DAYS), 1, 1)
    patients = api.new_patients(RACERS, clients=4)
    got = outcomes(race(api, [booking(p, dose1) for p in patients]))
    assert got == {(201, None): 1, (409, "no_dose2_slot"): RACERS - 1}, got
    with api.client() as http:
        assert api.availability(http, center, 1) == {dose1: RACERS - 1}
        assert api.availability(http, center, 2) == {}
    assert_rules_hold(api)


def test_one_patient_booking_twice_at_once_without_a_key_books_once(
    racing_app: ServedApp,
) -> None:
    """Two browser tabs (here four), no Idempotency-Key, each on a different slot with room."""
    tabs = 4
    api = api_for(racing_app)
    with api.client() as http:
        campaign = api.open_campaign(http, dose1_slots=tabs, capacity=5)
        patient = api.new_patient(http)
    slots = [s["id"] for s in campaign.dose1]
    got = outcomes(race(api, [booking(patient, slot) for slot in slots]))
    assert got == {(201, None): 1, (409, "dose_already_booked"): tabs - 1}, got
    with api.client() as http:
        assert len(api.appointments(http, patient)) == 1
        left = api.availability(http, campaign.center_id, 1)
    assert sorted(left.values()) == sorted([5] * (tabs - 1) + [4])
    assert_rules_hold(api)


def test_a_cancel_racing_books_of_the_last_seat_frees_it_at_most_once(
    racing_app: ServedApp,
) -> None:
    """The holder of the last seat cancels while others try to book it: the cancel succeeds,
    at most one racer gets the freed seat, and the seat count matches what was granted."""
    api = api_for(racing_app)
    with api.client() as http:
        campaign = api.open_campaign(http, dose1_slots=1, capacity=1, dose2_capacity=RACERS)
        slot = campaign.dose1[0]["id"]
        holder = api.new_patient(http)
        held = http.post("/appointments", json={"slot_id": slot}, headers=holder.headers)
        assert held.status_code == 201, held.text
    appointment = held.json()["id"]
    bookers = api.new_patients(RACERS - 1, clients=4)

    def cancel(http: httpx.Client) -> httpx.Response:
        return http.delete(f"/appointments/{appointment}", headers=holder.headers)

    responses = race(api, [cancel, *[booking(p, slot) for p in bookers]])
    assert responses[0].status_code == 200, responses[0].text
    got = outcomes(responses[1:])
    granted = got[(201, None)]
    assert granted in (0, 1), got
    assert got == Counter({(201, None): granted, (409, "slot_full"): len(bookers) - granted}), got
    with api.client() as http:
        left = api.availability(http, campaign.center_id, 1)
        assert api.appointments(http, holder)[0]["status"] == "cancelled"
    assert left == ({} if granted else {slot: 1})
    assert_rules_hold(api)


@pytest.mark.postgres
def test_two_deployments_on_one_postgres_share_the_last_seats(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two `surge app serve` processes (two workers each) on one database; racers alternate
    between them for the last seats, and the other deployment sees the result."""
    seats = 3
    with (
        postgres_database(postgres_url) as url,
        served_app(
            url, workers=WORKERS, extra_args=NO_RATE_LIMITS, log_path=tmp_path / "a.log"
        ) as first,
        served_app(
            url,
            workers=WORKERS,
            extra_args=NO_RATE_LIMITS,
            admin_key=first.admin_key,
            data_key=first.data_key,
            log_path=tmp_path / "b.log",
        ) as second,
    ):
        apis = [api_for(first), api_for(second)]
        with apis[0].client() as http:
            campaign = apis[0].open_campaign(
                http, dose1_slots=1, capacity=seats, dose2_capacity=RACERS
            )
        slot = campaign.dose1[0]["id"]
        patients = apis[1].new_patients(RACERS, clients=4)
        got = outcomes(race(apis, [booking(p, slot) for p in patients]))
        assert got == {(201, None): seats, (409, "slot_full"): RACERS - seats}, got
        for api in apis:
            with api.client() as http:
                assert api.availability(http, campaign.center_id, 1) == {}
            assert_rules_hold(api)
