"""One patient's visit on opening evening, over HTTP, as the load tests play it.

Register, search centres near a postcode, read availability (meeting the waiting room on the
way: join the queue, poll it, get a pass), book dose 1 (the server picks dose 2), check the
appointment, sometimes cancel. On a 409 the patient picks another slot, like a person would:
refreshers retry at once (the refresh storm), the others wait and give up after `retry_max`
failures. Every request is named by its route (`queue_join`, `queue_poll`, `search`,
`availability`, `book`, `cancel`, `appointments`, `register`), checked for correctness, and
every booking attempt is counted as success, full or error.

No Locust import: `visit()` takes any Locust HTTP session (FastHttpSession) and a counter sink,
so the closed-model `Patient` and the open-model `PatientArrivals` share it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: journeys run in Locust processes, which need not load pydantic
    from loadtests.shapes.profile import LoadProfile
    from simulations.scenario.scenario import Scenario

from loadtests.errors import LoadTestInputError

__all__ = ["POSTCODES", "PatientBehaviour", "patient_behaviour", "scenario_replay", "visit"]

# Prefecture postcodes of populous departments (the seed spreads centres over departments).
POSTCODES = (
    "75001", "13001", "69001", "31000", "06000", "44000", "67000", "34000",
    "33000", "59000", "35000", "76000", "38000", "21000", "49000", "37000",
)  # fmt: skip
PASS_HEADER = "X-Waiting-Room-Pass"  # noqa: S105 - a header name, not a secret
Count = Callable[[str], None]


@dataclass(frozen=True)
class PatientBehaviour:
    """How patients behave, in wall-clock seconds of the load test (already time-compressed)."""

    refresher_share: float = 0.3
    refresher_retry_max: int = 10
    retry_max: int = 3
    retry_backoff_s: float = 1.0
    center_tries: int = 3
    wr_patience_s: float = 600.0  # mean of an exponential patience
    queue_poll_min_s: float = 0.2
    queue_poll_max_s: float = 2.0
    cancel_share: float = 0.05
    vaccines: tuple[str, ...] = ("pfizer", "moderna")
    slot_pick_among: int = 5
    think_s: float = 0.0
    # Closed model: pause between one visitor's journey and the next user's (uniform low-high);
    # (0, 0) makes back-to-back visitors, the way a capacity run saturates the app.
    journey_pause_s: tuple[float, float] = (0.5, 2.0)

    @classmethod
    def from_json(cls, text: str) -> PatientBehaviour:
        if not text:
            return cls()
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LoadTestInputError(f"unknown patient behaviour key {unknown[0]!r}")
        for key in ("vaccines", "journey_pause_s"):
            if key in data:
                data[key] = tuple(data[key])
        return replace(cls(), **data)

    @classmethod
    def from_scenario(cls, scenario: Scenario, compress: float) -> PatientBehaviour:
        """Behaviour of a scenario, with its times divided by `compress`."""
        b, p = scenario.behaviour, scenario.platform
        vaccines = tuple(scenario.supply.vaccines)  # never empty (Supply checks)
        return cls(
            refresher_share=b.refresher_share,
            retry_max=b.retry_max,
            retry_backoff_s=max(b.retry_backoff_s / compress, 0.05),
            center_tries=b.center_tries,
            wr_patience_s=max(b.wr_patience_mean_min * 60.0 / compress, 1.0),
            queue_poll_max_s=max(min(p.queue_poll_interval_s / compress, 5.0), 0.2),
            vaccines=vaccines,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class _Gone(Exception):
    """The visitor leaves (gave up, or the pass could not be obtained)."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


STALE_CONNECTION = "stale_connection_retry"


def _stale(response) -> bool:
    """The server had closed this pooled keep-alive connection before the request was sent."""
    error = getattr(response, "error", None)
    return error is not None and type(error).__name__ in (
        "HTTPConnectionClosed",
        "ConnectionResetError",
        "BrokenPipeError",
    )


def _call(client, method: str, path: str, name: str, ok: tuple[int, ...], check=None, **kwargs):
    """One checked request: returns (status, json body or None, headers).

    Statuses in `ok` plus the protocol answers (503 waiting_room, 429 rate_limited) are
    correct; anything else, or a body that is not the expected JSON, is a Locust failure.
    `check(body)` may return a failure message for an answer with an ok status.

    A request sent on a pooled connection the server had already closed (its keep-alive
    timeout) is sent again once, as browsers do; the lost attempt is recorded under
    `stale_connection_retry`, not as a failure of the route. (Bookings carry an
    Idempotency-Key, so a retry can never book twice.)
    """
    for attempt in range(2):
        with client.request(method, path, name=name, catch_response=True, **kwargs) as r:
            status = r.status_code or 0
            if status == 0 and attempt == 0 and _stale(r):
                r.request_meta["name"] = STALE_CONNECTION
                r.success()
                continue
            return _judge(r, status, name, ok, check)
    raise AssertionError("unreachable")  # pragma: no cover


