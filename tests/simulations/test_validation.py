import pytest

from simulations.validation import Check, check_level, checks_frame, validate
from simulations.validation.checks import run_cases
from simulations.validation.national_cases import (
    national_cases,
    retry_scenario,
    ticked_room_chain,
    tier_chain,
)


def test_quick_validation_runs_the_shipped_components_and_agrees_with_exact_theory():
    checks = validate(quick=True, replications=10, seed=2021)
    frame = checks_frame(checks)
    failed = frame[~frame["passed"]]
    assert failed.empty, failed.to_string()
    components = set(frame["component"])
    assert components == {"center", "waiting_room", "web_tier", "retry_loop", "slots"}
    identities = frame[frame["kind"] == "identity"]
    assert set(identities["metric"]) == {"littles_law", "utilisation", "lost_visitors"}
    assert (frame["kind"] == "theory").sum() >= 20
    assert (frame["level"] == check_level(len(frame))).all()  # Bonferroni over all checks


def test_retry_loop_check_follows_the_scenario_rules():
    """The exact values come from the scenario's behaviour, so a change in the rules moves them."""
    (retry,) = [c for c in national_cases(200, 600) if c.component == "retry_loop"]
    sc = retry_scenario()
    q = sc.behaviour.retry_share + (1 - sc.behaviour.retry_share) * sc.behaviour.defer_share
    assert retry.exact["retries_per_booker"] == pytest.approx(0.6 * (1 + q + q**2))


def test_markov_chains_of_the_ticked_room_and_the_tier_reduce_to_known_limits():
    # no patience limit to speak of and spare admissions: nobody abandons, nobody waits long
    p_abandon, wait = ticked_room_chain(lam=2.0, budget=8, patience=1e9, dt=1.0)
    assert p_abandon == pytest.approx(0.0, abs=1e-6) and wait < 0.01
    # a tier with ample servers rejects nothing; one far beyond capacity rejects the excess
    assert tier_chain(1.0, 8, 2)[0] == pytest.approx(0.0, abs=1e-9)
    assert tier_chain(40.0, 4, 2)[0] == pytest.approx(1 - 4 / 40, abs=0.01)


def test_cases_run_on_their_own_with_few_replications():
    cases = [c for c in national_cases(200, 600) if c.component in {"slots", "web_tier"}]
    frame = checks_frame(run_cases(cases, replications=3, seed=1))
    assert set(frame["kind"]) == {"theory", "identity"}


def test_bonferroni_level_keeps_the_family_at_95_percent():
    assert check_level(1) == 0.95
    assert check_level(21) == 1 - 0.05 / 21


def test_a_check_fails_when_the_exact_value_is_outside_the_interval_and_not_close():
    assert not Check("m", "x", exact=1.0, mean=1.5, ci_low=1.4, ci_high=1.6).passed
    assert Check("m", "x", exact=1.0, mean=1.01, ci_low=1.005, ci_high=1.015).passed
    assert Check("m", "x", exact=1.0, mean=1.1, ci_low=0.9, ci_high=1.3).passed
