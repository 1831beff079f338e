"""Opening-evening traffic as an open model: Poisson arrivals of patients, however slow the app.

    locust -f loadtests/open_locustfile.py -H URL --headless -u 1 -r 1 -t 2m --arrival-rate 20

Each arrival is one new visitor playing `loadtests.patient.visit` in its own greenlet; the rate
is `--arrival-rate` (or the arrivals/s `--load-profile` written by `surge loadtest run`, e.g. a
scenario replay). `CenterAdmin` and `Practitioner` run beside it, as in `locustfile.py`.
"""

from __future__ import annotations

import random

from loadtests.locustfile import CenterAdmin, Practitioner, behaviour_of
from loadtests.open_model import ArrivalUser
from loadtests.patient import visit
from loadtests.recorder import RECORDER

__all__ = ["CenterAdmin", "PatientArrivals", "Practitioner"]


class PatientArrivals(ArrivalUser):
    rate = 5.0
    weight = 20

    def on_start(self) -> None:
        self.behaviour = behaviour_of(self.environment)
        self.visitor_rng = random.Random(int(self.rng.integers(2**63)))

    def journey(self) -> None:
        visit(self.client, self.behaviour, self.visitor_rng, RECORDER.count, RECORDER.record_wait)
