"""The open-model driver's own CPU per arrival, without HTTP: an `ArrivalUser` whose journey does
nothing, offered 20,000 arrivals/s (beyond what it can start), until N arrivals; prints the
process CPU per arrival started (clock, greenlet, bookkeeping: what the driver adds to a journey).

    python -m loadtests.journeys.bench.driver_overhead [N] [YIELD_EVERY]
"""

from gevent import monkey

monkey.patch_all()

import contextlib  # noqa: E402  (after gevent's patching, as Locust does)
import sys  # noqa: E402
import time  # noqa: E402

from locust.env import Environment  # noqa: E402
from locust.exception import StopUser  # noqa: E402

from loadtests.driver.open_model import ArrivalUser  # noqa: E402
from loadtests.driver.recorder import RECORDER  # noqa: E402

OFFERED_PER_S = 20_000.0
ARRIVALS = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000


class Empty(ArrivalUser):
    host = "http://127.0.0.1:1"  # never contacted

    def journey(self) -> None:
        pass

    def rate_at(self, t_s: float) -> float | None:
        return OFFERED_PER_S if t_s < ARRIVALS / OFFERED_PER_S else None


if len(sys.argv) > 2:
    Empty.yield_every = int(sys.argv[2])

if __name__ == "__main__":
    user = Empty(Environment(user_classes=[Empty]))
    started = time.process_time()
    with contextlib.suppress(StopUser):  # the driver's end: no more arrivals
        user.drive()
    cpu_s = time.process_time() - started
    n = RECORDER.counters["arrivals:started"]
    print(f"{n} arrivals, {cpu_s / n * 1e6:.1f} us CPU each")
