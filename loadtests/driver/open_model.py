"""Open-model (arrival-rate) load for any locustfile.

    from loadtests.driver.open_model import ArrivalUser

    class Arrivals(ArrivalUser):
        rate = 80  # arrivals/s, Poisson

        def journey(self):
            self.client.get("/healthz")

`locust -f FILE --headless -u 1 -r 1 -t 30s -H URL --csv PREFIX` then starts 80 journeys per
second on average, however slow the server is: each arrival runs its journey in its own greenlet,
so slow responses never hold back later arrivals (no closed-loop throttling). The first request of
each journey is timed from the arrival's *intended* start, so a load generator that falls behind
shows up as latency instead of silently sending less (no coordinated omission), and an arrival
that starts more than `--late-after-ms` after schedule is counted late. Every request is also
recorded in an HDR histogram (`loadtests.driver.recorder`); Locust's own stats show the same requests.

The rate is the total over all ArrivalUser instances (`--arrival-users`, default `-u`), so
`-u 4 --processes 4` still gives `rate` arrivals/s in total. `rate_at(t_s)` may be overridden
for a time-varying rate; by default it plays `--load-profile` when given in arrivals/s.
With `--arrivals-back-to-back` the instances run `journey()` back to back instead (a closed
model of the same journeys: how many per second the target completes).
"""

from __future__ import annotations

import json
import logging
import time

import gevent
import numpy as np
from locust import FastHttpUser, constant, task
from locust.exception import StopUser
from locust.runners import WorkerRunner

from loadtests.driver.arrival_clock import ArrivalClock
from loadtests.driver.recorder import RECORDER
from loadtests.shapes.profile import LoadProfile

__all__ = ["ArrivalUser"]

log = logging.getLogger("surge.open_model")


class _LagCorrectedEvents:
    """Stands in for `events.request` in the user's HTTP session: adds the start lag of the
    current arrival to its first request, then forwards to Locust's real event hook."""

    def __init__(self, hook) -> None:
        self._hook = hook
        self.pending_lag_ms: dict[int, float] = {}

    def fire(self, **kwargs) -> None:
        lag_ms = self.pending_lag_ms.pop(id(gevent.getcurrent()), 0.0)
        if lag_ms > 0:
            kwargs["response_time"] = kwargs["response_time"] + lag_ms
            if kwargs.get("start_time"):
                kwargs["start_time"] = kwargs["start_time"] - lag_ms / 1000.0
        self._hook.fire(**kwargs)

    def __getattr__(self, name):
        return getattr(self._hook, name)


class ArrivalUser(FastHttpUser):
    """A driver of Poisson arrivals; subclasses define `journey()` (and `rate` or `rate_at`)."""

    abstract = True
    rate: float = 1.0
    """Total arrivals per second (all instances together); `--arrival-rate` overrides it."""
    max_in_flight: int = 20_000
    """Journeys allowed in flight per instance; arrivals beyond are dropped and counted."""
    yield_every: int = 32
    """When behind schedule, arrivals started between two yields to the journeys in flight."""
    concurrency = 20_000  # HTTP connections the shared session may open: never the bottleneck
    wait_time = constant(0)
    _instances = 0

    def __init__(self, environment) -> None:
        super().__init__(environment)
        self._events = _LagCorrectedEvents(self.client.request_event)
        self.client.request_event = self._events
        self._in_flight: set = set()  # journeys spawned and not yet returned
        self._profile: LoadProfile | None = None
        options = environment.parsed_options
        if options is not None and options.load_profile:
            spec = json.loads(options.load_profile)
            if spec.get("unit") == "arrivals_per_s":
                self._profile = LoadProfile(
                    spec["kind"], spec["unit"], tuple(tuple(p) for p in spec["points"])
                )
        if options is not None and options.arrival_rate > 0:
            self.rate = options.arrival_rate
        self.late_after_ms = options.late_after_ms if options is not None else 50.0
        ArrivalUser._instances += 1
        seed = options.surge_seed if options is not None and options.surge_seed >= 0 else None
        worker = getattr(environment.runner, "worker_index", 0) if environment.runner else 0
        self.rng = np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(max(worker, 0), ArrivalUser._instances))
        )

    # -- what subclasses provide ------------------------------------------------------------------
    def journey(self) -> None:
        raise NotImplementedError("an ArrivalUser subclass defines journey(self)")

    def rate_at(self, t_s: float) -> float | None:
        """Arrivals/s of the whole test at t_s since this driver started (None: no more)."""
        if self._profile is not None:
            return self._profile.level_at(t_s)
        return float(self.rate)

    # -- the driver -------------------------------------------------------------------------------
    def _share(self) -> float:
        options = self.environment.parsed_options
        users = options.arrival_users if options is not None else 0
        if (
            users <= 0
            and options is not None
            and not isinstance(self.environment.runner, WorkerRunner)
        ):
            users = options.num_users or 1
        return 1.0 / max(users, 1)

    @task
    def drive(self) -> None:
        options = self.environment.parsed_options
        if options is not None and options.arrivals_back_to_back:
            self._arrive(time.monotonic(), closed=True)  # the task runs again at once
            return
        share = self._share()

        def my_rate(t_s: float) -> float | None:
            total = self.rate_at(t_s)
            return None if total is None else total * share

        clock = ArrivalClock(my_rate, self.rng)
        origin = time.monotonic()
        t: float | None = 0.0
        behind = 0
        in_flight = self._in_flight
        while True:
            t = clock.next_after(t)
            if t is None:
                break
            delay = origin + t - time.monotonic()
            # Sleep until the arrival is due; when behind, still yield every few arrivals so
            # the journeys already started get the CPU (else a late driver would only spawn
            # greenlets). Each journey is timed from its own intended start either way.
            if delay > 0:
                gevent.sleep(delay)
                behind = 0
            elif behind >= self.yield_every:
                gevent.sleep(0)
                behind = 0
            else:
                behind += 1
            RECORDER.count("arrivals:scheduled")
            if len(in_flight) >= self.max_in_flight:
                RECORDER.count("arrivals:dropped")
                continue
            # A raw greenlet (no Greenlet object, no pool links): the cheapest gevent offers.
            in_flight.add(gevent.spawn_raw(self._arrive, origin + t))
        while in_flight:
            gevent.sleep(0.05)
        raise StopUser()

    def _arrive(self, intended: float, closed: bool = False) -> None:
        lag_ms = (time.monotonic() - intended) * 1000.0
        RECORDER.count("arrivals:started")
        if lag_ms > self.late_after_ms:
            RECORDER.count("arrivals:late")
        me = id(gevent.getcurrent())
        if lag_ms > 0:
            self._events.pending_lag_ms[me] = lag_ms
        try:
            self.journey()
            RECORDER.count("arrivals:finished")
        except (StopUser, gevent.GreenletExit):
            if closed:  # in the user's own greenlet: Locust is stopping this user
                raise
        except Exception as exc:  # noqa: BLE001 - one visitor's failure must not stop the arrivals (reported as user_error)
            self.environment.events.user_error.fire(
                user_instance=self, exception=exc, tb=exc.__traceback__
            )
            log.debug("journey failed: %r", exc)
        finally:
            self._events.pending_lag_ms.pop(me, None)
            self._in_flight.discard(gevent.getcurrent())

    def on_stop(self) -> None:
        for journey in list(self._in_flight):
            gevent.kill(journey)
        self._in_flight.clear()
