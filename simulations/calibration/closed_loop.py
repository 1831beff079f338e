"""A SimPy model of a closed-loop load test against a calibrated platform.

N users each send a request, wait for the answer, think for `think_s`, and repeat (Locust's
model). A request picks a route by its measured share and brings a service demand drawn from
that route's fitted distribution. The platform is one station that shares its capacity among the
requests inside it (processor sharing, like an async server or CPU time slicing), with a total
completion rate that depends on how many are inside: the USL curve X(k). So the station's
throughput follows the USL while each request's latency keeps its route's shape; a fitted share
dispersion widens the latency distribution under load as unequal sharing does.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

import numpy as np
import simpy

from simulations.calibration.profile import PlatformProfile


class SharedStation:
    """Processor sharing with a load-dependent speed and (optionally) unequal shares.

    With k requests inside, the station does `k * speed[k]` seconds of work per second, split in
    proportion to each request's weight (discriminatory processor sharing; all weights 1 is plain
    egalitarian PS). A virtual clock V grows at `k * speed[k] / sum(weights)`; a request of work
    w and weight g arriving at V0 leaves when V reaches V0 + w / g, so each event is O(log k).
    Random weights model what equal sharing misses under load (time slices, lock waits, GC):
    alone, a request runs at full speed whatever its weight.
    """

    def __init__(self, env: simpy.Environment, speed_per_k: np.ndarray) -> None:
        self.env = env
        self._speed = speed_per_k  # index k -> per-request speed with k requests inside
        self._virtual = 0.0
        self._last = 0.0
        self._weights = 0.0
        self._heap: list[tuple[float, int, float, simpy.Event]] = []
        self._seq = itertools.count()
        self._generation = 0

    def _rate(self) -> float:
        k = len(self._heap)
        return k * self._speed[k] / self._weights if k else 0.0

    def _advance(self) -> None:
        if self._heap:
            self._virtual += self._rate() * (self.env.now - self._last)
        self._last = self.env.now

    def serve(self, work_s: float, weight: float = 1.0) -> simpy.Event:
        self._advance()
        done = self.env.event()
        heapq.heappush(self._heap, (self._virtual + work_s / weight, next(self._seq), weight, done))
        self._weights += weight
        self._schedule()
        return done

    def _schedule(self) -> None:
        self._generation += 1
        if not self._heap:
            self._weights = 0.0
            return
        dt = max(0.0, (self._heap[0][0] - self._virtual) / self._rate())
        timer = self.env.timeout(dt)
        generation = self._generation
        timer.callbacks.append(lambda _event: self._complete(generation))

    def _complete(self, generation: int) -> None:
        if generation != self._generation:
            return  # superseded by a later arrival
        self._advance()
        while self._heap and self._heap[0][0] <= self._virtual * (1 + 1e-12) + 1e-15:
            _, _, weight, done = heapq.heappop(self._heap)
            self._weights -= weight
            done.succeed()
        self._schedule()


@dataclass(frozen=True)
class LevelPrediction:
    """One simulated load level, one replication (flat record)."""

    users: int
    replication: int
    throughput_per_s: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int


def station_speeds(profile: PlatformProfile, max_k: int) -> np.ndarray:
    """Speed with k inside = X_usl(k) * mean demand / k, so k requests complete at X_usl(k)/s."""
    k = np.arange(1, max_k + 1, dtype=float)
    speeds = profile.usl.throughput(k) * profile.mean_service_s / k
    return np.concatenate([[0.0], speeds])


def simulate_level(
    profile: PlatformProfile,
    users: int,
    *,
    seed: np.random.SeedSequence,
    replication: int = 0,
    requests: int = 20_000,
    warmup_fraction: float = 0.1,
    think_s: float | None = None,
    share_dispersion: float | None = None,
) -> LevelPrediction:
    """Run one replication until `requests` complete; drop the first `warmup_fraction`.

    `share_dispersion` (default: the profile's) is the sigma of the lognormal, mean-1 weight
    each request gets in the shared station; 0 is egalitarian processor sharing.
    """
    if users < 1:
        raise ValueError("users must be >= 1")
    think = profile.think_time_s if think_s is None else think_s
    dispersion = profile.share_dispersion if share_dispersion is None else share_dispersion
    route_rng, work_rng, offset_rng, weight_rng = (np.random.default_rng(s) for s in seed.spawn(4))
    shares = np.array([r.share for r in profile.routes])
    picks = route_rng.choice(len(profile.routes), size=requests + users, p=shares)
    work = np.empty(len(picks))
    for i, r in enumerate(profile.routes):
        mask = picks == i
        work[mask] = r.service.sample(work_rng, size=int(mask.sum()))
    work = np.maximum(work, 1e-9)
    if dispersion > 0:
        weights = weight_rng.lognormal(-0.5 * dispersion**2, dispersion, size=len(work))
    else:
        weights = np.ones(len(work))

    env = simpy.Environment()
    station = SharedStation(env, station_speeds(profile, users))
    starts: list[float] = []
    ends: list[float] = []
    counter = itertools.count()
    finished = env.event()

    def user(offset: float):
        if think > 0:
            yield env.timeout(offset)
        while True:
            i = next(counter)
            if i >= len(work):
                return
            t0 = env.now
            yield station.serve(float(work[i]), float(weights[i]))
            starts.append(t0)
            ends.append(env.now)
            if len(ends) >= requests and not finished.triggered:
                finished.succeed()
            if think > 0:
                yield env.timeout(think)

    offsets = offset_rng.uniform(0, think, size=users)
    for u in range(users):
        env.process(user(float(offsets[u])))
    env.run(until=finished)

    start = np.array(starts)
    end = np.array(ends)
    skip = int(len(end) * warmup_fraction)
    window_start = end[skip - 1] if skip else 0.0
    latency_ms = (end[skip:] - start[skip:]) * 1000.0
    duration = end[-1] - window_start
    return LevelPrediction(
        users=users,
        replication=replication,
        throughput_per_s=(len(end) - skip) / duration if duration > 0 else float("nan"),
        mean_ms=float(latency_ms.mean()),
        p50_ms=float(np.percentile(latency_ms, 50)),
        p95_ms=float(np.percentile(latency_ms, 95)),
        p99_ms=float(np.percentile(latency_ms, 99)),
        requests=len(latency_ms),
    )
