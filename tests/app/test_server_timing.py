"""`surge app serve --server-timing`: a real served app answers real requests with disjoint
Server-Timing components that never exceed the response time the client measured; /metrics has
their per-route histograms; without the flag no timing leaves the app."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from loadtests.app_launcher import fresh_keys, seed_app, served_app
from loadtests.scrape import parse_exposition

pytestmark = pytest.mark.slow

NO_LIMITS = ["--rate-limit-ip", "0", "--rate-limit-token", "0"]
COMPONENT = re.compile(r"^(\w+);dur=([0-9.]+)$")


def _components(response: httpx.Response) -> dict[str, float]:
    parts = [p.strip() for p in response.headers["server-timing"].split(",")]
    found = {}
    for part in parts:
        match = COMPONENT.match(part)
        assert match, part
        found[match.group(1)] = float(match.group(2))
    return found


def _timed(client: httpx.Client, method: str, url: str, **kwargs) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.request(method, url, **kwargs)
    return response, (time.perf_counter() - started) * 1000


def _journey(base_url: str) -> list[tuple[str, httpx.Response, float]]:
    """Register, search, availability, book, cancel: (route, response, client ms) each."""
    seen = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        n = time.perf_counter_ns()
        body = {"first_name": "T", "last_name": f"P{n}", "birth_date": "1970-01-01",
                "email": f"t{n}@example.org", "phone": "+33 1 23 45 67 89"}  # fmt: skip
        r, ms = _timed(client, "POST", "/patients", json=body)
        seen.append(("register", r, ms))
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        r, ms = _timed(client, "GET", "/centers?postcode=75001&limit=10")
        seen.append(("search", r, ms))
        center = next(c for c in r.json() if c["kind"] == "vaccination" and c["vaccines"])
        tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
        r, ms = _timed(
            client, "GET",
            f"/centers/{center['id']}/availability?vaccine={center['vaccines'][0]}&dose=1&days=3"
            f"&from={tomorrow}",
        )  # fmt: skip
        seen.append(("availability", r, ms))
        slot = r.json()[0]["id"]
        r, ms = _timed(client, "POST", "/appointments", json={"slot_id": slot}, headers=auth)
        seen.append(("book", r, ms))
        if r.status_code == 201:
            r, ms = _timed(client, "DELETE", f"/appointments/{r.json()['id']}", headers=auth)
            seen.append(("cancel", r, ms))
        r, ms = _timed(client, "GET", "/healthz")
        seen.append(("healthz", r, ms))
    return seen


KEYS = fresh_keys()  # one keyring for the module: patients indexed by one run stay readable


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    directory: Path = tmp_path_factory.mktemp("server-timing")
    url = f"sqlite:///{directory / 'app.db'}"
    seed_app(url, directory / "seed.log", centers=4, days=3)
    return url


def test_components_are_disjoint_and_within_the_client_response_time(database: str) -> None:
    with served_app(
        database, extra_args=["--server-timing", *NO_LIMITS], admin_key=KEYS[0], data_key=KEYS[1]
    ) as app:
        seen = _journey(app.base_url)
        with ThreadPoolExecutor(8) as pool:  # concurrent journeys: connections are waited for
            for more in pool.map(_journey, [app.base_url] * 8):
                seen += more
        metrics = httpx.get(app.base_url + "/metrics", timeout=10).text
    assert {route for route, _, _ in seen} >= {"register", "search", "availability", "book"}
    for route, response, client_ms in seen:
        assert response.status_code < 500, (route, response.text)
        t = _components(response)
        assert set(t) == {"pool", "db", "app"}, route
        assert min(t.values()) >= 0
        # pool and db are disjoint intervals inside app, which is inside the client's time
        assert t["pool"] + t["db"] <= t["app"] + 0.002, (route, t)
        assert t["app"] <= client_ms, (route, t, client_ms)
        assert t["db"] > 0, (route, t)  # every one of these routes runs statements
    counts = {
        json.loads(labels)["component"]: value
        for name, labels, value in parse_exposition(metrics)
        if name == "surge_server_timing_seconds_count"
        and json.loads(labels)["route"] == "/appointments"
        and json.loads(labels)["method"] == "POST"
    }
    assert set(counts) == {"pool", "db", "app"}
    assert min(counts.values()) >= 9  # one booking per journey


def test_no_server_timing_without_the_flag(database: str) -> None:
    with served_app(database, extra_args=NO_LIMITS, admin_key=KEYS[0], data_key=KEYS[1]) as app:
        seen = _journey(app.base_url)
        metrics = httpx.get(app.base_url + "/metrics", timeout=10).text
    assert all("server-timing" not in response.headers for _, response, _ in seen)
    assert "surge_server_timing_seconds" not in metrics
