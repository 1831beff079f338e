"""Overload: measure the app's capacity for the booking journey, then drive it open-loop at a
multiple of that, with and without the waiting room, and report what each visitor got.

A journey is a new visitor registering (POST /patients) then booking (POST /appointments). With
the waiting room on, the visitor first joins the queue, waits its announced turn (honouring
`estimated_wait_s`), gets the pass, and only then registers and books. Arrivals are Poisson at a
fixed rate and start on schedule whatever the server does (open model); latencies run from the
intended start, so a slow server cannot hide its backlog (no coordinated omission).

Run the heavy measurement (figures for the README):
    .venv/bin/python -m tests.reliability.overload --db sqlite --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil

from .booking_api import BookingApi, day_at

CLIENT_TIMEOUT_S = 10.0  # a visitor's browser gives up after this (smoke: web_timeout_s)


@dataclass
class Tally:
    """Outcomes of one run; latencies in seconds."""

    arrivals: int = 0
    late_starts: int = 0  # arrivals the generator itself could not start within 50 ms
    booked: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # status or error code -> count
    booking_latency_s: list[float] = field(default_factory=list)
    journey_latency_s: list[float] = field(default_factory=list)
    queue_join_latency_s: list[float] = field(default_factory=list)
    queue_positions: list[int] = field(default_factory=list)
    still_queued: int = 0
    shed_latency_s: list[float] = field(default_factory=list)  # fast 503s without a pass

    def refuse(self, what: str) -> None:
        self.refused[what] = self.refused.get(what, 0) + 1


def _p(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


def summary(tally: Tally, seconds: float, rss_mb: dict[str, float]) -> dict:
    return {
        "arrivals": tally.arrivals,
        "arrival_rate_per_s": round(tally.arrivals / seconds, 1),
        "late_starts": tally.late_starts,
        "booked": tally.booked,
        "booked_per_s": round(tally.booked / seconds, 1),
        "refused": dict(sorted(tally.refused.items())),
        "booking_p50_ms": _p(tally.booking_latency_s, 50),
        "booking_p99_ms": _p(tally.booking_latency_s, 99),
        "journey_p99_ms": _p(tally.journey_latency_s, 99),
        "queue_join_p99_ms": _p(tally.queue_join_latency_s, 99),
        "queue_position_max": max(tally.queue_positions, default=0),
        "still_queued_at_end": tally.still_queued,
        "shed_503_p99_ms": _p(tally.shed_latency_s, 99),
        "app_rss_mb": rss_mb,
    }


class RssSampler:
    """Peak resident memory of the app process and its children (uvicorn workers)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.samples: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float:
        processes = [self.process, *self.process.children(recursive=True)]
        return sum(p.memory_info().rss for p in processes) / 2**20

    def _run(self) -> None:
        while not self.stop.wait(0.25):
            try:
                self.samples.append(self.rss_mb())
            except psutil.Error:
                return

    def __enter__(self) -> RssSampler:
        self.start_mb = self.rss_mb()
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def figures(self) -> dict[str, float]:
        return {"start": round(self.start_mb, 1), "peak": round(max(self.samples or [0]), 1)}


def _patient_body() -> dict:
    return {
        "first_name": "Visitor",
        "last_name": "Surge",
        "birth_date": "1975-03-02",
        "email": f"v{random.getrandbits(64):x}@example.fr",
        "phone": "+33 6 11 22 33 44",
    }


async def _register_and_book(
    http: httpx.AsyncClient, tally: Tally, slot_ids: list[int], headers: dict, started: float
) -> None:
    patient = await http.post("/patients", json=_patient_body())
    if patient.status_code != 201:
        tally.refuse(f"register {patient.status_code}")
        return
    auth = {**headers, "Authorization": f"Bearer {patient.json()['token']}"}
    book_started = time.monotonic()
    response = await http.post(
        "/appointments", json={"slot_id": random.choice(slot_ids)}, headers=auth
    )
    now = time.monotonic()
    tally.booking_latency_s.append(now - book_started)
    if response.status_code == 201:
        tally.booked += 1
        tally.journey_latency_s.append(now - started)
    else:
        tally.refuse(f"book {response.status_code} {response.json().get('error')}")


