"""Scrape Prometheus / OpenMetrics endpoints once a second into `scrape.csv` (`--scrape URL`).

Any exposition endpoint: the reference app's `/metrics`, a node_exporter, a postgres_exporter.
One row per sample per scrape: `elapsed_s` (seconds since the run start, the report's time
axis), `target` (the URL), `metric` (the sample name, e.g. `http_requests_total` or
`..._bucket`), `labels` (JSON object, keys sorted), `value`. Each scrape also writes `up`
(1 when the target answered 200 with parseable text, else 0), as Prometheus does.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["COLUMNS", "Scraper", "check_target", "parse_exposition"]

COLUMNS = ("elapsed_s", "target", "metric", "labels", "value")
SCRAPE_INTERVAL_S = 1.0
SCRAPE_TIMEOUT_S = 2.0


def check_target(url: str) -> str:
    """The URL if it is an http(s) URL with a host; ValueError (one line) otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"--scrape needs an http(s) URL, e.g. http://127.0.0.1:9100/metrics: {url!r}"
        )
    return url


def parse_exposition(text: str, content_type: str = "") -> list[tuple[str, str, float]]:
    """(sample name, labels as sorted JSON, value) for every sample of an exposition text."""
    families = (
        openmetrics_families(text)
        if "openmetrics" in content_type
        else text_string_to_metric_families(text)
    )
    return [
        (s.name, json.dumps(s.labels, sort_keys=True), float(s.value))
        for family in families
        for s in family.samples
    ]


class Scraper(threading.Thread):
    """Scrapes every target each `interval_s` into `path` until `stop()`."""

    def __init__(
        self,
        path: Path,
        targets: Sequence[str],
        *,
        start_epoch_s: float | None = None,
        interval_s: float = SCRAPE_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(daemon=True, name="surge-scrape")
        self.path = path
        self.targets = [check_target(t) for t in targets]
        self.clock = clock
        self.start_epoch_s = clock() if start_epoch_s is None else start_epoch_s
        self.interval_s = interval_s
        self._stopped = threading.Event()

    def scrape(self, client: httpx.Client) -> Iterable[tuple]:
        for target in self.targets:
            elapsed = round(self.clock() - self.start_epoch_s, 3)
            try:
                response = client.get(target)
                if response.status_code != 200:
                    raise ValueError(f"status {response.status_code}")
                samples = parse_exposition(response.text, response.headers.get("content-type", ""))
            except (httpx.HTTPError, ValueError):
                yield (elapsed, target, "up", "{}", 0.0)
                continue
            yield (elapsed, target, "up", "{}", 1.0)
            for name, labels, value in samples:
                yield (elapsed, target, name, labels, value)

    def run(self) -> None:
        with (
            self.path.open("w", newline="", encoding="utf-8") as f,
            httpx.Client(timeout=SCRAPE_TIMEOUT_S) as client,
        ):
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            while True:  # at least one scrape, and one more when stopped
                writer.writerows(self.scrape(client))
                f.flush()
                if self._stopped.wait(self.interval_s):
                    break
            writer.writerows(self.scrape(client))

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join(timeout=timeout_s)
