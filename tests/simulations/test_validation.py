from simulations.validation import Check, check_level, checks_frame, validate


def test_quick_validation_agrees_with_exact_theory():
    checks = validate(quick=True, replications=10, seed=2021)
    frame = checks_frame(checks)
    failed = frame[~frame["passed"]]
    assert failed.empty, failed.to_string()
    models = " ".join(frame["model"])
    for name in ("mmc", "erlang_a_waiting_room", "erlang_a_resource", "mmck", "retrial"):
        assert name in models
    assert (frame["metric"] == "littles_law").sum() == frame["model"].nunique()
    assert (frame["level"] == check_level(len(frame))).all()  # Bonferroni over all checks


def test_bonferroni_level_keeps_the_family_at_95_percent():
    assert check_level(1) == 0.95
    assert check_level(21) == 1 - 0.05 / 21


def test_a_check_fails_when_the_exact_value_is_outside_the_interval_and_not_close():
    assert not Check("m", "x", exact=1.0, mean=1.5, ci_low=1.4, ci_high=1.6).passed
    assert Check("m", "x", exact=1.0, mean=1.01, ci_low=1.005, ci_high=1.015).passed
    assert Check("m", "x", exact=1.0, mean=1.1, ci_low=0.9, ci_high=1.3).passed
