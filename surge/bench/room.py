"""What the waiting room costs the app, next to what it protects (`surge bench room`).

Serves the app (one SQLite worker, `surge app serve` as a subprocess) and sends each kind of
request in turn, one at a time, measuring the app's CPU time (its process tree, from psutil)
per request: the booking journey's requests (register, search, availability, book, my
appointments) with the room off, then the room's (a 503 without a pass, a join, a poll of a
waiting ticket) with it on, and finally a burst of concurrent joins, which share database
writes. The figure that matters is the ratio of one arrival's cost in the room (503 + join +
poll) to one journey's: at N x capacity the room must cost well under 1/N of a journey, or the
queue itself saturates the app. CPU time, not wall time, so other jobs on a shared machine
distort it less; ratios within one run are what compare.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil

from loadtests.app_launcher import served_app
from surge.bench.record import BenchRecord, new_record

__all__ = ["RoomBenchOptions", "describe", "measure_room_cost", "run"]

JOURNEY = ("register", "search", "availability", "book", "my_appointments")
ROOM = ("no_pass_503", "queue_join", "queue_poll_waiting")


def _cpu_s(pid: int) -> float:
    root = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])


def _per_request_ms(pid: int, count: int, send: Callable[[int], object]) -> float:
    send(0)  # warm this route up
    before = _cpu_s(pid)
    for i in range(count):
        send(i)
    return (_cpu_s(pid) - before) / count * 1000.0


def _campaign(http: httpx.Client, admin: dict, slots: int) -> tuple[int, list[int]]:
    center = http.post(
        "/admin/centers",
        headers=admin,
        json={"name": "Bench", "kind": "vaccination", "postcode": "75011", "vaccines": ["pfizer"]},
    ).json()["id"]
    day = datetime.now(UTC).date() + timedelta(days=1)
    opened = []
    for dose, offset in ((1, 0), (2, 25)):
        start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(days=offset)
        body = {"vaccine": "pfizer", "dose": dose, "start": start.isoformat(), "capacity": 50,
                "count": slots, "interval_minutes": 5}  # fmt: skip
        response = http.post(f"/admin/centers/{center}/slots", headers=admin, json=body)
        response.raise_for_status()
        opened.append([s["id"] for s in response.json()["slots"]])
    return center, opened[0]


def measure_room_cost(requests: int = 300, burst: int = 64) -> dict:
    """Server CPU ms per request of each kind, and the room-to-journey ratio."""
    with tempfile.TemporaryDirectory() as where:
        url = f"sqlite:///{Path(where) / 'room.db'}"
        limits = ["--rate-limit-token", "0", "--rate-limit-ip", "0"]
        with (
            served_app(url, extra_args=limits, log_path=Path(where) / "app.log") as app,
            httpx.Client(base_url=app.base_url, timeout=30.0) as http,
        ):
            admin = {"Authorization": f"Bearer {app.admin_key}"}
            center, slots = _campaign(http, admin, slots=max(requests // 40, 10))
            tokens: list[str] = []

            def register(_i: int) -> None:
                person = {"first_name": "Bench", "last_name": "Visitor",
                          "birth_date": "1970-01-01", "email": f"{uuid.uuid4().hex}@bench.fr",
                          "phone": "+33 6 00 00 00 00"}  # fmt: skip
                tokens.append(http.post("/patients", json=person).json()["token"])

            def auth(i: int) -> dict:
                return {"Authorization": f"Bearer {tokens[i]}"}

            tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
            sends: dict[str, Callable[[int], object]] = {
                "register": register,
                "search": lambda i: http.get("/centers", params={"postcode": "75011"}),
                "availability": lambda i: http.get(
                    f"/centers/{center}/availability",
                    params={"vaccine": "pfizer", "from": tomorrow, "days": 7},
                ),
                "book": lambda i: http.post(
                    "/appointments", json={"slot_id": slots[i % len(slots)]}, headers=auth(i)
                ),
                "my_appointments": lambda i: http.get("/appointments", headers=auth(i)),
            }
            ms = {name: _per_request_ms(app.pid, requests, send) for name, send in sends.items()}
            room = {"enabled": True, "rate_per_s": 0.001}  # nobody gets in during the bench
            http.put("/admin/waiting-room", headers=admin, json=room).raise_for_status()
            time.sleep(1.2)  # every worker's cached view of the room expires
            tickets: list[str] = []
            sends = {
                "no_pass_503": lambda i: http.get("/centers", params={"postcode": "75011"}),
                "queue_join": lambda i: tickets.append(http.post("/queue").json()["ticket"]),
                "queue_poll_waiting": lambda i: http.get(f"/queue/{tickets[-1 - i % 50]}"),
            }
            ms |= {name: _per_request_ms(app.pid, requests, send) for name, send in sends.items()}
            with ThreadPoolExecutor(max_workers=16) as pool:
                before = _cpu_s(app.pid)
                list(pool.map(lambda _i: http.post("/queue"), range(burst * 4)))
                ms["queue_join_concurrent"] = (_cpu_s(app.pid) - before) / (burst * 4) * 1000.0
    journey = sum(ms[k] for k in JOURNEY)
    arrival = sum(ms[k] for k in ROOM)
    return {
        "backend": "sqlite, 1 worker",
        "requests_per_kind": requests,
        "server_cpu_ms": {k: round(v, 3) for k, v in ms.items()},
        "journey_cpu_ms": round(journey, 3),
        "room_arrival_cpu_ms": round(arrival, 3),
        "room_to_journey": round(arrival / journey, 3),
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }


@dataclass(frozen=True)
class RoomBenchOptions:
    requests: int = 300  # per kind of request


def run(options: RoomBenchOptions) -> BenchRecord:
    return new_record("room", options, measure_room_cost(options.requests))


def describe(record: BenchRecord) -> list[str]:
    r = record.figures
    ms = r["server_cpu_ms"]
    lines = [
        f"app CPU per request ({r['backend']}, {r['requests_per_kind']} sequential requests each):"
    ]
    lines += [f"  journey  {name:<24} {ms[name]:6.2f} ms" for name in JOURNEY]
    lines += [f"  room     {name:<24} {ms[name]:6.2f} ms" for name in ROOM]
    lines.append(f"  room     {'queue_join_concurrent':<24} {ms['queue_join_concurrent']:6.2f} ms")
    lines.append(
        f"one journey {r['journey_cpu_ms']:.1f} ms; one arrival in the room "
        f"{r['room_arrival_cpu_ms']:.1f} ms = {r['room_to_journey']:.2f} of a journey "
        f"(load average {r['loadavg_1min']})"
    )
    return lines
