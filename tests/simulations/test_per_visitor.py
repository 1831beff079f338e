import numpy as np
import pandas as pd

from simulations.national.crosscheck import KPIS, agreement, crosscheck, scaled_down
from simulations.national.request_tier import RequestQueue
from simulations.scenario.scenario import load_scenario
from surge.cli import main

# smoke, 30 min, 40,000 visitors at 1:1 and centres that sell out, run at 1:10: 4,000 visitors
# queueing for minutes, 20 centres, retries after "slot taken" (no holds) and deferrals.
SMALL = [
    "duration_min=30",
    "demand.surge_visitors=40000",
    "supply.centers=200",
    "supply.slots_per_center_per_day=10",
    "supply.popularity_cv=0.3",
    "supply.center_size_cv=0.2",
    "supply.hold_slots_per_session=0",
]


def test_count_model_and_per_visitor_model_agree_at_1_to_10():
    runs, table = crosscheck(load_scenario("smoke", SMALL), 10, replications=6, seed=7)
    assert list(table["kpi"]) == list(KPIS)
    assert table["agrees"].all(), table.to_string()
    # not agreement by emptiness: the queue forms, centres sell out, people give up
    pv = runs[runs["model"] == "per_visitor"]
    assert (pv["wr_wait_peak_min"] > 3).all()
    assert pv["sellout_min"].notna().all()
    assert (pv["abandonment"] > 0.1).all()


def test_scaling_divides_visitors_capacities_and_centres_by_n():
    sc = load_scenario("smoke")
    small = scaled_down(sc, 100)
    assert small.scale == 1.0
    assert small.demand.surge_visitors == sc.demand.surge_visitors / 100
    assert small.platform.admission_rate_per_s == sc.platform.admission_rate_per_s / 100
    assert small.supply.centers == max(1, round(sc.supply.centers / 100))
    assert small.supply.slots_per_center_per_day == sc.supply.slots_per_center_per_day
    assert small.behaviour == sc.behaviour


def test_agreement_flags_a_shifted_kpi_and_a_sell_out_that_only_one_model_reaches():
    rng = np.random.default_rng(1)
    count = {k: rng.normal(100, 1, 8) for k in KPIS}
    shifted = {k: rng.normal(100, 1, 8) for k in KPIS}
    shifted["abandonment"] = shifted["abandonment"] + 10
    count["sellout_min"] = np.full(8, np.nan)
    runs = pd.concat(
        [
            pd.DataFrame(count).assign(model="count"),
            pd.DataFrame(shifted).assign(model="per_visitor"),
        ]
    )
    verdict = agreement(runs).set_index("kpi")["agrees"]
    assert not verdict["abandonment"]
    assert not verdict["sellout_min"]
    assert verdict["bookings"]


def test_request_queue_is_fifo_over_servers_and_rejects_beyond_the_timeout():
    tier = RequestQueue(servers=2, timeout_s=1.5)
    assert tier.submit(0.0, 1.0) == 0.0
    assert tier.submit(0.0, 1.0) == 0.0
    assert tier.submit(0.0, 1.0) == 1.0  # waits for the first server
    assert tier.submit(0.0, 1.0) == 1.0
    assert tier.submit(0.0, 1.0) is None  # would wait 2 s > 1.5 s
    assert (tier.offered, tier.rejected, tier.busy_s) == (5, 1, 4.0)


def test_crosscheck_cli_refuses_a_scale_above_one(capsys):
    assert main(["sim", "crosscheck", "--scenario", "smoke", "--scale", "100"]) == 2
    assert "--scale" in capsys.readouterr().err
