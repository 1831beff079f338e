import itertools
import math

import numpy as np
import pytest

from simulations.calibration.flow_equivalent import inner_curve
from simulations.calibration.multiclass_mva import bard_mva, exact_mva, schweitzer_mva, seidmann

# source: docs/sources.md#mva-jain-example.
# Jain, The Art of Computer Systems Performance Analysis (Wiley, 1991), ch. 34, Example 34.2 and
# Table 34.1: a timesharing system, CPU S=0.125 s x 16 visits, disk A 0.3 s x 10, disk B
# 0.2 s x 5, think time Z=4 s. Columns: N, R_cpu, R_A, R_B (per visit), R, X, Q_cpu, Q_A, Q_B.
JAIN_TABLE_34_1 = [
    (1, 0.125, 0.300, 0.200, 6.000, 0.100, 0.200, 0.300, 0.100),
    (2, 0.150, 0.390, 0.220, 7.400, 0.175, 0.421, 0.684, 0.193),
    (3, 0.178, 0.505, 0.239, 9.088, 0.229, 0.651, 1.158, 0.273),
    (4, 0.206, 0.647, 0.255, 11.051, 0.266, 0.878, 1.721, 0.338),
    (5, 0.235, 0.816, 0.268, 13.256, 0.290, 1.088, 2.365, 0.388),
    (17, 0.370, 3.962, 0.300, 47.045, 0.333, 1.974, 13.195, 0.499),
    (18, 0.372, 4.259, 0.300, 50.032, 0.333, 1.981, 14.187, 0.499),
    (19, 0.373, 4.556, 0.300, 53.022, 0.333, 1.987, 15.181, 0.500),
    (20, 0.373, 4.854, 0.300, 56.016, 0.333, 1.991, 16.177, 0.500),
]


@pytest.mark.parametrize("row", JAIN_TABLE_34_1, ids=lambda row: f"N={row[0]}")
def test_exact_mva_reproduces_a_published_textbook_table(row):
    """Jain (1991), The Art of Computer Systems Performance Analysis, chapter 34 (Mean Value
    Analysis), Example 34.2, Table 34.1 "MVA Results for Example 34.2": demands D = S x V =
    2.0 s (CPU), 3.0 s (disk A), 1.0 s (disk B), Z = 4 s; e.g. N=2 gives R = 7.400 s and
    X = 0.175/s, N=20 gives R = 56.016 s, X = 0.333/s, Q = 1.991, 16.177, 0.500. The table is
    printed to 3 decimals, hence the tolerance. (Lazowska et al.'s QSP figures could not be
    verified here, so the check uses this published table instead.)"""
    n, r_cpu, r_a, r_b, r, x, q_cpu, q_a, q_b = row
    visits = np.array([16, 10, 5])
    sol = exact_mva([[0.125 * 16, 0.3 * 10, 0.2 * 5]], [n], think_s=4.0)
    tol = 0.0006
    assert sol.residence_s[0] / visits == pytest.approx([r_cpu, r_a, r_b], abs=tol)
    assert sol.response_s[0] == pytest.approx(r, abs=tol)
    assert sol.throughput_per_s[0] == pytest.approx(x, abs=tol)
    assert sol.queue_length[0] == pytest.approx([q_cpu, q_a, q_b], abs=tol)


def _enumerate_product_form(demands, populations, think_s):
    """Brute force over every state of a closed multi-class network of single-server PS
    stations plus a think delay (BCMP): P(state) is proportional to
    prod_m n_m! prod_c D[c,m]^n[c,m] / n[c,m]!  x  prod_c Z_c^n[c,0] / n[c,0]!.
    Returns per-class throughput (= mean thinkers / Z) and mean queue per class and station."""
    d = np.asarray(demands, float)
    n_classes, n_stations = d.shape
    places = n_stations + 1  # the stations, then the think delay

    def splits(total):
        for cut in itertools.product(range(total + 1), repeat=places):
            if sum(cut) == total:
                yield cut

    weight_sum = 0.0
    thinkers = np.zeros(n_classes)
    queue = np.zeros((n_classes, n_stations))
    for state in itertools.product(*(list(splits(n)) for n in populations)):
        s = np.array(state)  # classes x places
        w = 1.0
        for m in range(n_stations):
            w *= math.factorial(int(s[:, m].sum()))
            for c in range(n_classes):
                w *= d[c, m] ** s[c, m] / math.factorial(s[c, m])
        for c in range(n_classes):
            w *= think_s[c] ** s[c, -1] / math.factorial(s[c, -1])
        weight_sum += w
        thinkers += w * s[:, -1]
        queue += w * s[:, :-1]
    return thinkers / weight_sum / np.asarray(think_s), queue / weight_sum


def test_exact_multiclass_mva_matches_enumeration_of_the_product_form_states():
    """A worked example derived exactly: 2 classes (3 and 2 users) on a CPU and a disk, solved
    by enumerating all states of the product-form solution independently of MVA."""
    demands = [[0.05, 0.08], [0.12, 0.03]]
    think = [0.2, 0.5]
    expected_x, expected_q = _enumerate_product_form(demands, (3, 2), think)
    sol = exact_mva(demands, [3, 2], think_s=think)
    assert sol.throughput_per_s == pytest.approx(expected_x, rel=1e-10)
    assert sol.queue_length == pytest.approx(expected_q, rel=1e-10)


