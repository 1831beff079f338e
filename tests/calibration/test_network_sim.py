"""The SimPy platform network against the analytic models (means within the replications' 95%
confidence interval; seeds are fixed, so each check is deterministic)."""

import numpy as np
import pandas as pd
import pytest

from simulations.calibration.flow_equivalent import solve_closed, solve_open
from simulations.calibration.multiclass_mva import exact_mva
from simulations.calibration.network_sim import simulate_network, simulate_replications, summarise
from simulations.calibration.platform_network import PlatformNetwork, RouteDemand
from simulations.replications import confidence_interval

SEARCH = RouteDemand("search", 0.7, cpu_demand_s=0.004, db_demand_s=0.002)
BOOK = RouteDemand("book", 0.3, cpu_demand_s=0.010, db_demand_s=0.006, writes=True)
REPLICATIONS = 4
REQUESTS = 3000


def _assert_in_ci(values: pd.Series, expected: float) -> None:
    mean, low, high = confidence_interval(values.to_numpy())
    assert low <= expected <= high, f"{expected:.6g} outside [{low:.6g}, {high:.6g}] (mean {mean})"


def test_without_limits_the_simulation_matches_exact_mva():
    """No slot limit, single-server CPU and DB, a random route per request: a product-form
    network whose aggregate is the one-class network of the mean request. Exact MVA gives the
    throughput and each station's slowdown R_m / D_m, so a route's response is its demands
    stretched by those slowdowns."""
    net = PlatformNetwork(routes=(SEARCH, BOOK), cores=1, workers=1, db_servers=1)
    users, think_s = 10, 0.05
    mva = exact_mva([net.mean_demands_s], [users], think_s=think_s)
    slowdown = mva.residence_s[0] / net.mean_demands_s
    runs = simulate_replications(
        net, REPLICATIONS, 9, users=users, think_s=think_s, requests=REQUESTS, limit=False
    )
    _assert_in_ci(runs.query("route == 'all'")["throughput_per_s"], mva.throughput_per_s[0])
    for c, route in enumerate(net.routes):
        expected = float(net.demands_s[c] @ slowdown)
        _assert_in_ci(runs.loc[runs["route"] == route.name, "mean_s"], expected)
    assert (runs["slot_wait_s"] == 0).all()


def _exact_chain(
    cpu_s: float, db_s: float, cores: int, slots: int, max_n: int, arrival_per_s
) -> tuple[float, float]:
    """The exact CTMC of one route through a `cores`-server PS CPU then a 1-server DB, with at
    most `slots` requests inside and FIFO waiting: state (n in system, a at CPU, b at DB), with
    arrivals at `arrival_per_s(n)` up to `max_n`. Returns (throughput, mean in system)."""
    states = [(n, a, min(n, slots) - a) for n in range(max_n + 1) for a in range(min(n, slots) + 1)]
    index = {state: i for i, state in enumerate(states)}
    rates = np.zeros((len(states), len(states)))
    for (n, a, b), i in index.items():
        if n < max_n:  # an arrival enters the CPU if a slot is free, else waits
            target = (n + 1, a + 1, b) if n < slots else (n + 1, a, b)
            rates[i, index[target]] += arrival_per_s(n)
        if a:
            rates[i, index[(n, a - 1, b + 1)]] += min(a, cores) / cpu_s
        if b:  # a request leaves; a waiting one takes its slot
            target = (n - 1, a + 1, b - 1) if n > slots else (n - 1, a, b - 1)
            rates[i, index[target]] += 1 / db_s
    np.fill_diagonal(rates, -rates.sum(axis=1))
    system = rates.T.copy()
    system[-1] = 1.0  # pi Q = 0 with one balance equation replaced by sum(pi) = 1
    rhs = np.zeros(len(states))
    rhs[-1] = 1.0
    p = np.linalg.solve(system, rhs)
    throughput = float(sum(p[i] / db_s for (_, _, b), i in index.items() if b))
    return throughput, float(sum(p[i] * n for (n, _, _), i in index.items()))


ONE_ROUTE = RouteDemand("all", 1.0, cpu_demand_s=0.006, db_demand_s=0.004)
# Two workers with two threads each (4 slots) in front of 2 cores and a 1-core database.
LIMITED = PlatformNetwork(
    routes=(ONE_ROUTE,), cores=2, workers=2, threads_per_worker=2, db_servers=1
)


