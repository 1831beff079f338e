from loadtests.verdicts.slo import Measured, SloTargets, judge

TARGETS = SloTargets(
    p95_ms={"book": 800.0, "search": 500.0},
    p99_ms={"book": 1500.0},
    error_rate_max=0.01,
    booking_success_min=0.99,
    waiting_room_wait_max_s=1800.0,
    overbooked_max=0,
)


def good() -> Measured:
    return Measured(
        p95_ms={"book": 700.0, "search": 100.0},
        p99_ms={"book": 1400.0},
        error_rate=0.001,
        booking_success=1.0,
        waiting_room_wait_max_s=60.0,
        overbooked=0,
    )


def test_verdict_passes_when_every_figure_meets_its_target():
    verdict = judge(good(), TARGETS)
    assert verdict.passed
    assert [r.rule for r in verdict.rules] == [
        "p95_ms[book]",
        "p95_ms[search]",
        "p99_ms[book]",
        "error_rate_max",
        "booking_success_min",
        "waiting_room_wait_max_s",
        "overbooked_max",
    ]


def test_slow_route_breaches_its_percentile_rule_only():
    m = good()
    slow = Measured(**{**m.__dict__, "p95_ms": {"book": 801.0, "search": 100.0}})
    verdict = judge(slow, TARGETS)
    assert not verdict.passed
    assert [r.rule for r in verdict.breached] == ["p95_ms[book]"]
    assert "801ms > 800ms" in verdict.breached[0].detail


def test_target_equal_to_measurement_passes():
    m = Measured(**{**good().__dict__, "error_rate": 0.01, "booking_success": 0.99})
    assert judge(m, TARGETS).passed


def test_error_rate_booking_success_wait_and_overbooking_each_breach():
    base = good().__dict__
    for change, rule in [
        ({"error_rate": 0.02}, "error_rate_max"),
        ({"booking_success": 0.98}, "booking_success_min"),
        ({"waiting_room_wait_max_s": 1801.0}, "waiting_room_wait_max_s"),
        ({"overbooked": 1}, "overbooked_max"),
    ]:
        verdict = judge(Measured(**{**base, **change}), TARGETS)
        assert [r.rule for r in verdict.breached] == [rule]


def test_route_without_requests_is_reported_as_no_data_not_a_breach():
    m = Measured(**{**good().__dict__, "p95_ms": {"book": 700.0}})
    rule = next(r for r in judge(m, TARGETS).rules if r.rule == "p95_ms[search]")
    assert rule.passed and rule.measured is None and rule.detail == "no data"


def test_unreadable_invariants_breach_the_overbooking_rule():
    m = Measured(**{**good().__dict__, "overbooked": None})
    verdict = judge(m, TARGETS)
    assert [r.rule for r in verdict.breached] == ["overbooked_max"]
    assert verdict.breached[0].detail == "invariants unreadable"


def test_targets_read_from_a_scenario_slo_object(smoke_scenario):

    targets = SloTargets.from_object(smoke_scenario.slo)
    assert targets.p95_ms["book"] > 0
    assert targets.overbooked_max == 0
    assert SloTargets.from_object(None) == SloTargets()