def _judge(r, status: int, name: str, ok: tuple[int, ...], check):
    body = None
    try:
        body = r.json() if r.content else None
    except ValueError:
        r.failure(f"{name}: {status} response is not JSON")
        return status, None, r.headers or {}
    code = body.get("error") if isinstance(body, dict) else None
    problem = check(body) if status in ok and check is not None else None
    if problem:
        r.failure(f"{name}: {problem}")
    elif status in ok:
        r.success()
    elif status == 503 and code == "waiting_room":
        r.success()  # the gate said "queue first": a correct answer
    elif status == 429 and code == "rate_limited" or status == 409 and code is not None:
        r.success()
    elif status == 0:
        r.failure(f"{name}: no response ({getattr(r, 'error', None)!r})")
    else:
        r.failure(f"{name}: unexpected {status} {code or ''}".strip())
    return status, body, r.headers or {}


def _retry_after_s(headers, default: float) -> float:
    try:
        return float(headers.get("Retry-After", default))
    except (TypeError, ValueError):
        return default


def _wait_for_pass(client, b: PatientBehaviour, rng: random.Random, record_wait) -> str:
    """Join the queue and poll it until admitted; patience is exponential with mean
    `wr_patience_s` (the scenario's `wr_patience_mean_min`, time-compressed)."""
    patience_s = rng.expovariate(1.0 / b.wr_patience_s)
    joined = time.monotonic()
    status, body, _ = _call(client, "POST", "/queue", "queue_join", (200, 201))
    if status not in (200, 201) or not body or "ticket" not in body:
        raise _Gone("error")
    ticket = body["ticket"]
    delay = _poll_delay_s(body, b)
    while True:
        left_s = patience_s - (time.monotonic() - joined)
        if left_s <= 0:
            raise _Gone("abandoned_queue")
        if delay > left_s:  # the turn comes after the patience runs out: wait, then leave
            time.sleep(left_s)
            raise _Gone("abandoned_queue")
        time.sleep(delay)
        status, body, headers = _call(client, "GET", f"/queue/{ticket}", "queue_poll", (200,))
        if status != 200 or not body:
            delay = _retry_after_s(headers, b.queue_poll_max_s)
            if status >= 500 or status == 404:
                raise _Gone("error")
            continue
        if body.get("status") == "admitted" and body.get("pass"):
            record_wait(time.monotonic() - joined)
            return body["pass"]
        if body.get("status") == "expired":
            return _wait_for_pass(client, b, rng, record_wait)
        delay = _poll_delay_s(body, b)


def _poll_delay_s(body: dict, b: PatientBehaviour) -> float:
    """When to poll next: when the server says (`poll_after_s`, as a waiting-room page does),
    else the estimated wait clamped to the behaviour's poll interval."""
    if body.get("poll_after_s") is not None:
        return max(float(body["poll_after_s"]), b.queue_poll_min_s)
    wait = float(body.get("estimated_wait_s") or 0.0)
    return min(max(wait, b.queue_poll_min_s), b.queue_poll_max_s)


def visit(
    client,
    b: PatientBehaviour,
    rng: random.Random,
    count: Count,
    record_wait: Callable[[float], None],
) -> str:
    """Play one visitor; returns the journey outcome (also counted as `journeys:<outcome>`)."""
    try:
        outcome = _visit(client, b, rng, count, record_wait)
    except _Gone as gone:
        outcome = gone.outcome
    count(f"journeys:{outcome}")
    return outcome


