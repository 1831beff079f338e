"""The reference journey's open model alone, for plain `locust -f` (older commands):

    locust -f loadtests/journeys/open_locustfile.py -H URL --headless -u 3 -t 2m --arrival-rate 20

The users are those of `loadtests/journeys/locustfile.py`, the one reference journey file.
"""

from __future__ import annotations

from loadtests.journeys.locustfile import CenterAdmin, PatientArrivals, Practitioner

__all__ = ["CenterAdmin", "PatientArrivals", "Practitioner"]
