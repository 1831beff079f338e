import math

import numpy as np
import pytest

from simulations.national.waiting_room import WaitingRoom


def _room(patience_s=math.inf, classes=2, seed=1):
    return WaitingRoom(classes, patience_s, np.random.default_rng(seed))


def test_admission_is_first_in_first_out():
    room = _room()
    room.join(0.0, np.array([5, 0]))
    room.join(1.0, np.array([0, 5]))
    assert room.admit(2.0, 5).tolist() == [5, 0]
    assert room.admit(3.0, 3).tolist() == [0, 3]
    assert room.length == 2
    assert room.wait_quantile_s(1.0) > 0


def test_waits_are_recorded_per_admitted_visitor():
    room = _room()
    room.join(0.0, np.array([3, 1]))
    room.admit(60.0, 4)
    assert room.admitted_wait_s == 240.0
    assert room.max_wait_s == 60.0


def test_nobody_reneges_with_infinite_patience():
    room = _room()
    room.join(0.0, np.array([1000, 1000]))
    assert room.renege(1e6).sum() == 0
    assert room.length == 2000


def test_reneging_follows_exponential_patience():
    room = _room(patience_s=100.0, classes=1)
    room.join(0.0, np.array([100_000]))
    gone = room.renege(100.0).sum()
    assert abs(gone / 100_000 - (1 - math.exp(-1))) < 0.01
    assert room.length + gone == 100_000


def test_every_visitor_is_accounted_for():
    rng = np.random.default_rng(3)
    room = WaitingRoom(3, 50.0, rng)
    for t in range(200):
        room.join(float(t), rng.integers(0, 20, size=3))
        room.admit(float(t), int(rng.integers(0, 30)))
    assert room.joined == room.admitted + room.reneged + room.length


def test_littles_law_holds_as_an_identity_on_ticks():
    rng = np.random.default_rng(5)
    room = WaitingRoom(1, 30.0, rng)
    area = 0.0
    for t in range(500):
        room.renege(float(t))
        room.join(float(t), np.array([int(rng.poisson(4))]))
        room.admit(float(t), 3)
        area += room.length
    assert area == room.waited_s + room.queued_age_s(500.0)


def test_a_national_queue_of_millions_is_cheap():
    room = _room(classes=7)
    for t in range(0, 3600, 5):
        room.join(float(t), np.array([0, 10_000, 0, 0, 0, 0, 0]))
        room.admit(float(t), 5_000)
    assert room.length > 3_000_000
    assert room._tail - room._head < 1000  # one row per tick, not one object per visitor


def test_ticked_waiting_room_as_used_nationally_matches_erlang_a():
    """The national model runs the room on fixed ticks (no exact renege times); with ticks small
    against service and patience it reproduces Erlang A (c=10, lam=9, mu=1, theta=0.5)."""
    from simulations.queueing import erlang_a

    rng = np.random.default_rng(2021)
    lam, mu, c, theta, dt = 9.0, 1.0, 10, 0.5, 0.02
    room = WaitingRoom(1, 1 / theta, rng)
    busy, arrived, ticks = 0, 0, 100_000
    p_done = 1 - math.exp(-mu * dt)
    for t in range(ticks):
        now = t * dt
        busy -= int(rng.binomial(busy, p_done))
        n = int(rng.poisson(lam * dt))
        arrived += n
        room.renege(now)
        room.join(now, np.array([n]))
        busy += int(room.admit(now, c - busy).sum())
    exact = erlang_a(lam, mu, c, theta)
    assert room.reneged / arrived == pytest.approx(exact.p_abandon, rel=0.1)
    assert room.waited_s / arrived == pytest.approx(exact.wq, rel=0.1)
