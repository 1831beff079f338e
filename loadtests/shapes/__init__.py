"""Load profiles as data: ramp, steps, spike, soak and the replay of a scenario's arrival curve.

`profile` builds and checks the tables; `locust_shape` plays one in Locust (a locustfile, so it is
never imported from here: it imports Locust).
"""

from loadtests.shapes.profile import *  # noqa: F403
from loadtests.shapes.profile import __all__  # noqa: F401
