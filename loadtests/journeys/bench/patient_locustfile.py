"""Closed loop with the Patient journey's per-request overhead: `catch_response`, JSON decode,
correctness checks, HDR histogram and counters (loadtests.driver.recorder)."""

from locust import FastHttpUser, constant, task

import loadtests.journeys.bench.cpu_clock  # noqa: F401  (CPU seconds per variant)
from loadtests.driver.recorder import RECORDER
from loadtests.journeys.patient import _call


class PatientOverhead(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        status, body, _ = _call(self.client, "GET", "/", "trivial", (200,))
        RECORDER.count("bookings:success" if status == 200 and body else "bookings:error")
