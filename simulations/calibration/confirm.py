"""Predict, then confirm: the admission rates at which the calibrated platform should meet and
miss the booking SLO, predicted by the platform network before any confirming run.

The confirming runs are open: visitors arrive at `arrival_multiple` x the room's admission rate
R, with finite patience, so the waiting room keeps a bounded line and admits R visitors a
second. The platform then sees, per second,

    R x (requests of an admitted visitor, by route) + (A - R) x (requests of one who leaves)

where both request counts come from the calibration run itself (`VisitMix.from_requests`: the
same journey with the room admitting everyone at once, so every visitor queues exactly once).
A visitor who leaves the line sent the gated first request, joined and polled like an admitted
one: those three routes are its requests.

The network (`PlatformNetwork`) has one station per deployment as measured from the client:
each route's demand is its mean response time at the lowest calibration level (the client-side
fallback, `demand_source = "client"`), scaled down by the utilisation law when the measured
peak throughput says the app's servers cannot have been that busy (mean demand <= servers /
X_peak, with servers = min(cores, app workers): one GIL per worker). With per-process CPU
(`telemetry.csv`, see `simulations.calibration.telemetry`) the mean demand is the app's CPU
seconds per request instead (`demand_source = "telemetry"`), split over routes in proportion to
their client times.

On a machine shared with other work the app and the load generator do not get a core whenever
they want one. The calibration run measures each one's **core share** while it wanted a core
(`core_share`: run / (run + wait) from the kernel's schedstat, in `telemetry.csv`), and the
model serves each station at that speed: the app's station holds a request demand / share.
The load generator, pinned to cores of its own, is a station of its own (`PlatformNetwork.
loadgen_servers`), with its CPU per request from the same telemetry. Shares are the rig's
state, not the app's: `with_shares` re-predicts at the shares a confirming run measured.

The prediction is the SimPy network (`network_sim`) run open for the confirming run's length,
from empty, with common random numbers across rates: a finite window, so a rate beyond capacity
has a finite (and growing) predicted p95, as a load test of that length would measure.
`find_rate` bisects the admission rate for a target p95.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from simulations.calibration.deployment import route_demands_s
from simulations.calibration.flow_equivalent import inner_curve
from simulations.calibration.network_sim import simulate_network
from simulations.calibration.platform_network import PlatformNetwork, RouteDemand
from simulations.calibration.profile import PlatformProfile
from simulations.national.waiting_room import expected_line_admissions

__all__ = [
    "ConfirmModel",
    "VisitMix",
    "find_rate",
    "verdict",
]

QUEUE_ROUTES = ("queue_join", "queue_poll")
GATED_ROUTE = "register"  # the journey's first request, met by the room's 503


@dataclass(frozen=True)
class VisitMix:
    """Requests per visitor by route: one admitted by the room, one who leaves its line."""

    per_admitted: Mapping[str, float]
    per_abandoned: Mapping[str, float]

    @classmethod
    def from_requests(cls, routes: pd.Series) -> VisitMix:
        """From the route names of a calibration run where every visitor queued once."""
        counts = routes.value_counts()
        joins = float(counts.get("queue_join", 0))
        if joins <= 0:
            raise ValueError(
                "the calibration run has no queue_join request: run it with the waiting room on"
            )
        per_admitted = {str(r): float(n) / joins for r, n in counts.items()}
        per_abandoned = {"queue_join": 1.0, GATED_ROUTE: 1.0}
        per_abandoned["queue_poll"] = per_admitted.get("queue_poll", 0.0)
        return cls(per_admitted=per_admitted, per_abandoned=per_abandoned)

    def route_rates(self, admission_per_s: float, arrival_per_s: float) -> dict[str, float]:
        """Requests/s per route at the platform for R admissions/s and A arrivals/s."""
        leaving = max(arrival_per_s - admission_per_s, 0.0)
        rates = {r: admission_per_s * n for r, n in self.per_admitted.items()}
        for r, n in self.per_abandoned.items():
            rates[r] = rates.get(r, 0.0) + leaving * n
        return rates


@dataclass(frozen=True)
class ConfirmModel:
    """Route demands (seconds per request), the deployment, and the visit mix."""

    demands_s: Mapping[str, float]
    mix: VisitMix
    cores: int
    workers: int = 1
    database: str = "sqlite"
    demand_source: str = "client"
    notes: tuple[str, ...] = field(default_factory=tuple)
    patience_s: float = math.inf  # visitors' mean patience in the line (exponential)
    app_share: float = 1.0  # share of a core the app got while it wanted one
    loadgen_cpu_s: float = 0.0  # the load generator's CPU per request
    loadgen_share: float = 1.0
    loadgen_servers: int | None = None  # None: no generator station (or it shares the cores)

    def __post_init__(self) -> None:
        for name in ("app_share", "loadgen_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1] (got {getattr(self, name)})")
        if self.loadgen_cpu_s < 0:
            raise ValueError(f"loadgen_cpu_s must be >= 0 (got {self.loadgen_cpu_s})")

    def with_shares(self, app_share: float | None, loadgen_share: float | None) -> ConfirmModel:
        """The same model at other core shares (None keeps one): the rig as a run found it."""
        return replace(
            self,
            app_share=self.app_share if app_share is None else app_share,
            loadgen_share=self.loadgen_share if loadgen_share is None else loadgen_share,
        )

    @classmethod
    def from_profile(
        cls,
        profile: PlatformProfile,
        mix: VisitMix,
        *,
        peak_throughput_per_s: float,
        cores: int,
        workers: int = 1,
        database: str = "sqlite",
        cpu_s_per_request: float | None = None,
        patience_s: float = math.inf,
        app_share: float | None = None,
        loadgen_cpu_s: float | None = None,
        loadgen_share: float | None = None,
        loadgen_servers: int | None = None,
    ) -> ConfirmModel:
        """Demands from the profile's low-load response times, capped by the utilisation law
        (mean demand <= servers / peak throughput), or set by measured CPU per request; core
        shares and the generator's station when the run measured them."""
        found = route_demands_s(
            profile,
            peak_throughput_per_s=peak_throughput_per_s,
            servers=min(cores, workers),
            cpu_s_per_request=cpu_s_per_request,
        )
        client = found.demands_s
        missing = sorted((set(mix.per_admitted) | set(mix.per_abandoned)) - set(client))
        notes = [found.note]
        if missing:
            notes.append(f"routes without a calibrated demand (left out): {', '.join(missing)}")
        return cls(
            demands_s=dict(found.demands_s),
            mix=mix,
            cores=cores,
            workers=workers,
            database=database,
            demand_source=found.source,
            notes=tuple(notes),
            patience_s=patience_s,
            app_share=1.0 if app_share is None else app_share,
            loadgen_cpu_s=loadgen_cpu_s or 0.0,
            loadgen_share=1.0 if loadgen_share is None else loadgen_share,
            loadgen_servers=loadgen_servers if loadgen_cpu_s else None,
        )

    def admitted_per_s(
        self, admission_per_s: float, arrival_per_s: float, duration_s: float
    ) -> float:
        """Visitors the app's numbered line admits per second over a run of `duration_s`: the
        room spends `admission_per_s` ticket numbers a second, including those of visitors
        whose patience ran out (`expected_line_admissions`: smooth in the rate, for
        `find_rate`; `line_admissions` simulates the same line with random arrivals)."""
        if math.isinf(self.patience_s):
            return min(admission_per_s, arrival_per_s)
        admitted = expected_line_admissions(
            arrival_per_s, admission_per_s, self.patience_s, duration_s
        )
        return admitted / duration_s

    def admission_profile(
        self, admission_per_s: float, arrival_per_s: float, duration_s: float, step_s: float = 5.0
    ) -> tuple[tuple[float, float], ...]:
        """The line's admissions over the run, from empty, as (until_s, admitted per second)
        steps: ticket k is due at k / R and still there with probability q^k (the fluid view of
        `expected_line_admissions`), so the line admits R q^(R t) a second at time t: all of R
        at first, while the line is short, then fewer as waits outgrow patience."""
        if math.isinf(self.patience_s) or arrival_per_s <= admission_per_s:
            rate = min(admission_per_s, arrival_per_s)
            return ((duration_s, rate),)
        log_q = -(1 / admission_per_s - 1 / arrival_per_s) / self.patience_s
        steps = []
        for start in np.arange(0.0, duration_s, step_s):
            end = min(start + step_s, duration_s)
            # mean of R exp(log_q R t) over [start, end]
            a, b = log_q * admission_per_s * start, log_q * admission_per_s * end
            mean = (math.exp(b) - math.exp(a)) / (log_q * (end - start))
            steps.append((float(end), float(mean)))
        return tuple(steps)

    def network(
        self, admission_per_s: float, arrival_per_s: float
    ) -> tuple[PlatformNetwork, float]:
        """The platform network at these rates, and its request rate (requests/s)."""
        rates = {
            r: v
            for r, v in self.mix.route_rates(admission_per_s, arrival_per_s).items()
            if r in self.demands_s and v > 0
        }
        total = sum(rates.values())
        if total <= 0:
            raise ValueError("no calibrated route carries load at these rates")
        routes = tuple(
            RouteDemand(r, v / total, cpu_demand_s=self.demands_s[r] / self.app_share,
                        db_demand_s=0.0)
            for r, v in sorted(rates.items())
        )  # fmt: skip
        shares = sum(r.share for r in routes)
        routes = (*routes[:-1], _with_share(routes[-1], routes[-1].share + 1.0 - shares))
        database = "postgresql" if self.database == "postgresql" else "sqlite"
        net = PlatformNetwork(
            routes=routes, cores=self.cores, workers=self.workers, database=database,
            loadgen_cpu_s=self.loadgen_cpu_s / self.loadgen_share if self.loadgen_servers else 0.0,
            loadgen_servers=self.loadgen_servers,
        )  # fmt: skip
        return net, total

    def capacity_per_s(self, admission_per_s: float, arrival_per_s: float) -> float:
        """Requests/s the stations complete with every slot busy (flow-equivalent inner curve)."""
        net, _ = self.network(admission_per_s, arrival_per_s)
        k = min(net.concurrency_limit, 200)
        servers = net.servers.copy()
        if net.gil_not_in_stations:
            servers[0] = min(servers[0], net.workers)  # app work is the whole cpu demand here
        return float(inner_curve(net.mean_demands_s, servers, k).throughput_per_s[k])

    def predict_p95_ms(
        self,
        admission_per_s: float,
        arrival_per_s: float,
        duration_s: float,
        *,
        route: str = "book",
        replications: int = 3,
        seed: int = 0,
    ) -> float:
        """p95 (ms) of `route` over a run of `duration_s` from empty (SimPy network), with the
        visitors the numbered line admits at this admission rate, when it admits them: the
        request rate follows the line's admissions over the run (`admission_profile`), the
        route mix is the run's."""
        admitted = self.admitted_per_s(admission_per_s, arrival_per_s, duration_s)
        profile = self.admission_profile(admission_per_s, arrival_per_s, duration_s)
        _, total = self.network(admitted, arrival_per_s)
        steps = tuple(
            (until, self.network(max(rate, 1e-9), arrival_per_s)[1] / total)
            for until, rate in profile
        )
        return self.predict_p95_ms_at(admitted, arrival_per_s, duration_s, route=route,
                                      replications=replications, seed=seed,
                                      rate_steps=steps)  # fmt: skip

    def predict_p95_ms_at(
        self,
        admitted_per_s: float,
        arrival_per_s: float,
        duration_s: float,
        *,
        route: str = "book",
        replications: int = 3,
        seed: int = 0,
        rate_steps: tuple[tuple[float, float], ...] = (),
    ) -> float:
        """p95 (ms) of `route` with `admitted_per_s` visitors admitted (no line model), evenly
        over the run or following `rate_steps` ((until_s, multiple of the mean rate))."""
        admission_per_s = admitted_per_s
        net, rate = self.network(admission_per_s, arrival_per_s)
        if route not in {r.name for r in net.routes}:
            raise ValueError(f"route {route!r} has no calibrated demand")
        done = min(rate, self.capacity_per_s(admission_per_s, arrival_per_s)) * duration_s
        requests = max(int(done), 200)
        p95 = []
        for s in np.random.SeedSequence(seed).spawn(replications):
            run = simulate_network(net, seed=s, rate_per_s=rate, requests=requests,
                                   warmup_fraction=0.0, rate_steps=rate_steps)  # fmt: skip
            times = run.records.loc[run.records["route"] == route, "response_s"].to_numpy()
            if len(times):
                p95.append(float(np.percentile(times, 95)) * 1000.0)
        if not p95:
            raise ValueError(f"route {route!r}: no request completed in the simulated window")
        return float(np.mean(p95))


