import math

import numpy as np
import pytest

from simulations.calibration.flow_equivalent import solve_closed, solve_closed_mva, solve_open
from simulations.calibration.multiclass_mva import exact_mva
from simulations.calibration.platform_network import PlatformNetwork, RouteDemand

SEARCH = RouteDemand("search", 0.7, cpu_demand_s=0.004, db_demand_s=0.002)
BOOK = RouteDemand("book", 0.3, cpu_demand_s=0.010, db_demand_s=0.006, writes=True)


def _net(**kwargs) -> PlatformNetwork:
    defaults = dict(routes=(SEARCH, BOOK), cores=2, workers=2, db_servers=1)
    return PlatformNetwork(**(defaults | kwargs))


def test_the_concurrency_limit_is_threads_or_pooled_connections_per_worker():
    assert _net(workers=3, threads_per_worker=40).concurrency_limit == 3 * 15  # 5 + 10 pool
    assert _net(workers=3, threads_per_worker=4).concurrency_limit == 12
    assert _net(workers=2, pool_size=2, max_overflow=0).concurrency_limit == 4
    sqlite = _net(database="sqlite", db_servers=None, workers=2, threads_per_worker=8)
    assert sqlite.concurrency_limit == 16


def test_stations_follow_the_deployment():
    remote = _net(cores=4, workers=2, db_servers=3)
    assert [(s.name, s.servers) for s in remote.stations] == [("cpu", 2), ("db", 3)]  # GIL
    assert remote.demands_s == pytest.approx(np.array([[0.004, 0.002], [0.010, 0.006]]))
    local = _net(cores=4, workers=2, db_servers=None, loadgen_cpu_s=0.001)
    assert [(s.name, s.servers) for s in local.stations] == [("cpu", 4)]
    assert local.demands_s[:, 0] == pytest.approx([0.007, 0.017])
    sqlite = _net(database="sqlite", db_servers=None)
    assert [s.name for s in sqlite.stations] == ["cpu", "writer"]
    # reads run in-process on the cpu; writes hold SQLite's single writer for their DB time
    assert sqlite.demands_s == pytest.approx(np.array([[0.006, 0.0], [0.010, 0.006]]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"routes": (SEARCH,)}, "sum to 1"),
        ({"workers": 0}, "workers"),
        ({"database": "sqlite"}, "db_servers"),
        ({"routes": (SEARCH, RouteDemand("search", 0.3, 0.01, 0.0))}, "unique"),
    ],
)
def test_bad_network_descriptions_are_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _net(**kwargs)


def test_with_a_limit_that_never_binds_fes_equals_exact_mva():
    """Single-server stations, 12 users under a 60-slot cap: FES is the plain closed network."""
    route = RouteDemand("all", 1.0, cpu_demand_s=0.005, db_demand_s=0.003)
    net = PlatformNetwork(routes=(route,), cores=1, workers=4, db_servers=1)
    fes = solve_closed(net, users=12, think_s=0.05)
    mva = exact_mva([[0.005, 0.003]], [12], think_s=0.05)
    assert fes.throughput_per_s == pytest.approx(mva.throughput_per_s[0], rel=1e-10)
    assert fes.response_s == pytest.approx(mva.response_s[0], rel=1e-10)
    assert fes.stations["queue_length"].to_numpy() == pytest.approx(mva.queue_length[0])
    assert fes.slot_wait_s == pytest.approx(0.0, abs=1e-12)


def test_one_slot_turns_two_cores_into_one_server():
    """One worker, one thread: a request runs alone, so two cores act as one M/M/1 server;
    closed, that is the machine-repairman model X = mu (1 - p0)."""
    route = RouteDemand("all", 1.0, cpu_demand_s=0.01, db_demand_s=0.0)
    net = PlatformNetwork(routes=(route,), cores=2, workers=1, threads_per_worker=1)
    users, think_s, mu = 8, 0.05, 100.0
    r = 1.0 / (mu * think_s)
    total = sum(math.factorial(users) / math.factorial(users - n) * r**n for n in range(users + 1))
    fes = solve_closed(net, users=users, think_s=think_s)
    assert fes.throughput_per_s == pytest.approx(mu * (1 - 1 / total), rel=1e-10)
    assert fes.stations["utilisation"].iloc[0] == pytest.approx(fes.throughput_per_s * 0.01 / 2)


def _erlang_c_response(rate_per_s: float, servers: int, demand_s: float) -> float:
    a = rate_per_s * demand_s
    rho = a / servers
    top = a**servers / math.factorial(servers) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(servers)) + top)
    return demand_s + p_wait * demand_s / (servers - a)


@pytest.mark.parametrize("servers", [1, 2, 3])
def test_open_fes_with_slots_equal_to_cores_is_erlang_c(servers):
    """Slots = cores: requests beyond them wait FIFO, so the platform is an M/M/c queue."""
    route = RouteDemand("all", 1.0, cpu_demand_s=0.02, db_demand_s=0.0)
    net = PlatformNetwork(
        routes=(route,), cores=servers, workers=servers, threads_per_worker=1, db_servers=None
    )
    rate = 0.8 * servers / 0.02
    fes = solve_open(net, rate)
    assert fes.response_s == pytest.approx(_erlang_c_response(rate, servers, 0.02), rel=1e-9)


def test_open_overload_is_one_clear_error():
    with pytest.raises(ValueError, match="exceed the capacity"):
        solve_open(_net(), rate_per_s=1000.0)


def test_the_limit_moves_waiting_out_of_the_stations_and_costs_throughput():
    """With a CPU and a DB, a low slot limit keeps one of them idle while the other works."""
    tight = solve_closed(_net(threads_per_worker=1), users=40, think_s=0.05)
    loose = solve_closed(_net(threads_per_worker=20), users=40, think_s=0.05)
    assert tight.slot_limit == 2 and loose.slot_limit == 30
    assert tight.throughput_per_s < loose.throughput_per_s
    assert tight.slot_wait_s > loose.slot_wait_s
    assert tight.stations["queue_length"].sum() <= 2 + 1e-9


def test_per_class_response_times_scale_with_class_demands_at_each_station():
    sol = solve_closed(_net(threads_per_worker=8), users=30, think_s=0.1)
    by_route = sol.classes.set_index("route")
    assert by_route.loc["book", "response_s"] > by_route.loc["search", "response_s"]
    assert by_route["throughput_per_s"].sum() == pytest.approx(sol.throughput_per_s)
    assert by_route.loc["search", "throughput_per_s"] == pytest.approx(0.7 * sol.throughput_per_s)
    stations = sol.stations.set_index("station")
    for name in ("cpu", "db"):
        total = by_route[f"{name}_utilisation"].sum()
        assert total == pytest.approx(stations.loc[name, "utilisation"])
        queue = by_route[f"{name}_queue_length"].sum()
        assert queue == pytest.approx(stations.loc[name, "queue_length"])


@pytest.mark.parametrize("method", ["schweitzer", "bard"])
def test_multiclass_mva_of_the_platform_agrees_with_exact(method):
    exact = solve_closed_mva(_net(), users=20, think_s=0.1, method="exact")
    approx = solve_closed_mva(_net(), users=20, think_s=0.1, method=method)
    for column in ("throughput_per_s", "cpu_utilisation", "db_utilisation"):
        assert approx[column].to_numpy() == pytest.approx(exact[column].to_numpy(), rel=0.05)