def test_fes_and_the_simulation_match_the_exact_chain_of_a_closed_network_with_a_thread_limit():
    """20 users: requests mostly queue for a thread. The limit breaks product form, so FES is
    an approximation (0.3% low here); the simulation matches the exact Markov chain."""
    exact_x, _ = _exact_chain(0.006, 0.004, 2, 4, 20, lambda n: (20 - n) / 0.05)
    fes = solve_closed(LIMITED, users=20, think_s=0.05)
    assert fes.slot_wait_s > 0.5 * fes.response_s  # the limit binds
    assert fes.throughput_per_s == pytest.approx(exact_x, rel=0.01)
    runs = simulate_replications(
        LIMITED, REPLICATIONS, 5, users=20, think_s=0.05, requests=REQUESTS
    ).query("route == 'all'")
    _assert_in_ci(runs["throughput_per_s"], exact_x)
    assert runs["mean_s"].mean() == pytest.approx(fes.response_s, rel=0.02)


def test_fes_and_the_simulation_match_the_exact_chain_of_an_open_network_with_a_limit():
    """Poisson arrivals at 150/s (65% of the 4-slot capacity): the exact chain (truncated at
    120 requests, beyond which the probability is below 1e-20) gives 18.6 ms; FES 4% more."""
    _, exact_in_system = _exact_chain(0.006, 0.004, 2, 4, 120, lambda n: 150.0)
    exact_response_s = exact_in_system / 150.0
    fes = solve_open(LIMITED, rate_per_s=150.0)
    assert fes.response_s == pytest.approx(exact_response_s, rel=0.05)
    runs = simulate_replications(LIMITED, REPLICATIONS, 8, rate_per_s=150.0, requests=REQUESTS)
    _assert_in_ci(runs.query("route == 'all'")["mean_s"], exact_response_s)


def test_fes_per_route_response_times_stay_close_to_the_simulation_in_an_open_network():
    """Several routes: FES aggregates the inner network to the mean request, and a route's
    response is its demands stretched by each station's slowdown (approximate)."""
    net = PlatformNetwork(
        routes=(SEARCH, BOOK), cores=2, workers=2, threads_per_worker=2, db_servers=1
    )
    fes = solve_open(net, rate_per_s=170.0)
    runs = simulate_replications(net, 3, 8, rate_per_s=170.0, requests=REQUESTS)
    for row in fes.classes.itertuples():
        simulated = runs.query("route == @row.route")["mean_s"].mean()
        assert simulated == pytest.approx(row.response_s, rel=0.06)


def test_fes_aggregation_of_routes_stays_within_two_percent_of_the_simulation():
    """With several routes FES aggregates the inner network to the mean request: approximate."""
    net = PlatformNetwork(
        routes=(SEARCH, BOOK), cores=2, workers=2, threads_per_worker=2, db_servers=1
    )
    fes = solve_closed(net, users=20, think_s=0.05)
    runs = simulate_replications(net, 3, 7, users=20, think_s=0.05, requests=REQUESTS)
    simulated = runs.query("route == 'all'")["throughput_per_s"].mean()
    assert simulated == pytest.approx(fes.throughput_per_s, rel=0.02)


def _max_overlap(start: np.ndarray, end: np.ndarray) -> int:
    events = sorted([(t, 1) for t in start] + [(t, -1) for t in end], key=lambda e: (e[0], e[1]))
    return int(np.max(np.cumsum([step for _, step in events])))


def test_requests_hold_a_slot_for_their_whole_stay():
    net = PlatformNetwork(
        routes=(SEARCH, BOOK),
        cores=2,
        workers=2,
        threads_per_worker=8,
        pool_size=2,
        max_overflow=1,
        db_servers=1,
    )
    assert net.concurrency_limit == 6
    run = simulate_network(
        net, seed=np.random.SeedSequence(3), users=30, think_s=0.02, requests=1500
    )
    inside = _max_overlap(run.records["admitted_s"].to_numpy(), run.records["end_s"].to_numpy())
    assert inside == 6


def test_records_give_percentiles_per_route_and_the_seed_fixes_the_run():
    net = PlatformNetwork(routes=(SEARCH, BOOK), cores=2, workers=2, database="sqlite")
    first = simulate_network(net, seed=np.random.SeedSequence(1), rate_per_s=80.0, requests=800)
    again = simulate_network(net, seed=np.random.SeedSequence(1), rate_per_s=80.0, requests=800)
    other = simulate_network(net, seed=np.random.SeedSequence(2), rate_per_s=80.0, requests=800)
    pd.testing.assert_frame_equal(first.records, again.records)
    assert not first.records["end_s"].equals(other.records["end_s"])
    summary = summarise(first).set_index("route")
    assert set(summary.index) == {"search", "book", "all"}
    assert summary.loc["all", "requests"] == 720  # 800 less the 10% warm-up
    assert (summary["p50_s"] < summary["p95_s"]).all() and (
        summary["p95_s"] < summary["p99_s"]
    ).all()
    assert summary.loc["book", "mean_s"] > summary.loc["search", "mean_s"]


