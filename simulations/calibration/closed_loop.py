"""A SimPy model of a closed-loop load test against a calibrated platform.

N users each send a request, wait for the answer, think for `think_s`, and repeat (Locust's
model). A request picks a route by its measured share and brings a service demand drawn from
that route's fitted distribution. The platform is one station that shares its capacity among the
requests inside it (processor sharing, like an async server or CPU time slicing), with a total
completion rate that depends on how many are inside: the USL curve X(k). So the station's
throughput follows the USL while each request's latency keeps its route's shape.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

import numpy as np
import simpy

from simulations.calibration.profile import PlatformProfile


class SharedStation:
    """Egalitarian processor sharing with a load-dependent speed.

    Every request inside progresses at `speed(k)` seconds of work per second when k are inside.
    A virtual clock V(t) grows at that speed; a request with work w arriving at V0 leaves when V
    reaches V0 + w, so each event costs O(log k).
    """

    def __init__(self, env: simpy.Environment, speed_per_k: np.ndarray) -> None:
        self.env = env
        self._speed = speed_per_k  # index k -> speed with k requests inside
        self._virtual = 0.0
        self._last = 0.0
        self._heap: list[tuple[float, int, simpy.Event]] = []
        self._seq = itertools.count()
        self._wake = env.event()
        env.process(self._serve_forever())

    def _advance(self) -> None:
        k = len(self._heap)
        if k:
            self._virtual += self._speed[k] * (self.env.now - self._last)
        self._last = self.env.now

    def serve(self, work_s: float) -> simpy.Event:
        self._advance()
        done = self.env.event()
        heapq.heappush(self._heap, (self._virtual + work_s, next(self._seq), done))
        if not self._wake.triggered:
            self._wake.succeed()
        return done

    def _serve_forever(self):
        while True:
            if not self._heap:
                yield self._wake
            else:
                k = len(self._heap)
                dt = max(0.0, (self._heap[0][0] - self._virtual) / self._speed[k])
                yield self.env.timeout(dt) | self._wake
            self._advance()
            if self._wake.triggered:
                self._wake = self.env.event()
            while self._heap and self._heap[0][0] <= self._virtual + 1e-12:
                _, _, done = heapq.heappop(self._heap)
                done.succeed()


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
) -> LevelPrediction:
    """Run one replication until `requests` complete; drop the first `warmup_fraction`."""
    if users < 1:
        raise ValueError("users must be >= 1")
    think = profile.think_time_s if think_s is None else think_s
    route_rng, work_rng, offset_rng = (np.random.default_rng(s) for s in seed.spawn(3))
    shares = np.array([r.share for r in profile.routes])
    picks = route_rng.choice(len(profile.routes), size=requests + users, p=shares)
    work = np.empty(len(picks))
    for i, r in enumerate(profile.routes):
        mask = picks == i
        work[mask] = r.service.sample(work_rng, size=int(mask.sum()))
    work = np.maximum(work, 1e-9)

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
            yield station.serve(float(work[i]))
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
