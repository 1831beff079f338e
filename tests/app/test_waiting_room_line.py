"""The waiting room's numbered line: exact admission spacing, no banked credit, rate changes that
keep everyone's place, signed tickets and passes, joins batched into one UPDATE, server-paced
polls. On both backends, against the module and through the app."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine
from support.booking_api import ADMIN, TestClient
from support.metrics import metric

from reference_app import room_line, room_tickets, waiting_room
from reference_app.database import init_db, make_engine, reading

KEY = b"k" * 32


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url, pool_size=4)
    init_db(engine)
    yield engine
    engine.dispose()


def _admit_at(engine: Engine, ticket: str) -> float:
    number = room_tickets.ticket_number(ticket, KEY)
    assert number is not None
    with reading(engine) as conn:
        return room_line.read_state(conn).admit_at(number)


def test_tickets_are_spaced_exactly_one_over_the_rate_from_now(engine: Engine) -> None:
    room_line.configure(engine, True, 4.0, now_s=1000.0)
    tickets = [waiting_room.join(engine, KEY, now_s=1000.0 + i * 0.01) for i in range(6)]
    admits = [_admit_at(engine, t["ticket"]) for t in tickets]
    assert admits[0] == pytest.approx(1000.0)  # an empty line admits the first at once
    assert [b - a for a, b in zip(admits, admits[1:], strict=False)] == pytest.approx([0.25] * 5)
    assert [t["position"] for t in tickets] == sorted(t["position"] for t in tickets)
    assert tickets[0]["status"] == "admitted" and tickets[-1]["status"] == "waiting"
    with reading(engine) as conn:
        assert room_line.queue_length(conn, 1000.06) == 5


def test_an_idle_line_banks_no_admission_credit(engine: Engine) -> None:
    room_line.configure(engine, True, 2.0, now_s=0.0)
    waiting_room.join(engine, KEY, now_s=1.0)
    # 100 s later, a burst of 4: admitted one per 0.5 s from the burst, not all at once.
    burst = [waiting_room.join(engine, KEY, now_s=101.0) for _ in range(4)]
    assert [_admit_at(engine, t["ticket"]) for t in burst] == pytest.approx(
        [101.0, 101.5, 102.0, 102.5]
    )


def test_a_rate_change_keeps_every_place_and_applies_from_now(engine: Engine) -> None:
    room_line.configure(engine, True, 1.0, now_s=0.0)
    tickets = [waiting_room.join(engine, KEY, now_s=0.0)["ticket"] for _ in range(10)]
    room_line.configure(engine, True, 10.0, now_s=2.0)  # at t=2, ticket 2 is being served
    admits = [_admit_at(engine, t) for t in tickets]
    assert admits == sorted(admits)
    assert admits[2] == pytest.approx(2.0) and admits[9] == pytest.approx(2.7)
    room_line.configure(engine, False, 0.0, now_s=3.0)  # off: everyone is in
    with reading(engine) as conn:
        assert room_line.queue_length(conn, 3.0) == 0


def test_tickets_and_passes_are_signed(engine: Engine) -> None:
    room_line.configure(engine, True, 100.0, now_s=0.0)
    ticket = waiting_room.join(engine, KEY, now_s=0.0)["ticket"]
    number = room_tickets.ticket_number(ticket, KEY)
    assert number is not None
    forged = ticket.replace(f"wt_{number}.", f"wt_{number + 1}.")
    assert room_tickets.ticket_number(forged, KEY) is None
    assert room_tickets.ticket_number(ticket, b"x" * 32) is None
    assert room_tickets.ticket_number("wt_" + "9" * 500, KEY) is None
    pass_token = room_tickets.pass_for(number, 60.0, KEY)
    assert room_tickets.pass_is_valid(pass_token, KEY, 59.0)
    assert not room_tickets.pass_is_valid(pass_token, KEY, 60.0)  # expired
    longer = pass_token.replace(".60000.", ".99999999.")
    assert not room_tickets.pass_is_valid(longer, KEY, 59.0)  # a longer life is a forgery
    assert not room_tickets.pass_is_valid("wp_1.2.3", KEY, 0.0)


def test_joins_that_arrive_together_share_one_update(engine: Engine) -> None:
    room_line.configure(engine, True, 5.0)
    batcher = room_line.JoinBatcher(engine)
    calls = []
    real = room_line.take_numbers

    def counted(*args: object) -> object:
        calls.append(args[1])
        return real(*args)

    async def burst() -> list[tuple]:
        return await asyncio.gather(*(batcher.take() for _ in range(50)))

    room_line.take_numbers = counted  # count the UPDATEs (the real function still runs)
    try:
        taken = asyncio.run(burst())
    finally:
        room_line.take_numbers = real
    numbers = [t[0] for t in taken]
    assert sorted(numbers) == list(range(min(numbers), min(numbers) + 50))  # unique, no gaps
    assert sum(calls) == 50 and len(calls) < 50
    with reading(engine) as conn:
        assert room_line.read_state(conn).next_number == max(numbers) + 1


def test_polls_are_paced_by_the_server_and_admins_go_through(client: TestClient) -> None:
    body = {"enabled": True, "rate_per_s": 0.01}  # one admission per 100 s
    assert client.put("/admin/waiting-room", headers=ADMIN, json=body).status_code == 200
    first = client.post("/queue").json()
    second = client.post("/queue").json()
    assert first["status"] == "admitted" and first["poll_after_s"] == 0
    assert second["status"] == "waiting"
    assert 0 < second["poll_after_s"] <= waiting_room.POLL_MAX_S
    polled = client.get(f"/queue/{second['ticket']}").json()
    assert polled["status"] == "waiting" and polled["position"] == 1
    tampered = second["ticket"][:-1] + ("0" if second["ticket"][-1] != "0" else "1")
    assert client.get(f"/queue/{tampered}").status_code == 404
    assert client.get("/queue/wt_1.abc.def").status_code == 404
    assert client.get("/centers", params={"postcode": "75011"}).status_code == 503
    assert client.get("/centers", params={"postcode": "75011"}, headers=ADMIN).status_code == 200
    assert client.get("/admin/waiting-room", headers=ADMIN).json()["queued"] == 1


def test_the_edge_answers_queue_requests_and_counts_them_in_the_metrics(client: TestClient) -> None:
    body = {"enabled": True, "rate_per_s": 0.01}
    assert client.put("/admin/waiting-room", headers=ADMIN, json=body).status_code == 200
    for _ in range(3):
        assert client.post("/appointments", json={"slot_id": 1}).status_code == 503
    ticket = client.post("/queue").json()["ticket"]
    assert client.get(f"/queue/{ticket}").status_code == 200
    assert client.get("/queue/a/b").status_code == 404  # not a ticket path: the app's 404
    assert client.get("/queue").status_code == 405
    metrics = client.get("/metrics").text
    counted = "surge_http_requests_total"
    assert metric(metrics, counted, method="POST", route="/queue", status="201") == 1
    assert metric(metrics, counted, method="GET", route="/queue/{ticket}", status="200") == 1
    assert metric(metrics, counted, method="POST", route="/appointments", status="503") == 3
