"""The open-model driver (Poisson arrivals, one greenlet per arrival, lag correction, HDR) with
the Patient journey's per-request overhead; `--arrival-rate` sets the offered rate.

`Arrivals` shares 20 keep-alive connections (as the 20 plain users do: the per-request cost of
the driver); `ArrivalsNewConnection` gives each visitor a connection of its own, as in a real
run (the shared session may open as many as there are visitors in flight; `Connection: close`).
"""

import loadtests.journeys.bench.cpu_clock  # noqa: F401  (CPU seconds per variant)
from loadtests.driver.open_model import ArrivalUser
from loadtests.driver.recorder import RECORDER
from loadtests.journeys.patient import _call

CLOSE = {"Connection": "close"}


class Arrivals(ArrivalUser):
    rate = 300.0
    max_in_flight = 1000
    concurrency = 20

    def journey(self) -> None:
        status, body, _ = _call(self.client, "GET", "/", "trivial", (200,))
        RECORDER.count("bookings:success" if status == 200 and body else "bookings:error")


class ArrivalsNewConnection(ArrivalUser):
    rate = 300.0
    max_in_flight = 1000

    def journey(self) -> None:
        status, body, _ = _call(self.client, "GET", "/", "trivial", (200,), headers=CLOSE)
        RECORDER.count("bookings:success" if status == 200 and body else "bookings:error")
