"""The soak verdict (`loadtests.soak`) and the recovery after an overload
(`loadtests.recovery`) on synthetic series: a leak, a drift, an error, broken invariants each
fail their target; a flat, clean run passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loadtests.errors import LoadTestInputError
from loadtests.recovery import recovery_time
from loadtests.soak import SoakSettings, analyse_soak, describe_soak, p99_interval, rss_growth

START = 1_000_000.0
DURATION = 600.0
SETTINGS = SoakSettings(warmup_s=60.0, window_s=100.0, resamples=500)
CLEAN = {"overbooked_slots": 0, "double_bookings": 0, "appointments": 1234}


def _monitor(rss_mb: np.ndarray, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(len(rss_mb), dtype=float)
    return pd.DataFrame(
        {
            "epoch_s": START + t,
            "app_rss_mb": rss_mb + rng.normal(0, 1.5, len(t)),
            "app_tcp_connections": rng.integers(8, 12, len(t)),
            "db_connections": [""] * len(t),
        }
    )


def _requests(scale_late: float = 1.0, failures: int = 0, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, DURATION, 12_000))
    latency = rng.lognormal(np.log(40), 0.5, len(t))
    latency[t >= DURATION / 2] *= scale_late
    ok = np.ones(len(t), dtype=int)
    ok[rng.choice(len(t), failures, replace=False)] = 0
    return pd.DataFrame(
        {
            "start_epoch_s": START + t,
            "name": "book",
            "response_time_ms": latency,
            "ok": ok,
            "status": np.where(ok == 1, 201, 500),
            "error": np.where(ok == 1, "", "boom"),
        }
    )


def _flat() -> np.ndarray:
    rss = np.full(int(DURATION), 120.0)
    rss[:60] = np.linspace(80, 120, 60)  # the warm-up: allocations before the steady state
    return rss


def _checks(result: dict) -> dict[str, bool]:
    return {c["check"].split(" ")[0]: c["passed"] for c in result["checks"]}


def test_a_flat_clean_soak_holds() -> None:
    result = analyse_soak(_monitor(_flat()), _requests(), START, DURATION, SETTINGS, CLEAN)
    assert result["passed"], result["checks"]
    memory = result["memory"]
    assert memory["growth_low"] <= memory["growth"] <= memory["growth_high"] < 0.05
    first, last = result["p99"]["first"], result["p99"]["last"]
    assert (first["from_s"], first["to_s"], last["from_s"], last["to_s"]) == (60, 160, 500, 600)
    for w in (first, last):
        assert w["low_ms"] <= w["p99_ms"] <= w["high_ms"]
    assert result["connections"]["last_window"]["app_tcp_connections"]["max"] <= 11
    assert result["connections"]["last_window"]["db_connections"] is None
    assert len(result["series"]) == 60 and result["series"][-1]["t_s"] == 590
    assert describe_soak(result)[-1] == "soak: held"


def test_a_leak_of_ten_percent_fails_the_memory_target() -> None:
    rss = _flat()
    rss[60:] += np.linspace(0, 12, len(rss) - 60)  # +12 MB on 120: 10 % over the run
    result = analyse_soak(_monitor(rss), _requests(), START, DURATION, SETTINGS, CLEAN)
    assert _checks(result) == {"RSS": False, "p99": True, "failed": True, "invariants": True}
    assert result["memory"]["growth"] == pytest.approx(0.1, abs=0.02)
    assert not result["memory"]["consistent_with_zero"]
    assert describe_soak(result)[-1] == "soak: NOT held"


def test_the_warm_up_growth_is_left_out_of_the_slope() -> None:
    rss = _flat()
    rss[:60] = np.linspace(20, 120, 60)  # a steep warm-up, then flat
    growth = rss_growth(np.arange(60, DURATION), rss[60:])
    assert abs(growth["growth"]) < 0.01 and growth["consistent_with_zero"]


def test_a_p99_twice_as_high_at_the_end_fails_the_drift_target() -> None:
    result = analyse_soak(
        _monitor(_flat()), _requests(scale_late=2.0), START, DURATION, SETTINGS, CLEAN
    )
    assert _checks(result) == {"RSS": True, "p99": False, "failed": True, "invariants": True}
    assert result["p99"]["drift"] == pytest.approx(1.0, abs=0.35)
    assert result["p99"]["intervals_overlap"] is False


def test_one_failed_request_or_unread_or_broken_invariants_fail() -> None:
    failed = analyse_soak(_monitor(_flat()), _requests(failures=1), START, DURATION, SETTINGS,
                          CLEAN)  # fmt: skip
    assert _checks(failed)["failed"] is False
    assert failed["errors"]["top"] == [{"name": "book", "status": 500, "error": "boom",
                                        "count": 1}]  # fmt: skip
    unread = analyse_soak(_monitor(_flat()), _requests(), START, DURATION, SETTINGS, None)
    assert _checks(unread)["invariants"] is False
    broken = {**CLEAN, "overbooked_slots": 1}
    overbooked = analyse_soak(_monitor(_flat()), _requests(), START, DURATION, SETTINGS, broken)
    assert _checks(overbooked)["invariants"] is False


def test_windows_default_to_a_sixth_of_the_run_up_to_five_minutes_and_must_fit() -> None:
    assert SoakSettings().windows(1800) == (300, 300)
    assert SoakSettings().windows(60) == (10, 10)
    with pytest.raises(LoadTestInputError, match="do not fit"):
        SoakSettings(warmup_s=30, window_s=20).windows(60)


def test_the_p99_interval_covers_the_true_p99_of_a_known_distribution() -> None:
    x = np.random.default_rng(5).exponential(100.0, 5000)  # p99 = 100 ln 100 = 460.5 ms
    got = p99_interval(x, resamples=500)
    assert got["low_ms"] < 100 * np.log(100) < got["high_ms"]
    assert got["high_ms"] - got["low_ms"] < 100


def _book_requests(latency_of) -> pd.DataFrame:
    t = np.arange(0.0, 60.0, 0.1)  # 10 bookings/s for 60 s
    return pd.DataFrame(
        {
            "start_epoch_s": START + t,
            "name": "book",
            "response_time_ms": [latency_of(x) for x in t],
            "ok": 1,
        }  # fmt: skip
    )


def test_recovery_is_the_start_of_the_first_window_after_which_every_window_is_good() -> None:
    slow_until = 20.0 + 12.0  # the overload ends at 20 s; 12 s of backlog after it
    requests = _book_requests(lambda t: 5000.0 if t < slow_until else 50.0)
    got = recovery_time(requests, START, 20.0, 60.0, 1500.0, window_s=5.0)
    assert got["recovery_s"] == pytest.approx(12.0, abs=1.0)
    assert got["windows"][0]["state"] == "bad" and got["windows"][-1]["state"] == "good"


def test_recovery_is_zero_when_the_slo_holds_at_once_and_none_when_it_never_comes_back() -> None:
    fast = _book_requests(lambda t: 50.0)
    assert recovery_time(fast, START, 20.0, 60.0, 1500.0)["recovery_s"] == 0.0
    relapse = _book_requests(lambda t: 5000.0 if 40 <= t < 42 else 50.0)
    got = recovery_time(relapse, START, 20.0, 60.0, 1500.0)
    assert got["recovery_s"] == pytest.approx(22.0)  # back again after the relapse
    never = _book_requests(lambda t: 5000.0 if t >= 57 else 50.0)  # the last window is bad
    got = recovery_time(never, START, 20.0, 60.0, 1500.0)
    assert got["recovery_s"] is None and got["watched_s"] == 40.0
    silent = _book_requests(lambda t: 50.0)
    silent = silent[silent["start_epoch_s"] < START + 20.0]  # nobody reaches booking any more
    assert recovery_time(silent, START, 20.0, 60.0, 1500.0)["recovery_s"] is None
