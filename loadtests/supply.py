"""Supply kept level during a soak: the seats patients book are opened again, over HTTP.

A soak must make its late requests do the same work as its early ones; left alone, patients
sell the earliest slots out and availability answers shrink. The `Replenisher` (a thread of
the run, talking to the app with its admin key, like any centre manager) finds the centres the
patients reach (the reference journey's postcode searches, per vaccine), records each pair's
open dose-1 slots over the journey's 7-day window at the first round, and every `interval_s`
opens what was sold since: new dose-1 slots at the front of the window (the ones patients pick)
and, for two-dose vaccines, as many dose-2 seats where every dose 1 of the window can take them.
Each round is one row per pair in `supply.csv`: open slots and seats before, slots opened.
"""

from __future__ import annotations

import csv
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from loadtests.journeys.patient import POSTCODES

__all__ = ["COLUMNS", "Replenisher"]

log = logging.getLogger("surge.loadtest")
COLUMNS = ("round", "epoch_s", "center_id", "vaccine", "open_slots", "open_seats", "slots_opened")
WINDOW_DAYS = 7  # the reference journey reads availability from tomorrow over 7 days
OPEN_AT = "07:00:00"  # before any seeded slot of the day: the front of the list


class Replenisher(threading.Thread):
    """Keeps each reachable (centre, vaccine)'s open dose-1 slots at their first-round count."""

    def __init__(
        self,
        base_url: str,
        admin_key: str,
        vaccines: Sequence[str],
        path: Path,
        *,
        interval_s: float = 10.0,
        postcodes: Sequence[str] = POSTCODES,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        super().__init__(daemon=True, name="surge-supply")
        self.base_url, self.path = base_url.rstrip("/"), path
        self.headers = {"Authorization": f"Bearer {admin_key}"}
        self.vaccines, self.postcodes = tuple(vaccines), tuple(postcodes)
        self.interval_s, self.today = interval_s, today
        self.stopped = threading.Event()
        self.targets: dict[tuple[int, str], int] = {}
        self.rounds = 0
        self.opened = 0

    def pairs(self, client: httpx.Client) -> list[tuple[int, str]]:
        found: set[tuple[int, str]] = set()
        for postcode in self.postcodes:
            for vaccine in self.vaccines:
                r = client.get(
                    f"{self.base_url}/centers",
                    params={"postcode": postcode, "vaccine": vaccine, "limit": 10},
                    headers=self.headers,
                )
                r.raise_for_status()
                found |= {(c["id"], vaccine) for c in r.json() if vaccine in c["vaccines"]}
        return sorted(found)

    def windows(self, client: httpx.Client) -> dict[str, int | None]:
        """Each vaccine's dose-2 minimum delay in days (None: one dose)."""
        r = client.get(f"{self.base_url}/vaccines")
        r.raise_for_status()
        return {v["code"]: v["min_days"] if v["doses"] == 2 else None for v in r.json()}

    def _open(self, client: httpx.Client, center: int, vaccine: str, dose: int,
              day: date, capacity: int, count: int) -> int:  # fmt: skip
        """Open `count` slots of `capacity` from `day` at OPEN_AT; returns the slots opened."""
        r = client.post(
            f"{self.base_url}/admin/centers/{center}/slots",
            json={
                "vaccine": vaccine,
                "dose": dose,
                "start": f"{day.isoformat()}T{OPEN_AT}",
                "capacity": capacity,
                "count": count,
                "interval_minutes": 1,
            },  # fmt: skip
            headers=self.headers,
        )
        r.raise_for_status()
        return len(r.json()["slots"])

    def round(self, client: httpx.Client, pairs: list[tuple[int, str]],
              min_days: dict[str, int | None], writer: csv.writer) -> None:  # fmt: skip
        tomorrow = self.today() + timedelta(days=1)
        for center, vaccine in pairs:
            r = client.get(
                f"{self.base_url}/centers/{center}/availability",
                params={
                    "vaccine": vaccine,
                    "dose": 1,
                    "from": tomorrow.isoformat(),
                    "days": WINDOW_DAYS,
                },  # fmt: skip
                headers=self.headers,
            )
            r.raise_for_status()
            slots = r.json()
            seats = sum(s["remaining"] for s in slots)
            target = self.targets.setdefault((center, vaccine), len(slots))
            deficit = target - len(slots)
            opened = 0
            if deficit > 0:
                capacity = max((s["capacity"] for s in slots), default=5)
                opened = self._open(client, center, vaccine, 1, tomorrow, capacity, deficit)
                delay = min_days.get(vaccine)
                if delay is not None:  # dose 2 in every window of the 7 days of dose 1
                    day2 = tomorrow + timedelta(days=WINDOW_DAYS + delay)
                    self._open(client, center, vaccine, 2, day2, capacity, deficit)
                self.opened += opened
            writer.writerow([self.rounds, f"{time.time():.3f}", center, vaccine, len(slots), seats,
                             opened])  # fmt: skip
        self.rounds += 1

    def run(self) -> None:
        with self.path.open("w", newline="") as f, httpx.Client(timeout=10.0) as client:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            try:
                pairs = self.pairs(client)
                min_days = self.windows(client)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("supply not replenished: %s: %s", type(exc).__name__, exc)
                return
            while True:
                try:
                    self.round(client, pairs, min_days, writer)
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    log.warning("supply round failed: %s: %s", type(exc).__name__, exc)
                f.flush()
                if self.stopped.wait(self.interval_s):
                    return
