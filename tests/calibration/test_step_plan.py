import pytest

from loadtests.calibration import StepPlan


def test_one_pass_keeps_the_given_order():
    assert StepPlan((1, 2, 4, 8), passes=1).schedule() == (1, 2, 4, 8)


def test_three_passes_in_a_seeded_random_order_by_default():
    schedule = StepPlan((1, 2, 4, 8, 16, 32)).schedule()
    assert len(schedule) == 18
    assert schedule == StepPlan((1, 2, 4, 8, 16, 32), passes=3, order_seed=0).schedule()
    assert [schedule[6 * p + 5] for p in range(3)] != [32, 32, 32]  # held-out level not always last


def test_each_pass_runs_every_level_once_in_a_seeded_random_order():
    plan = StepPlan((1, 2, 4, 8, 16), passes=3, order_seed=5)
    schedule = plan.schedule()
    assert len(schedule) == 15
    for p in range(3):
        assert sorted(schedule[5 * p : 5 * p + 5]) == [1, 2, 4, 8, 16]
    assert schedule == StepPlan((1, 2, 4, 8, 16), passes=3, order_seed=5).schedule()
    assert schedule != StepPlan((1, 2, 4, 8, 16), passes=3, order_seed=6).schedule()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"levels": ()}, "positive"),
        ({"levels": (1, 0)}, "positive"),
        ({"levels": (1, 2), "hold_s": 5, "settle_s": 5}, "longer than settle"),
        ({"levels": (1, 2), "passes": 0}, "passes"),
    ],
)
def test_inconsistent_plans_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StepPlan(**kwargs)
