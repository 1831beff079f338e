"""A campaign of many days: carry-over conserves bookers, recalls land in their windows, the
time column is the local date-time, and the day's demand follows waves, weekdays and holidays.

One two-day run of the tiny `smoke-campaign` (60 s ticks) is shared by the tests."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from simulations.national.campaign import simulate_campaign
from simulations.national.campaign_day import day_rates, everyday_rates
from simulations.scenario.scenario import ScenarioError, load_scenario

TWO_DAYS = {"campaign.days": 2, "duration_min": 2880.0, "model.tick_s": 60.0}


@pytest.fixture(scope="module")
def run():
    return simulate_campaign(load_scenario("smoke-campaign", TWO_DAYS), 7)


def test_carry_over_conserves_bookers(run) -> None:
    daily = run.daily
    # per day: everyone who came to book booked, gave up or was carried to the next day
    arrived = daily["bookers"] + daily["carried_in_bookers"]
    assert (arrived == daily["bookings"] + daily["unmet"]).all()
    # and what a day carries out is what the next day receives (nothing dropped at midnight)
    carried = daily["deferred_to_next_day"] + daily["no_show_rebookers_next_day"]
    received = daily["carried_in_bookers"].shift(-1) - daily["recall_bookers"].shift(-1)
    assert (carried.iloc[:-1] == received.iloc[:-1]).all()
    assert daily["carried_in_bookers"].iloc[1] > 0
    assert run.kpis["lost_bookers"] == 0
    assert run.kpis["lost_visitors"] == 0
    assert run.kpis["bookers"] == (
        run.kpis["bookings"] + run.kpis["abandoned"] + run.kpis["deferred_at_end"]
    )


def test_recalls_land_in_their_windows(run) -> None:
    recalls = run.recalls
    assert len(recalls) > 0
    supply = load_scenario("smoke-campaign").supply
    gap = recalls["appointment_day"] - recalls["dose1_day"]
    low = recalls["vaccine"].map(lambda v: supply.dose2_window_days[v][0])
    high = recalls["vaccine"].map(lambda v: supply.dose2_window_days[v][1])
    assert ((gap >= low) & (gap <= high)).all()
    assert (recalls["appointment_day"] - recalls["booking_day"] == 3).all()
    per_day = recalls.groupby("booking_day")["bookers"].sum()
    assert per_day.reindex(range(2), fill_value=0).tolist() == run.daily["recall_bookers"].tolist()
    assert (run.daily["no_shows"] <= run.daily["dose1_appointments"]).all()


def test_time_column_is_the_local_date_time(run) -> None:
    ts = run.timeseries
    assert len(ts) == 2880
    assert ts["minute"].tolist() == list(range(2880))
    expected = pd.Timestamp("2021-07-09T00:00") + pd.to_timedelta(ts["minute"], unit="min")
    assert ts["time"].tolist() == expected.dt.strftime("%Y-%m-%dT%H:%M").tolist()
    assert ts["time"].iloc[1440] == "2021-07-10T00:00"
    assert (ts["cum_bookings"] == ts["bookings"].cumsum()).all()
    assert ts["bookings"].sum() == run.daily["bookings"].sum()
    assert run.daily["date"].tolist() == ["2021-07-09", "2021-07-10"]


def test_slots_are_released_at_noon_and_carried(run) -> None:
    ts = run.timeseries.set_index("time")
    day1 = ts.loc["2021-07-09T00:00":"2021-07-09T23:59"]
    released = run.daily["slots_released"]
    assert released.iloc[0] > 0
    assert released.iloc[1] == pytest.approx(released.iloc[0] / 2, rel=0.15)  # Saturday: half
    # before noon the stock only falls; it rises only between 12:00 and 13:00
    rises = day1["slots_left"].diff() > 0
    assert set(day1.index[rises].str[11:13]) <= {"12"}


def test_day_demand_follows_waves_weekdays_and_holidays() -> None:
    sc = load_scenario("smoke-campaign").model_copy()
    friday_noon, saturday_noon = np.array([720.0]), np.array([1440.0 + 720.0])
    ratio = everyday_rates(sc, saturday_noon)[0] / everyday_rates(sc, friday_noon)[0]
    assert ratio == pytest.approx(0.7)
    holiday = load_scenario("smoke-campaign", {"campaign.holidays": ["2021-07-09"]})
    assert everyday_rates(holiday, friday_noon)[0] == pytest.approx(
        everyday_rates(sc, friday_noon)[0] * 0.5
    )
    assert holiday.campaign.weekday(date(2021, 7, 9)) == 6
    # a wave alone brings its surge, within the days it spans
    only_wave = load_scenario(
        "smoke-campaign",
        {"demand.baseline_per_min": 0.0, "campaign.waves": [sc.campaign.waves[0].model_dump()]},
    )
    wave = only_wave.campaign.waves[0]
    total = sum(np.trapezoid(day_rates(only_wave, d)) for d in range(3))
    # the days after: Saturday (x 0.7), then Sunday (x 0.5) at after_decay_per_day
    after = wave.after_visitors_per_day * (0.7 + 0.5 * wave.after_decay_per_day)
    expected = wave.surge_visitors + after
    assert total == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"duration_min": 1440.0}, "duration_min"),
        ({"demand.surge_visitors": 5.0}, "campaign.waves"),
        ({"campaign.weekday_factor": [1.0, 1.0]}, "weekday_factor"),
        ({"campaign.release_over_min": 1000.0}, "release_over_min"),
    ],
)
def test_bad_campaigns_are_named(overrides, message) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario("smoke-campaign", overrides)


def test_sim_run_on_a_campaign_writes_daily_and_timeseries(tmp_path, capsys) -> None:
    from surge.cli import main

    args = ["sim", "run", "--scenario", "smoke-campaign", "--no-plots", "--out", str(tmp_path)]
    one_day = ["campaign.days=1", "duration_min=1440", "model.tick_s=60"]
    assert main(args + [x for o in one_day for x in ("--set", o)]) == 0
    daily = pd.read_csv(tmp_path / "daily.csv")
    assert daily["date"].tolist() == ["2021-07-09"]
    ts = pd.read_csv(tmp_path / "timeseries.csv")
    assert ts["time"].iloc[-1] == "2021-07-09T23:59"
    assert {"minute", "cum_bookings"} <= set(ts.columns)
    assert "deferred_at_end" in capsys.readouterr().out
    assert main(args + ["--set", "campaign.days=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "campaign.days" in err[0]


def test_an_opening_day_run_refuses_a_campaign(capsys) -> None:
    from simulations.national.opening_day import simulate
    from surge.cli import main

    with pytest.raises(ScenarioError, match="campaign runs day by day"):
        simulate(load_scenario("smoke-campaign"), 1)
    assert main(["sim", "uncertainty", "--scenario", "smoke-campaign", "--samples", "2"]) == 2
    assert "campaign runs day by day" in capsys.readouterr().err