async def _journey(
    http: httpx.AsyncClient,
    tally: Tally,
    slot_ids: list[int],
    intended: float,
    waiting_room: bool,
    ends_at: float,
    refresher: bool = False,
) -> None:
    try:
        if not waiting_room:
            await _register_and_book(http, tally, slot_ids, {}, intended)
            return
        if refresher:  # a sample of visitors (refreshers) try to book without a pass first
            shed_started = time.monotonic()
            shed = await http.post("/appointments", json={"slot_id": slot_ids[0]})
            tally.shed_latency_s.append(time.monotonic() - shed_started)
            if shed.status_code != 503 or "retry-after" not in shed.headers:
                tally.refuse(f"no pass {shed.status_code}")
        joined = await http.post("/queue")
        tally.queue_join_latency_s.append(time.monotonic() - intended)
        if joined.status_code != 201:
            tally.refuse(f"queue {joined.status_code}")
            return
        ticket = joined.json()
        tally.queue_positions.append(ticket["position"])
        while True:
            wait_s = max(0.0, ticket.get("estimated_wait_s", 0.0))
            if time.monotonic() + wait_s > ends_at:
                tally.still_queued += 1
                return
            await asyncio.sleep(wait_s)
            polled = await http.get(f"/queue/{ticket['ticket']}")
            ticket = {**polled.json(), "ticket": ticket["ticket"]}
            if ticket.get("status") == "admitted":
                break
            if polled.status_code != 200 or ticket.get("status") == "expired":
                tally.refuse(f"poll {polled.status_code} {ticket.get('status')}")
                return
            ticket["estimated_wait_s"] = max(0.2, ticket.get("estimated_wait_s", 0.0))
        header = {ticket["pass_header"]: ticket["pass"]}
        await _register_and_book(http, tally, slot_ids, header, time.monotonic())
    except httpx.TimeoutException:
        tally.refuse("client timeout")
    except httpx.TransportError:
        tally.refuse("connection error")


async def open_loop(
    base_url: str, slot_ids: list[int], rate_per_s: float, duration_s: float, waiting_room: bool
) -> Tally:
    """Poisson arrivals at `rate_per_s` for `duration_s`; waits for journeys in flight (up to
    the client timeout) before returning."""
    tally = Tally()
    rng = np.random.default_rng(12)
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=CLIENT_TIMEOUT_S, limits=limits
    ) as http:
        start = time.monotonic()
        ends_at = start + duration_s
        tasks = []
        intended = start
        while True:
            intended += float(rng.exponential(1.0 / rate_per_s))
            if intended >= ends_at:
                break
            delay = intended - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.05:
                tally.late_starts += 1
            tally.arrivals += 1
            tasks.append(
                asyncio.create_task(
                    _journey(
                        http,
                        tally,
                        slot_ids,
                        intended,
                        waiting_room,
                        ends_at,
                        refresher=tally.arrivals % 10 == 0,
                    )
                )
            )
        await asyncio.gather(*tasks)
    return tally


async def closed_loop(base_url: str, slot_ids: list[int], clients: int, duration_s: float) -> float:
    """Journeys per second that `clients` back-to-back visitors complete: the capacity."""
    tally = Tally()
    async with httpx.AsyncClient(base_url=base_url, timeout=CLIENT_TIMEOUT_S) as http:
        ends_at = time.monotonic() + duration_s

        async def visitor() -> None:
            while time.monotonic() < ends_at:
                await _register_and_book(http, tally, slot_ids, {}, time.monotonic())

        await asyncio.gather(*(visitor() for _ in range(clients)))
    return tally.booked / duration_s


def open_seats(api: BookingApi, slots: int = 400, capacity: int = 100) -> list[int]:
    """Plenty of seats at one centre (dose 2 too), so no visitor is refused for lack of them."""
    with api.client() as http:
        campaign = api.open_campaign(http, dose1_slots=slots, capacity=capacity)
    return [s["id"] for s in campaign.dose1]


def run(
    api: BookingApi,
    pid: int,
    duration_s: float,
    multiple: float = 5.0,
    admission_share: float = 0.6,
    capacity_s: float = 4.0,
) -> dict:
    """Capacity first, then `multiple` x capacity with and without the waiting room."""
    slot_ids = open_seats(api)
    capacity = asyncio.run(closed_loop(api.base_url, slot_ids, clients=8, duration_s=capacity_s))
    rate = multiple * capacity
    admission = max(1.0, admission_share * capacity)
    results: dict = {"capacity_journeys_per_s": round(capacity, 1), "offered_per_s": round(rate, 1)}
    with api.client() as http:
        for label, room in (("waiting_room", True), ("no_waiting_room", False)):
            body = {"enabled": room, "rate_per_s": admission if room else 0.0}
            assert http.put("/admin/waiting-room", json=body, headers=api.admin).status_code == 200
            with RssSampler(pid) as rss:
                tally = asyncio.run(open_loop(api.base_url, slot_ids, rate, duration_s, room))
            results[label] = summary(tally, duration_s, rss.figures())
            if room:
                results[label]["admission_rate_per_s"] = round(admission, 1)
        assert http.get("/healthz").status_code == 200
        results["invariants"] = api.invariants(http)
    return results


def main() -> None:
    from reference_app.launcher import served_app

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", help="sqlite, or a postgresql:// URL")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of overload per run")
    parser.add_argument("--multiple", type=float, default=5.0, help="offered load / capacity")
    parser.add_argument("--out", default="results/bench/overload.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as where:
        url = f"sqlite:///{where}/overload.db" if args.db == "sqlite" else args.db
        with served_app(
            url,
            extra_args=["--rate-limit-token", "0", "--rate-limit-ip", "0"],
            log_path=Path(where) / "app.log",
        ) as app:
            api = BookingApi(app.base_url, app.admin_key)
            results = run(api, app.pid, args.duration, args.multiple)
    results["command"] = (
        f"python -m tests.reliability.overload --db {args.db.split(':')[0]} "
        f"--duration {args.duration:g} --multiple {args.multiple:g}"
    )
    results["dose1_day"] = day_at(1).date().isoformat()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
