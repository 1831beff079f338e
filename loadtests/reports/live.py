"""A run while it runs: one status line, about once a second, from what Locust and the monitor
write as they go (`locust_stats_history.csv`, one row per route per second, its percentiles
over the last 10 s; `monitor.csv`, the waiting-room line once a second; `live.json`, the load
generator's counters once a second: arrivals scheduled, started, late, dropped, admissions).

On a terminal the line is redrawn in place (rich); without one (CI) a plain line is printed
every `plain_every_s` seconds; with `quiet`, nothing. `status_line` is a pure function of the
two files' rows, so it is tested on a real run directory.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads in the status thread, not at import (keeps bad input fast)
    import pandas as pd

__all__ = ["LiveStatus", "status_line"]

MAIN_ROUTES = 3  # routes shown, the busiest first


def status_line(
    history: pd.DataFrame,
    monitor: pd.DataFrame,
    total_s: float,
    counters: Mapping[str, int] | None = None,
) -> str | None:
    """`elapsed/total (Locust's clock: from its first row), arrivals scheduled/started/late
    (open model), req/s, requests and failures, p95 of the busiest routes over the last 10 s,
    the waiting-room line and its admissions`; None before Locust wrote its first row.
    `counters` are the load generator's (`live.json`, `--surge-live`)."""
    import pandas as pd

    if history.empty or "Timestamp" not in history:
        return None
    elapsed_s = float(history["Timestamp"].max() - history["Timestamp"].min())
    last = history[history["Timestamp"] == history["Timestamp"].max()]
    total = last[last["Name"] == "Aggregated"]
    routes = last[last["Name"] != "Aggregated"].sort_values("Total Request Count", ascending=False)
    counters = counters or {}
    parts = [f"{elapsed_s:4.0f}/{total_s:.0f}s"]
    if counters.get("arrivals:scheduled"):
        arrivals = (f"arrivals {counters['arrivals:scheduled']} scheduled, "
                    f"{counters.get('arrivals:started', 0)} started, "
                    f"{counters.get('arrivals:late', 0)} late")  # fmt: skip
        if counters.get("arrivals:dropped"):
            arrivals += f", {counters['arrivals:dropped']} dropped"
        parts.append(arrivals)
    if len(total):
        row = total.iloc[0]
        parts.append(f"{float(row['Requests/s']):.1f} req/s")
        parts.append(f"{int(row['Total Request Count'])} requests, "
                     f"{int(row['Total Failure Count'])} failed")  # fmt: skip
    p95 = [f"{r['Name']} {r['95%']}" for _, r in routes.head(MAIN_ROUTES).iterrows()
           if str(r["95%"]) not in ("N/A", "nan")]  # fmt: skip
    if p95:
        parts.append("p95 ms (10 s): " + ", ".join(p95))
    if "waiting_room_queued" in monitor and len(monitor):
        queued = pd.to_numeric(monitor["waiting_room_queued"], errors="coerce").dropna()
        if len(queued):
            room = f"waiting room {int(queued.iloc[-1])} queued"
            if "waiting_room:admitted" in counters:
                room += f", {counters['waiting_room:admitted']} admitted"
            parts.append(room)
    return " | ".join(parts)


def _counters(path: Path) -> dict[str, int]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return pd.DataFrame()


class LiveStatus(threading.Thread):
    """Shows `status_line` of the run directory while the run lasts (stop with `stop()`)."""

    def __init__(self, out_dir: Path, total_s: float, quiet: bool = False,
                 plain: Callable[[str], None] | None = None, plain_every_s: float = 10.0,
                 ) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.out_dir, self.total_s, self.quiet = out_dir, total_s, quiet
        self.tty = plain is None and sys.stderr.isatty()
        self.plain = plain or (lambda line: print(line, file=sys.stderr, flush=True))
        self.plain_every_s = plain_every_s
        self.stopped = threading.Event()
        self.lines: list[str] = []

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)

    def _line(self) -> str | None:
        return status_line(_read(self.out_dir / "locust_stats_history.csv"),
                           _read(self.out_dir / "monitor.csv"), self.total_s,
                           _counters(self.out_dir / "live.json"))  # fmt: skip

    def run(self) -> None:
        if self.quiet:
            return
        started = time.monotonic()
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            with Live("", console=Console(stderr=True), refresh_per_second=2,
                      transient=True) as live:  # fmt: skip
                while not self.stopped.wait(1.0):
                    line = self._line()
                    if line:
                        live.update(line)
            return
        next_at = 0.0
        while not self.stopped.wait(1.0):
            now = time.monotonic() - started
            if now < next_at:
                continue
            line = self._line()
            if line:
                self.lines.append(line)
                self.plain(line)
                next_at = now + self.plain_every_s