def _with_share(route: RouteDemand, share: float) -> RouteDemand:
    return RouteDemand(route.name, share, route.cpu_demand_s, route.db_demand_s, route.writes)


def find_rate(
    model: ConfirmModel,
    target_p95_ms: float,
    *,
    arrival_multiple: float,
    duration_s: float,
    replications: int = 3,
    seed: int = 0,
    tolerance: float = 0.005,
) -> tuple[float, float]:
    """The admission rate whose predicted booking p95 is `target_p95_ms`: (rate, its p95).

    Bisection on the log of the rate between a near-idle rate and one offering the platform
    twice its capacity, with the same random numbers at every rate, until the bracket is
    within `tolerance` (relative)."""
    if target_p95_ms <= 0 or arrival_multiple < 1 or duration_s <= 0:
        raise ValueError("need target_p95_ms > 0, arrival_multiple >= 1 and duration_s > 0")

    def p95(rate: float) -> float:
        return model.predict_p95_ms(rate, arrival_multiple * rate, duration_s,
                                    replications=replications, seed=seed)  # fmt: skip

    _, requests_per_admission = model.network(1.0, arrival_multiple)
    capacity = model.capacity_per_s(1.0, arrival_multiple)
    high = 2.0 * capacity / requests_per_admission
    low = 0.02 * capacity / requests_per_admission
    if p95(high) < target_p95_ms:
        raise ValueError(
            f"even at {high:.3g} admissions/s (twice the capacity) over {duration_s:g}s the "
            f"predicted p95 stays under {target_p95_ms:.4g} ms: lengthen the run"
        )
    if p95(low) > target_p95_ms:
        raise ValueError(f"the predicted p95 exceeds {target_p95_ms:.4g} ms even near idle")
    while high / low > 1 + tolerance:
        mid = math.sqrt(low * high)
        if p95(mid) < target_p95_ms:
            low = mid
        else:
            high = mid
    rate = math.sqrt(low * high)
    return rate, p95(rate)


def verdict(runs: list[dict]) -> bool:
    """Confirmed: the R_ok run met the SLO and the R_bad run missed it, as predicted."""
    if len(runs) != 2:
        raise ValueError("a confirmation has two runs: R_ok then R_bad")
    return bool(runs[0]["slo_met"]) and not bool(runs[1]["slo_met"])
