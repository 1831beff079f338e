"""Property test of the booking rules: any interleaving of books and cancels (hypothesis
stateful testing against the app built by its factory on a real database) keeps capacity, the
dose-2 windows and one booking per dose true, matching a plain model of seats."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from support.booking_api import DOSE2_OFFSET_DAYS, BookingApi, broken, day_at

from reference_app.app import create_app
from reference_app.identity import generate_data_key
from reference_app.settings import Settings

with warnings.catch_warnings():
    # Starlette's TestClient warns at import that it prefers `httpx2`; httpx works fine.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.reliability

ADMIN_KEY = "reliability-admin-key-0123456789"
PATIENTS = 4
# Runs of 10 steps; each step costs ~5 requests. SURGE_RULES_EXAMPLES asks for a deeper run.
EXAMPLES = {
    "sqlite": int(os.environ.get("SURGE_RULES_EXAMPLES", "12")),
    "postgresql": int(os.environ.get("SURGE_RULES_EXAMPLES", "6")),
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    def build(url: str) -> TestClient:
        return TestClient(
            create_app(
                Settings(
                    database_url=url.replace("postgresql://", "postgresql+psycopg://", 1),
                    admin_key=ADMIN_KEY,
                    data_keys=generate_data_key(),
                    rate_limit_token_per_min=0,
                    rate_limit_ip_per_min=0,
                    waiting_room_cache_s=0.0,
                )
            )
        )

    if request.param == "sqlite":
        with build(f"sqlite:///{tmp_path / 'rules.db'}") as test_client:
            yield test_client
        return
    fresh = request.getfixturevalue("fresh_postgres_database")
    with (
        fresh(request.getfixturevalue("postgres_url")) as url,
        build(url) as test_client,
    ):
        yield test_client


def machine_for(client: TestClient) -> type[RuleBasedStateMachine]:
    api = BookingApi("", ADMIN_KEY)

    class Bookings(RuleBasedStateMachine):
        """One fresh centre per run: Pfizer dose-1 slots, dose-2 slots inside the 21-49 day
        window, one too early and one too late, and single-dose Janssen slots."""

        def __init__(self) -> None:
            super().__init__()
            http = client
            self.center = api.make_center(http, ["pfizer", "janssen"])
            opened = [
                api.open_slots(http, self.center, "pfizer", 1, day_at(1), 2, 3),
                api.open_slots(http, self.center, "pfizer", 2, day_at(1 + DOSE2_OFFSET_DAYS), 2, 2),
                api.open_slots(http, self.center, "pfizer", 2, day_at(1 + 10), 3, 1),
                api.open_slots(http, self.center, "pfizer", 2, day_at(1 + 60), 3, 1),
                api.open_slots(http, self.center, "janssen", 1, day_at(2), 1, 2),
            ]
            self.dose1, self.window, early, late, self.janssen = (
                [s["id"] for s in series] for series in opened
            )
            self.outside = early + late
            self.remaining = {s["id"]: s["capacity"] for series in opened for s in series}
            self.patients = [api.new_patient(http) for _ in range(PATIENTS)]
            self.held: dict[int, dict] = {}  # patient index -> active appointment

        def _earliest_dose2(self) -> int | None:
            return next((s for s in self.window if self.remaining[s] > 0), None)

        @rule(
            who=st.integers(0, PATIENTS - 1),
            which=st.integers(0, 4),
            second=st.sampled_from(["auto", "window0", "window1", "early", "late"]),
        )
        def book(self, who: int, which: int, second: str) -> None:
            slot = (self.dose1 + self.janssen)[which]
            single = slot in self.janssen
            body: dict = {"slot_id": slot}
            chosen = {
                "window0": self.window[0],
                "window1": self.window[1],
                "early": self.outside[0],
                "late": self.outside[1],
            }.get(second)
            if chosen is not None:
                body["second_slot_id"] = chosen
            response = client.post("/appointments", json=body, headers=self.patients[who].headers)
            if who in self.held:
                expected = (409, "dose_already_booked")
            elif self.remaining[slot] == 0:
                expected = (409, "slot_full")
            elif single:
                expected = (422, "single_dose_vaccine") if chosen else (201, None)
            elif chosen in self.outside:
                expected = (409, "dose2_out_of_window")
            elif chosen is not None and self.remaining[chosen] == 0:
                expected = (409, "slot_full")
            elif chosen is None and self._earliest_dose2() is None:
                expected = (409, "no_dose2_slot")
            else:
                expected = (201, None)
            got = (response.status_code, response.json().get("error") if response.status_code != 201 else None)  # fmt: skip
            assert got == expected, (body, response.text)
            if response.status_code != 201:
                return
            appointment = response.json()
            dose2 = appointment["dose2"]["slot_id"] if appointment["dose2"] else None
            if not single:
                assert dose2 == (chosen or self._earliest_dose2())
            else:
                assert dose2 is None
            self.remaining[slot] -= 1
            if dose2 is not None:
                self.remaining[dose2] -= 1
            self.held[who] = {"id": appointment["id"], "slots": [slot, dose2]}

        @rule(who=st.integers(0, PATIENTS - 1), owner=st.integers(0, PATIENTS - 1))
        def cancel(self, who: int, owner: int) -> None:
            if owner not in self.held:
                return
            appointment = self.held[owner]
            response = client.delete(
                f"/appointments/{appointment['id']}", headers=self.patients[who].headers
            )
            if who != owner:
                assert response.status_code == 404, response.text
                return
            assert response.status_code == 200, response.text
            for slot in appointment["slots"]:
                if slot is not None:
                    self.remaining[slot] += 1
            del self.held[owner]

        @invariant()
        def seats_match_the_model_and_rules_hold(self) -> None:
            seen = (
                api.availability(client, self.center, 1)
                | api.availability(client, self.center, 2, days_ahead=1)  # early and window
                | api.availability(client, self.center, 2, days_ahead=40)  # late
            )
            for slot in self.dose1 + self.window + self.outside:
                assert seen.get(slot, 0) == self.remaining[slot], slot
            assert broken(api.invariants(client)) == {}

    return Bookings


def test_any_interleaving_of_books_and_cancels_keeps_the_booking_rules(client: TestClient) -> None:
    run_state_machine_as_test(
        machine_for(client),
        settings=settings(
            max_examples=EXAMPLES[client.app.state.ctx.engine.dialect.name],
            stateful_step_count=10,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
