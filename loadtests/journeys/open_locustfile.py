"""Opening-evening traffic as an open model: Poisson arrivals of patients, however slow the app.

    locust -f loadtests/journeys/open_locustfile.py -H URL --headless -u 1 -r 1 -t 2m --arrival-rate 20
    locust -f loadtests/journeys/open_locustfile.py -H URL --headless -u 3 -t 4m --scenario smoke \
        --replay-scale 0.005 --replay-compress 60 --arrival-users 1

Each arrival is one new visitor playing `loadtests.journeys.patient.visit` in its own greenlet; the rate
is `--arrival-rate` (or the arrivals/s `--load-profile` written by `surge loadtest run`, e.g. a
scenario replay). `CenterAdmin` and `Practitioner` run beside it, as in `locustfile.py`.
"""

from __future__ import annotations

import random

from loadtests.driver.open_model import ArrivalUser
from loadtests.driver.recorder import RECORDER
from loadtests.journeys.locustfile import CenterAdmin, Practitioner, behaviour_of
from loadtests.journeys.patient import PatientBehaviour, visit
from loadtests.shapes.profile import LoadProfile, replay

__all__ = ["CenterAdmin", "PatientArrivals", "Practitioner"]


def scenario_replay(
    ref: str, scale: float, compress: float
) -> tuple[LoadProfile, PatientBehaviour]:
    """The arrival curve and patient behaviour of a scenario, as `surge loadtest run` plays it."""
    from simulations.scenario.arrivals import arrival_rate_per_min
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(ref).scaled()
    profile = replay(
        lambda t_min: arrival_rate_per_min(scenario.demand, t_min, scenario.clock_start_min),
        scenario.duration_min,
        scale,
        compress,
    )
    return profile, PatientBehaviour.from_scenario(scenario, compress)


class PatientArrivals(ArrivalUser):
    rate = 5.0
    weight = 20

    def __init__(self, environment) -> None:
        super().__init__(environment)
        self.behaviour = behaviour_of(environment)
        options = environment.parsed_options
        if options is not None and options.scenario and self._profile is None:
            self._profile, self.behaviour = scenario_replay(
                options.scenario, options.replay_scale, options.replay_compress
            )

    def on_start(self) -> None:
        self.visitor_rng = random.Random(int(self.rng.integers(2**63)))

    def journey(self) -> None:
        visit(self.client, self.behaviour, self.visitor_rng, RECORDER.count, RECORDER.record_wait)
