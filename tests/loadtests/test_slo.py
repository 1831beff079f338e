from dataclasses import replace

from loadtests.verdicts.slo import JourneyMeasured, Measured, judge
from simulations.scenario.slo import JourneySlo, Slo

SLO = Slo(
    p95_ms={"book": 800.0, "search": 500.0},
    p99_ms={"book": 1500.0},
    error_rate_max=0.01,
    journey=JourneySlo(booking_success_min=0.99, waiting_room_wait_max_s=1800.0, overbooked_max=0),
)


def good() -> Measured:
    return Measured(
        p95_ms={"book": 700.0, "search": 100.0},
        p99_ms={"book": 1400.0},
        error_rate=0.001,
        journey=JourneyMeasured(booking_success=1.0, waiting_room_wait_max_s=60.0, overbooked=0),
    )


def with_journey(**change) -> Measured:
    m = good()
    return replace(m, journey=replace(m.journey, **change))


def test_verdict_passes_when_every_figure_meets_its_target():
    verdict = judge(good(), SLO)
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
    slow = replace(good(), p95_ms={"book": 801.0, "search": 100.0})
    verdict = judge(slow, SLO)
    assert not verdict.passed
    assert [r.rule for r in verdict.breached] == ["p95_ms[book]"]
    assert "801ms > 800ms" in verdict.breached[0].detail


def test_target_equal_to_measurement_passes():
    m = replace(with_journey(booking_success=0.99), error_rate=0.01)
    assert judge(m, SLO).passed


def test_error_rate_booking_success_wait_and_overbooking_each_breach():
    for measured, rule in [
        (replace(good(), error_rate=0.02), "error_rate_max"),
        (with_journey(booking_success=0.98), "booking_success_min"),
        (with_journey(waiting_room_wait_max_s=1801.0), "waiting_room_wait_max_s"),
        (with_journey(overbooked=1), "overbooked_max"),
    ]:
        verdict = judge(measured, SLO)
        assert [r.rule for r in verdict.breached] == [rule]


def test_route_without_requests_fails_as_no_data_naming_it():
    m = replace(good(), p95_ms={"book": 700.0})
    rule = next(r for r in judge(m, SLO).rules if r.rule == "p95_ms[search]")
    assert not rule.passed and rule.measured is None
    assert rule.detail == "no data: no request named 'search'"


def test_route_the_journey_may_leave_unused_is_reported_as_no_data_not_a_breach():
    m = replace(good(), p95_ms={"book": 700.0}, may_be_unused=frozenset({"search"}))
    rule = next(r for r in judge(m, SLO).rules if r.rule == "p95_ms[search]")
    assert rule.passed and rule.measured is None and rule.detail == "no data"


def test_unreadable_invariants_breach_the_overbooking_rule():
    verdict = judge(with_journey(overbooked=None), SLO)
    assert [r.rule for r in verdict.breached] == ["overbooked_max"]
    assert verdict.breached[0].detail == "invariants unreadable"


def test_journey_rules_are_not_judged_when_the_reference_journey_did_not_run():
    verdict = judge(replace(good(), journey=None), SLO)
    assert verdict.passed
    assert [r.rule for r in verdict.rules] == [
        "p95_ms[book]",
        "p95_ms[search]",
        "p99_ms[book]",
        "error_rate_max",
    ]


def test_a_scenario_slo_is_judged_as_loaded():
    from simulations.scenario.scenario import load_scenario

    slo = load_scenario("smoke", ["slo.journey.booking_success_min=0.5"]).slo
    verdict = judge(with_journey(booking_success=0.6), slo)
    rule = next(r for r in verdict.rules if r.rule == "booking_success_min")
    assert rule.passed and rule.target == 0.5
    assert {f"p95_ms[{name}]" for name in slo.p95_ms} <= {r.rule for r in verdict.rules}