MULTICLASS = {
    "demands_s": [[0.010, 0.020, 0.004], [0.030, 0.005, 0.010], [0.008, 0.012, 0.025]],
    "populations": [30, 20, 20],
    "think_s": 0.5,
}


@pytest.fixture(scope="module")
def exact_three_classes():
    return exact_mva(**MULTICLASS)


@pytest.mark.parametrize(
    ("solver", "throughput_tolerance", "response_tolerance"),
    [(schweitzer_mva, 0.04, 0.08), (bard_mva, 0.06, 0.12)],
)
def test_approximate_mva_is_within_a_few_percent_of_exact_on_three_classes(
    exact_three_classes, solver, throughput_tolerance, response_tolerance
):
    """Near saturation (the first station is ~100% busy, the second ~97%), the worst region for
    the approximations: measured errors here are at most 3.2% (Schweitzer) and 5.0% (Bard) on
    throughput, 6.8% and 10% on response time, both under-estimating throughput."""
    exact = exact_three_classes
    approx = solver(**MULTICLASS)
    assert approx.throughput_per_s == pytest.approx(
        exact.throughput_per_s, rel=throughput_tolerance
    )
    assert approx.response_s == pytest.approx(exact.response_s, rel=response_tolerance)


def test_schweitzer_is_closer_to_exact_than_bard(exact_three_classes):
    exact = exact_three_classes
    errors = [
        np.max(np.abs(s(**MULTICLASS).throughput_per_s / exact.throughput_per_s - 1))
        for s in (schweitzer_mva, bard_mva)
    ]
    assert errors[0] < errors[1]


def test_a_class_with_no_users_gets_no_throughput_and_no_queue():
    sol = schweitzer_mva([[0.01, 0.02], [0.03, 0.01]], [4, 0], think_s=0.1)
    exact = exact_mva([[0.01, 0.02], [0.03, 0.01]], [4, 0], think_s=0.1)
    assert sol.throughput_per_s[1] == 0 and np.all(sol.queue_length[1] == 0)
    assert exact.throughput_per_s[1] == 0


def test_delay_stations_add_their_demand_without_queueing():
    sol = exact_mva([[0.02, 0.5]], [10], think_s=0.0, delay=[False, True])
    assert sol.residence_s[0, 1] == pytest.approx(0.5)
    assert sol.residence_s[0, 0] > 0.02


def test_bad_inputs_are_one_clear_error():
    with pytest.raises(ValueError, match="classes"):
        exact_mva([[0.1, 0.2]], [1, 2])
    with pytest.raises(ValueError, match="integer"):
        exact_mva([[0.1]], [1.5])
    with pytest.raises(ValueError, match=">= 0"):
        schweitzer_mva([[-0.1]], [1])


def test_seidmann_splits_a_multi_server_station_into_a_queue_and_a_delay():
    demands, delay, origin = seidmann([[0.04, 0.01]], [4, 1])
    assert demands[0] == pytest.approx([0.01, 0.01, 0.03])
    assert list(delay) == [False, False, True]
    assert origin == [0, 1, 0]


def _closed_mmc_throughput(users, servers, demand_s, think_s):
    """Birth-death chain of a closed M/M/c with N users thinking Z (machine repairmen)."""
    p = [1.0]
    for n in range(1, users + 1):
        p.append(p[-1] * (users - n + 1) / think_s / (min(n, servers) / demand_s))
    p = np.array(p) / sum(p)
    return float(sum(p[n] * min(n, servers) / demand_s for n in range(users + 1)))


def test_inner_curve_matches_exact_mva_on_single_server_stations():
    d = np.array([0.02, 0.05, 0.01])
    curve = inner_curve(d, np.array([1, 1, 1]), 12)
    for k in (1, 5, 12):
        sol = exact_mva([d], [k])
        assert curve.throughput_per_s[k] == pytest.approx(sol.throughput_per_s[0], rel=1e-12)
        assert curve.queue_length[k] == pytest.approx(sol.queue_length[0], rel=1e-10)


def test_inner_curve_is_exact_for_a_multi_server_station():
    """A c-server station and an infinite-ish delay in series is a closed M/M/c with think time;
    here the delay is a 64-server station, which never queues with at most 10 requests."""
    curve = inner_curve(np.array([0.04, 0.1]), np.array([3, 64]), 10)
    for k in range(1, 11):
        expected = _closed_mmc_throughput(k, 3, 0.04, 0.1)
        assert curve.throughput_per_s[k] == pytest.approx(expected, rel=1e-10)


def test_inner_curve_stays_finite_for_thousands_of_requests_on_many_cores():
    curve = inner_curve(np.array([0.004, 0.002]), np.array([32, 16]), 3000)
    assert np.all(np.isfinite(curve.throughput_per_s))
    assert curve.throughput_per_s[-1] == pytest.approx(32 / 0.004, rel=1e-3)