def test_bad_run_requests_are_one_clear_error():
    net = PlatformNetwork(routes=(SEARCH, BOOK), cores=1, workers=1, db_servers=1)
    with pytest.raises(ValueError, match="exactly one"):
        simulate_network(net, seed=np.random.SeedSequence(0), users=3, rate_per_s=5.0)
    with pytest.raises(ValueError, match="exactly one"):
        simulate_network(net, seed=np.random.SeedSequence(0))


def test_percentiles_match_the_m_m_1_response_time_distribution():
    """One worker with one thread on one core: requests run one at a time, FIFO, so the
    platform is an M/M/1 queue whose response time is exponential with rate mu - lambda: its
    p-quantile is -ln(1 - p) / (mu - lambda)."""
    route = RouteDemand("all", 1.0, cpu_demand_s=0.01, db_demand_s=0.0)
    net = PlatformNetwork(routes=(route,), cores=1, workers=1, threads_per_worker=1)
    assert net.concurrency_limit == 1
    runs = simulate_replications(net, REPLICATIONS, 4, rate_per_s=50.0, requests=REQUESTS).query(
        "route == 'all'"
    )
    for column, p in (("p50_s", 0.50), ("p95_s", 0.95), ("p99_s", 0.99)):
        _assert_in_ci(runs[column], -np.log(1 - p) / (100.0 - 50.0))


def test_sqlite_serialises_writes_and_caps_throughput_at_the_single_writer():
    """Bookings hold SQLite's single writer for 20 ms; at 30% of requests that is 6 ms of
    writer time per request, so neither more users nor more cores get past ~167 requests/s."""
    book = RouteDemand("book", 0.3, cpu_demand_s=0.010, db_demand_s=0.020, writes=True)
    net = PlatformNetwork(routes=(SEARCH, book), cores=4, workers=4, database="sqlite")
    bound = 1 / (0.3 * 0.020)
    fes = solve_closed(net, users=60, think_s=0.05)
    writer = fes.stations.set_index("station").loc["writer"]
    assert writer["utilisation"] == pytest.approx(1.0, abs=0.02)
    assert fes.throughput_per_s == pytest.approx(bound, rel=0.02)
    runs = simulate_replications(net, 3, 12, users=60, think_s=0.05, requests=20_000)
    simulated = runs.query("route == 'all'")["throughput_per_s"].mean()
    assert simulated == pytest.approx(fes.throughput_per_s, rel=0.03)
    assert simulated < bound


def test_with_postgresql_on_the_cores_the_simulation_keeps_python_to_one_core_per_worker():
    """One worker on four cores with a local PostgreSQL: Python work (10 ms) holds the GIL, so
    throughput stays under 100/s however many cores; the analytic `cpu` station cannot express
    that (`gil_not_in_stations`) and predicts more."""
    route = RouteDemand("all", 1.0, cpu_demand_s=0.010, db_demand_s=0.004)
    net = PlatformNetwork(routes=(route,), cores=4, workers=1, threads_per_worker=8)
    assert net.gil_not_in_stations
    assert solve_closed(net, users=30, think_s=0.02).throughput_per_s > 150
    runs = simulate_replications(net, 3, 21, users=30, think_s=0.02, requests=REQUESTS)
    simulated = runs.query("route == 'all'")["throughput_per_s"].mean()
    assert simulated == pytest.approx(100.0, rel=0.03)


def test_piecewise_rates_and_a_generator_station_outside_the_slots():
    net = PlatformNetwork(
        routes=(RouteDemand("a", 1.0, cpu_demand_s=0.001, db_demand_s=0.0),),
        cores=1, workers=1, database="sqlite", loadgen_cpu_s=0.002, loadgen_servers=1,
    )  # fmt: skip
    assert [s.name for s in net.stations] == ["cpu", "writer", "loadgen"]
    run = simulate_network(net, seed=np.random.SeedSequence(4), rate_per_s=100.0,
                           requests=3000, warmup_fraction=0.0,
                           rate_steps=((10.0, 2.0), (20.0, 0.5)))  # fmt: skip
    arrivals = run.records["arrival_s"]
    first, second = (arrivals < 10).sum(), ((arrivals >= 10) & (arrivals < 20)).sum()
    assert first == pytest.approx(2000, rel=0.1) and second == pytest.approx(500, rel=0.15)
    # the generator's time is in the response (3 ms of work), before the slot (it holds none)
    assert run.records["response_s"].mean() > 0.003
    assert run.records["slot_wait_s"].mean() > 0.0015
