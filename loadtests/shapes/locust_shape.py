"""Plays a `--load-profile` of users (ramp, steps, spike, soak) as a Locust `LoadTestShape`.

    locust -f loadtests/journeys/locustfile.py,loadtests/shapes/locust_shape.py --headless -H URL \
        --load-profile '{"kind": "steps", "unit": "users", "points": [[0, 5], [30, 5], [30, 10], [60, 10]]}'

`surge loadtest run --users N --shape ...` writes the profile; the table itself is built and
tested in `loadtests/shapes/profile.py`.
"""

from __future__ import annotations

import json

from locust import LoadTestShape

import loadtests.driver.options  # noqa: F401  (registers --load-profile)
from loadtests.shapes.profile import LoadProfile


class ProfileShape(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()
        self._profile: LoadProfile | None = None

    def _load(self) -> LoadProfile | None:
        options = self.runner.environment.parsed_options if self.runner else None
        if options is None or not options.load_profile:
            return None
        spec = json.loads(options.load_profile)
        if spec.get("unit") != "users":
            return None
        return LoadProfile(spec["kind"], spec["unit"], tuple(tuple(p) for p in spec["points"]))

    def tick(self):
        if self._profile is None:
            self._profile = self._load()
            if self._profile is None:
                return None
        level = self._profile.level_at(self.get_run_time())
        if level is None:
            return None
        # Users with a fixed_count (CenterAdmin, Practitioner) come on top of the profile.
        fixed = sum(getattr(c, "fixed_count", 0) for c in self.runner.user_classes)
        users = max(int(round(level)), 1) + fixed
        return users, max(float(users), 1.0)