def _visit(client, b: PatientBehaviour, rng: random.Random, count: Count, record_wait) -> str:
    n = rng.randrange(10**12)
    person = {
        "first_name": "Surge",
        "last_name": f"Visitor{n}",
        "birth_date": f"{rng.randint(1940, 2003)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "email": f"v{n}@loadtest.example.org",
        "phone": f"+33 6 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} 00",
    }
    gate: dict[str, str] = {}  # the waiting-room pass, once this visitor has one

    def funnel(method: str, path: str, name: str, ok: tuple[int, ...], **kwargs):
        """A request of the booking funnel: met by the waiting room (503), the visitor queues
        for a pass and sends it again with the pass, as every later request will."""
        headers = kwargs.pop("headers", {})
        while True:
            got = _call(client, method, path, name, ok, headers={**headers, **gate}, **kwargs)
            status, body = got[0], got[1]
            if status != 503 or not isinstance(body, dict) or body.get("error") != "waiting_room":
                return got
            gate[PASS_HEADER] = _wait_for_pass(client, b, rng, record_wait)

    status, body, _ = funnel("POST", "/patients", "register", (201,), json=person)
    if status != 201 or not body or "token" not in body:
        return "error"
    headers = {"Authorization": f"Bearer {body['token']}"}
    refresher = rng.random() < b.refresher_share
    failures_allowed = b.refresher_retry_max if refresher else b.retry_max
    failures = 0
    vaccine = rng.choice(b.vaccines)
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()

    postcode = rng.choice(POSTCODES)
    status, centers, _ = funnel(
        "GET", f"/centers?postcode={postcode}&vaccine={vaccine}&limit=10", "search", (200,)
    )
    if status != 200 or not isinstance(centers, list):
        return "error"
    centers = [c for c in centers if vaccine in c.get("vaccines", [])]
    rng.shuffle(centers)
    for center in centers[: b.center_tries]:
        while True:
            path = (
                f"/centers/{center['id']}/availability?vaccine={vaccine}&dose=1"
                f"&from={tomorrow}&days=7"
            )
            status, slots, got = funnel("GET", path, "availability", (200,), headers=headers)
            if status == 429:
                time.sleep(_retry_after_s(got, 1.0))
                continue
            break
        if status != 200 or not isinstance(slots, list):
            return "error"
        open_slots = [s for s in slots if s.get("remaining", 0) > 0]
        while open_slots:
            slot = open_slots.pop(rng.randrange(min(b.slot_pick_among, len(open_slots))))
            status, booked, got = _call(
                client,
                "POST",
                "/appointments",
                "book",
                (201,),
                json={"slot_id": slot["id"]},
                headers={**headers, **gate, "Idempotency-Key": f"v{n}-{slot['id']}"},
            )
            if status == 201 and booked and booked.get("dose1"):
                count("bookings:success")
                return _after_booking(client, b, rng, headers, booked["id"])
            code = booked.get("error") if isinstance(booked, dict) else None
            if status == 503 and code == "waiting_room":  # the pass expired: queue again
                gate[PASS_HEADER] = _wait_for_pass(client, b, rng, record_wait)
                open_slots.append(slot)
                continue
            if status == 429:
                count("bookings:rate_limited")
                time.sleep(_retry_after_s(got, 1.0))
                open_slots.append(slot)
                continue
            if status == 409 and code in ("slot_full", "slot_in_past"):
                count("bookings:full")
            elif status == 409 and code == "no_dose2_slot":
                count("bookings:full")
                break  # this centre cannot give a second dose: try another one
            else:
                count("bookings:error")
            failures += 1
            if failures > failures_allowed:
                return "gave_up"
            if not refresher:
                time.sleep(b.retry_backoff_s)
    return "no_slot" if failures == 0 else "gave_up"


def _after_booking(client, b: PatientBehaviour, rng: random.Random, headers, appointment_id):
    if b.think_s:
        time.sleep(b.think_s)

    def lists_it(mine) -> str | None:
        if isinstance(mine, list) and any(a.get("id") == appointment_id for a in mine):
            return None
        return f"appointment {appointment_id} confirmed but not listed"

    status, mine, _ = _call(
        client, "GET", "/appointments", "appointments", (200,), check=lists_it, headers=headers
    )
    if status != 200 or lists_it(mine):
        return "error"
    if rng.random() < b.cancel_share:
        status, _, _ = _call(
            client, "DELETE", f"/appointments/{appointment_id}", "cancel", (200,), headers=headers
        )
        return "booked_then_cancelled" if status == 200 else "error"
    return "booked"


def patient_behaviour(environment) -> PatientBehaviour:
    """The behaviour `surge loadtest run` passed to Locust (`--patient-behaviour`), or the
    defaults under plain `locust -f`."""
    options = environment.parsed_options
    return PatientBehaviour.from_json(options.patient_behaviour if options else "")


def scenario_replay(
    ref: str, scale: float, compress: float
) -> tuple[LoadProfile, PatientBehaviour]:
    """The arrival curve and patient behaviour of a scenario, as `surge loadtest run` plays it
    (for `locust -f ... --scenario NAME` without Surge's CLI)."""
    from loadtests.shapes.profile import replay
    from simulations.scenario.arrivals import arrival_rate_per_min
    from simulations.scenario.scenario import load_scenario

    scenario = load_scenario(ref).scaled()
    profile = replay(
        lambda t_min: arrival_rate_per_min(scenario.demand, t_min, scenario.clock_start_min),
        scenario.duration_min,
        scale,
        compress,
    )
    return profile, PatientBehaviour.from_scenario(scenario, compress)
