"""The soak's supply keeper (`loadtests.supply.Replenisher`) against a served app: a sold-out
slot is opened again at the front of the patients' window, with a dose 2 every dose 1 of the
window can take, so the next patient books exactly as the first did."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
from support.booking_api import api_for, day_at

from loadtests.supply import Replenisher


def test_a_sold_out_slot_is_opened_again_at_the_front_with_its_dose_2(
    tmp_path: Path, serve
) -> None:
    with (
        serve(f"sqlite:///{tmp_path / 'surge.db'}") as app,
        httpx.Client(base_url=app.base_url, timeout=30) as http,
    ):
        api = api_for(app)
        center = api.make_center(http, ["pfizer"], postcode="75011")
        api.open_slots(http, center, "pfizer", 1, day_at(1, 9), capacity=2, count=3)
        api.open_slots(http, center, "pfizer", 2, day_at(1 + 21, 9), capacity=4, count=3)
        keeper = Replenisher(app.base_url, app.admin_key, ["pfizer"], tmp_path / "supply.csv",
                             postcodes=["75001"])  # fmt: skip
        pairs = keeper.pairs(http)
        assert pairs == [(center, "pfizer")]
        min_days = keeper.windows(http)
        assert min_days["pfizer"] == 21 and min_days["janssen"] is None
        out = io.StringIO()
        writer = csv.writer(out)
        keeper.round(http, pairs, min_days, writer)  # records 3 open slots as the level

        def front() -> list[dict]:
            params = {"vaccine": "pfizer", "dose": 1, "from": day_at(1).date().isoformat(),
                      "days": 7}  # fmt: skip
            r = http.get(f"/centers/{center}/availability", params=params, headers=api.admin)
            return r.json()

        first = front()[0]
        for _ in range(2):  # two patients sell the first slot out
            patient = api.new_patient(http)
            r = http.post("/appointments", headers=patient.headers, json={"slot_id": first["id"]})
            assert r.status_code == 201, r.text
        assert len(front()) == 2

        keeper.round(http, pairs, min_days, writer)
        slots = front()
        assert len(slots) == 3 and keeper.opened == 1
        assert slots[0]["start"].startswith(f"{day_at(1).date().isoformat()}T07:00")
        assert slots[0]["remaining"] == 2  # the capacity of the slots it replaces
        day2 = day_at(1 + 7 + 21).date().isoformat()  # after every dose 1 of the 7 days + 21
        params = {"vaccine": "pfizer", "dose": 2, "from": day2, "days": 1}
        dose2 = http.get(f"/centers/{center}/availability", params=params, headers=api.admin)
        assert [(s["start"][:16], s["remaining"]) for s in dose2.json()] == [(f"{day2}T07:00", 2)]
        # The next patient books the new front slot, and gets a dose 2 in the window.
        patient = api.new_patient(http)
        r = http.post("/appointments", headers=patient.headers, json={"slot_id": slots[0]["id"]})
        assert r.status_code == 201, r.text
        rows = list(csv.reader(io.StringIO(out.getvalue())))
        assert [(r[0], r[4], r[6]) for r in rows] == [("0", "3", "0"), ("1", "2", "1")]
        assert api.invariants(http)["overbooked_slots"] == 0
