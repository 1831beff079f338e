"""The reference booking journey, as a journey file like any user's: it imports only from the
`loadtests` top level, and `surge loadtest run` plays it as it plays `--locustfile FILE`.

    surge loadtest run --scenario smoke --start-app sqlite                 # the default journeys
    locust -f loadtests/journeys/locustfile.py -H http://127.0.0.1:8000 \
        Patient CenterAdmin Practitioner                                   # closed model, web UI
    locust -f loadtests/journeys/locustfile.py -H URL --headless -u 3 -t 2m --arrival-rate 20 \\
        --arrival-users 1 PatientArrivals CenterAdmin Practitioner         # open model

Users:
- `PatientArrivals` (an `ArrivalUser`: the open model, Poisson arrivals, each a new visitor
  playing `visit`); `surge loadtest run` starts it with `--rate`, `--shape` or a replay;
- `Patient` (a plain Locust user: the closed model, one visitor after another); with `--users`;
- `CenterAdmin` (opens slots in batches, checks the invariants; needs `--admin-key` or
  SURGE_ADMIN_KEY, else it stays idle) and `Practitioner` (teleconsultation self-onboarding):
  one each (`fixed_count`), beside either model.

Under plain `locust -f`, name the classes of the model (as `surge loadtest run` does): without
names Locust would start the open and the closed patients together.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

from locust import FastHttpUser, between, task
from locust.exception import StopUser

from loadtests import (
    POSTCODES,
    RECORDER,
    ArrivalUser,
    patient_behaviour,
    scenario_replay,
    visit,
)

log = logging.getLogger("surge.locustfile")


class PatientArrivals(ArrivalUser):
    """Poisson arrivals of new visitors, however slow the app (the open model)."""

    rate = 5.0

    def __init__(self, environment) -> None:
        super().__init__(environment)
        self.behaviour = patient_behaviour(environment)
        options = environment.parsed_options
        if options is not None and options.scenario and self._profile is None:
            self._profile, self.behaviour = scenario_replay(
                options.scenario, options.replay_scale, options.replay_compress
            )

    def on_start(self) -> None:
        self.visitor_rng = random.Random(int(self.rng.integers(2**63)))  # noqa: S311 - load-test randomness, not security

    def journey(self) -> None:
        visit(self.client, self.behaviour, self.visitor_rng, RECORDER.count, RECORDER.record_wait)


class Patient(FastHttpUser):
    """One visitor after another: register, queue if needed, search, book, check, cancel."""

    weight = 20

    def on_start(self) -> None:
        self.behaviour = patient_behaviour(self.environment)
        self.rng = random.Random()  # noqa: S311 - load-test randomness, not security

    def wait_time(self) -> float:
        low, high = self.behaviour.journey_pause_s
        return self.rng.uniform(low, high)

    @task
    def book_a_vaccination(self) -> None:
        visit(self.client, self.behaviour, self.rng, RECORDER.count, RECORDER.record_wait)


class CenterAdmin(FastHttpUser):
    """A centre manager opening new slots in batches (a campaign opening) and reading invariants."""

    fixed_count = 1
    wait_time = between(3.0, 6.0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        key = options.admin_key if options else ""
        if not key:
            log.warning("CenterAdmin idle: no --admin-key / SURGE_ADMIN_KEY")
            raise StopUser()
        self.auth = {"Authorization": f"Bearer {key}"}
        self.centers: list[tuple[int, list[str]]] = []

    @task(3)
    def open_slots(self) -> None:
        if not self.centers:
            postcode = random.choice(POSTCODES)  # noqa: S311 - load and simulation randomness, not security
            with self.client.get(
                f"/centers?postcode={postcode}&limit=20",
                name="admin_centers",
                headers=self.auth,  # the admin key goes through the waiting room
                catch_response=True,
            ) as r:
                if r.status_code != 200:
                    r.failure(f"admin_centers: {r.status_code}")
                    return
                self.centers = [
                    (c["id"], c["vaccines"]) for c in r.json() if c["kind"] == "vaccination"
                ]
            if not self.centers:
                return
        day = datetime.now(UTC).date() + timedelta(days=random.randint(1, 6))  # noqa: S311 - load and simulation randomness, not security
        center, vaccines = random.choice(self.centers)  # noqa: S311 - load and simulation randomness, not security
        body = {
            "vaccine": random.choice(vaccines),  # noqa: S311 - load and simulation randomness, not security
            "dose": 1,
            "start": f"{day.isoformat()}T{random.randint(8, 17):02d}:00:00",  # noqa: S311 - load and simulation randomness, not security
            "capacity": 5,
            "count": 12,
            "interval_minutes": 10,
        }
        with self.client.post(
            f"/admin/centers/{center}/slots",
            json=body,
            headers=self.auth,
            name="admin_open_slots",
            catch_response=True,
        ) as r:
            if r.status_code != 201 or len(r.json().get("slots", [])) != body["count"]:
                r.failure(f"admin_open_slots: {r.status_code}")
            else:
                RECORDER.count("admin:slots_opened", body["count"])

    @task(1)
    def check_invariants(self) -> None:
        with self.client.get(
            "/admin/invariants", headers=self.auth, name="admin_invariants", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"admin_invariants: {r.status_code}")
                return
            broken = {k: v for k, v in r.json().items() if k != "appointments" and v}
            if broken:
                r.failure(f"booking invariants broken: {broken}")


class Practitioner(FastHttpUser):
    """Teleconsultation self-onboarding: a practitioner signs up with a weekly agenda."""

    fixed_count = 1
    wait_time = between(5.0, 10.0)

    @task
    def onboard(self) -> None:
        n = random.randrange(10**9)  # noqa: S311 - load and simulation randomness, not security
        body = {
            "name": f"Dr Surge {n}",
            "postcode": random.choice(POSTCODES),  # noqa: S311 - load and simulation randomness, not security
            "vaccines": ["pfizer"],
            "agenda": [{"weekday": d, "start": "09:00", "end": "12:00"} for d in range(5)],
            "interval_minutes": 15,
            "capacity": 1,
            "weeks": 2,
        }
        with self.client.post(
            "/practitioners", json=body, name="practitioner_onboard", catch_response=True
        ) as r:
            if r.status_code == 201 and r.json().get("slots_created", 0) > 0:
                RECORDER.count("practitioners:onboarded")
            elif r.status_code == 429:
                r.success()  # the sign-up rate limit answered correctly
            else:
                r.failure(f"practitioner_onboard: {r.status_code}")
