"""The open-model driver (Poisson arrivals, one greenlet per arrival, lag correction, HDR) with
the Patient journey's per-request overhead; `--arrival-rate` sets the offered rate."""

import loadtests.journeys.bench.cpu_clock  # noqa: F401  (CPU seconds per variant)
from loadtests.driver.open_model import ArrivalUser
from loadtests.driver.recorder import RECORDER
from loadtests.journeys.patient import _call


class Arrivals(ArrivalUser):
    rate = 300.0
    max_in_flight = 1000
    # The same 20 keep-alive connections as the 20 plain users: the benchmark compares the
    # per-request cost of the driver, not the cost of opening a connection per queued arrival.
    concurrency = 20

    def journey(self) -> None:
        status, body, _ = _call(self.client, "GET", "/", "trivial", (200,))
        RECORDER.count("bookings:success" if status == 200 and body else "bookings:error")
