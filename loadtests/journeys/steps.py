"""Stepped closed-loop load for calibration: hold each concurrency level, record every request.

A `StepShape` holds N users for `hold` seconds per level (levels from `SURGE_STEPS`, e.g.
"1,2,4,8,16"); `CalibrationPatient` runs the booking journey (search, availability, book, cancel)
with no think time, so the concurrency of each step is exactly its user count. Every request
goes to `requests.csv` and each step's start and end to `steps.csv` in `SURGE_RECORD_DIR`: the
run-directory format `simulations.calibration.step_run` reads.

Runnable with plain Locust:

    SURGE_STEPS=1,2,4,8 SURGE_HOLD_S=20 SURGE_RECORD_DIR=results/steps \
        locust -f loadtests/journeys/steps.py --headless -H http://127.0.0.1:8000
"""

from __future__ import annotations

import csv
import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from locust import FastHttpUser, LoadTestShape, events, task
from locust.exception import RescheduleTask

from loadtests.errors import LoadTestInputError

POSTCODES = ("75001", "69001", "13001", "33000", "59000", "31000", "44000", "67000")


def parse_levels(text: str) -> list[int]:
    """'1,2,4' -> [1, 2, 4]; raises ValueError naming the bad item."""
    levels = []
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit() or int(item) < 1:
            raise LoadTestInputError(f"step level {item!r} is not a positive integer")
        levels.append(int(item))
    if not levels:
        raise LoadTestInputError("no step levels")
    return levels


class StepShape(LoadTestShape):
    """Levels as data; `tick()` returns (users, spawn rate) and logs each step's start and end."""

    def __init__(self) -> None:
        super().__init__()
        self.levels = parse_levels(os.environ.get("SURGE_STEPS", "1,2,4,8"))
        self.hold_s = float(os.environ.get("SURGE_HOLD_S", "20"))
        self.schedule: list[tuple[int, int, float, float]] = []  # step, users, start, end

    def tick(self):
        step = int(self.get_run_time() // self.hold_s)
        now = time.time()
        if self.schedule and self.schedule[-1][0] != step:
            s, users, start, _ = self.schedule[-1]
            self.schedule[-1] = (s, users, start, now)
        if step >= len(self.levels):
            return None
        if not self.schedule or self.schedule[-1][0] != step:
            self.schedule.append((step, self.levels[step], now, now))
        users = self.levels[step]
        return users, max(users, 50)


class Recorder:
    """Appends one CSV row per request; closes and writes the schedule at the end of the test."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._file = (directory / "requests.csv").open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(["end_s", "route", "response_ms", "ok"])

    def request(self, name: str, response_time: float, exception: object) -> None:
        self._writer.writerow(
            [f"{time.time():.6f}", name, f"{response_time:.3f}", int(exception is None)]
        )

    def close(self, schedule: list[tuple[int, int, float, float]]) -> None:
        self._file.close()
        with (self.directory / "steps.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["step", "users", "start_s", "end_s"])
            for step, users, start, end in schedule:
                if end > start:
                    writer.writerow([step, users, f"{start:.6f}", f"{end:.6f}"])


_recorder: Recorder | None = None


@events.test_start.add_listener
def _open_recorder(environment, **_kwargs) -> None:
    global _recorder
    directory = os.environ.get("SURGE_RECORD_DIR")
    if directory:
        _recorder = Recorder(Path(directory))


@events.request.add_listener
def _record(name, response_time, exception, **_kwargs) -> None:
    if _recorder is not None:
        _recorder.request(name, response_time, exception)


@events.test_stop.add_listener
def _close_recorder(environment, **_kwargs) -> None:
    global _recorder
    if _recorder is not None:
        shape = environment.shape_class
        if isinstance(shape, StepShape):
            shape.tick()  # close the last step at the stop time
        _recorder.close(shape.schedule if isinstance(shape, StepShape) else [])
        _recorder = None


class CalibrationPatient(FastHttpUser):
    """One patient booking and cancelling in a loop, without think time (closed loop, Z = 0)."""

    def wait_time(self) -> float:
        return 0.0

    def on_start(self) -> None:
        n = random.randrange(10**9)  # noqa: S311 - load and simulation randomness, not security
        body = {
            "first_name": "Cal",
            "last_name": f"Patient{n}",
            "birth_date": "1970-01-01",
            "email": f"cal{n}@example.org",
            "phone": "+33 1 23 45 67 89",
        }
        with self.client.post("/patients", json=body, name="register", catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"register: {r.status_code}")
                raise RescheduleTask()
            self.token = r.json()["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}

    @task
    def book_and_cancel(self) -> None:
        postcode = random.choice(POSTCODES)  # noqa: S311 - load and simulation randomness, not security
        with self.client.get(
            f"/centers?postcode={postcode}&limit=10", name="search", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"search: {r.status_code}")
                return
            centers = [c for c in r.json() if c["kind"] == "vaccination" and c["vaccines"]]
        if not centers:
            return
        center = random.choice(centers)  # noqa: S311 - load and simulation randomness, not security
        vaccine = random.choice(center["vaccines"])  # noqa: S311 - load and simulation randomness, not security
        # From tomorrow: today's earliest slots may already have started (409 slot_in_past).
        tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
        with self.client.get(
            f"/centers/{center['id']}/availability?vaccine={vaccine}&dose=1&days=7&from={tomorrow}",
            name="availability",
            catch_response=True,
        ) as r:
            if r.status_code != 200:
                r.failure(f"availability: {r.status_code}")
                return
            slots = r.json()
        if not slots:
            return
        slot = random.choice(slots[:20])  # noqa: S311 - load and simulation randomness, not security
        with self.client.post(
            "/appointments",
            json={"slot_id": slot["id"]},
            headers=self.auth,
            name="book",
            catch_response=True,
        ) as r:
            if r.status_code == 409:
                r.success()  # someone else took it, or no dose-2 slot: a legitimate answer
                return
            if r.status_code != 201:
                r.failure(f"book: {r.status_code}")
                return
            appointment = r.json()["id"]
        with self.client.delete(
            f"/appointments/{appointment}", headers=self.auth, name="cancel", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"cancel: {r.status_code}")
