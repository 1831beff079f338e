"""A stepped load-test run read back as data: per-request records and the step schedule.

A run directory (written by `loadtests/calibration.py`) holds:

- `steps.csv`: `step, users, start_s, end_s` (epoch seconds; the schedule as it ran);
- `requests.csv`: `end_s, route, response_ms, ok` (one row per request, epoch seconds);
- `run.json`: how it ran (host, database, web workers, think time...), optional.

A run directory of `surge loadtest run --shape steps` (`summary.json` with `steps` and
`test_start_epoch_s`, `requests.csv` with `start_epoch_s, name, response_time_ms, ok`) is read
too, with the steady windows it computed.

Each step's steady window starts `settle_s` after the step began; a request belongs to a step's
window when it ended inside the window and started after the step began (so throughput counts
every completion in the window, and latencies all come from that load level).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from surge.errors import SurgeError

STEP_COLUMNS = ("step", "users", "start_s", "end_s")
REQUEST_COLUMNS = ("end_s", "route", "response_ms", "ok")


class StepRunError(SurgeError, ValueError):
    """A stepped run directory (or the levels asked of it) that cannot be calibrated."""


@dataclass(frozen=True)
class StepRun:
    steps: pd.DataFrame  # one row per step, STEP_COLUMNS
    requests: pd.DataFrame  # one row per request in a steady window, plus `step` and `users`
    meta: dict

    def summary(self) -> pd.DataFrame:
        """Per load level (user count, pooled over its steps when a level ran more than once):
        steps, steady window, requests, failures, throughput and latency percentiles."""
        rows = []
        windows = (self.steps["end_s"] - self.steps["window_start_s"]).groupby(self.steps["users"])
        for users, duration in windows.sum().items():
            r = self.requests[self.requests["users"] == users]
            ok = r[r["ok"]]
            lat = ok["response_ms"].to_numpy()
            rows.append(
                {
                    "users": int(users),
                    "steps": int((self.steps["users"] == users).sum()),
                    "window_s": float(duration),
                    "requests": len(r),
                    "failures": int((~r["ok"]).sum()),
                    "throughput_per_s": len(ok) / duration if duration > 0 else np.nan,
                    "mean_ms": float(lat.mean()) if len(lat) else np.nan,
                    "p50_ms": float(np.percentile(lat, 50)) if len(lat) else np.nan,
                    "p95_ms": float(np.percentile(lat, 95)) if len(lat) else np.nan,
                    "p99_ms": float(np.percentile(lat, 99)) if len(lat) else np.nan,
                }
            )
        return pd.DataFrame(rows)

    def window_throughputs(self, window_s: float = 5.0) -> pd.DataFrame:
        """Per consecutive sub-window of each steady window: successful requests per second and
        the mean number of requests in flight (Little's law: throughput x mean response time).
        Several points per level, so a bootstrap sees measurement noise."""
        rows = []
        for step in self.steps.itertuples(index=False):
            r = self.requests[(self.requests["step"] == step.step) & self.requests["ok"]]
            span = float(step.end_s - step.window_start_s)
            count = max(1, int(span // window_s))
            width = span / count
            edges = step.window_start_s + width * np.arange(count + 1)
            bins = np.clip(np.digitize(r["end_s"].to_numpy(), edges) - 1, 0, count - 1)
            latency_s = r["response_ms"].to_numpy() / 1000.0
            for b in range(count):
                inside = bins == b
                x = inside.sum() / width
                rows.append(
                    {
                        "step": int(step.step),
                        "users": int(step.users),
                        "throughput_per_s": x,
                        "in_flight": x * float(latency_s[inside].mean()) if inside.any() else 0.0,
                    }
                )
        return pd.DataFrame(rows)


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise StepRunError(f"{path.parent}: not a stepped run directory (no {path.name})")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise StepRunError(f"{path}: unreadable CSV ({exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise StepRunError(f"{path}: missing column {missing[0]!r}")
    return frame


def _from_loadtest(run: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict, float | None]:
    """Steps, requests and meta of a `surge loadtest run --shape steps` directory."""
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        start = float(summary["test_start_epoch_s"])
        windows = summary["steps"]
    except (KeyError, TypeError, ValueError) as exc:
        raise StepRunError(f"{run}/summary.json: not a stepped load-test summary ({exc})") from None
    if not windows:
        raise StepRunError(f"{run}/summary.json: no steps (was it run with --shape steps?)")
    steps = pd.DataFrame(
        {
            "step": [int(w["step"]) for w in windows],
            "users": [int(round(float(w["level"]))) for w in windows],
            "start_s": [start + float(w["start_s"]) for w in windows],
            "end_s": [start + float(w["end_s"]) for w in windows],
        }
    )
    settle = min(float(w["steady_from_s"]) - float(w["start_s"]) for w in windows)
    raw = _read_csv(run / "requests.csv", ("start_epoch_s", "name", "response_time_ms", "ok"))
    requests = pd.DataFrame(
        {
            "end_s": raw["start_epoch_s"].astype(float) + raw["response_time_ms"] / 1000.0,
            "route": raw["name"].astype(str),
            "response_ms": raw["response_time_ms"].astype(float),
            "ok": raw["ok"],
        }
    )
    meta = {
        "run_dir": str(run),
        "database": summary.get("database", ""),
        "source": "surge loadtest run",
        "web_workers": 1,
    }
    return steps, requests, meta, settle


def read_step_run(run_dir: str | Path, settle_s: float | None = None) -> StepRun:
    """Read a run directory; `settle_s` defaults to the run's own value, else 20% of each step."""
    run = Path(run_dir)
    if not run.is_dir():
        raise StepRunError(f"run directory not found: {run}")
    if not (run / "steps.csv").is_file() and (run / "summary.json").is_file():
        steps, requests, meta, own_settle = _from_loadtest(run)
        meta["settle_s"] = own_settle
    else:
        meta_path = run / "run.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        except ValueError as exc:
            raise StepRunError(f"{meta_path}: not valid JSON ({exc})") from None
        steps = _read_csv(run / "steps.csv", STEP_COLUMNS)
        requests = _read_csv(run / "requests.csv", REQUEST_COLUMNS)
    if steps.empty:
        raise StepRunError(f"{run}/steps.csv: no steps")
    if (steps["users"] < 1).any() or (steps["end_s"] <= steps["start_s"]).any():
        raise StepRunError(
            f"{run}/steps.csv: users must be >= 1 and each step must end after it starts"
        )
    steps = steps.sort_values("start_s").reset_index(drop=True)
    settle = settle_s if settle_s is not None else meta.get("settle_s")
    length = steps["end_s"] - steps["start_s"]
    steps["window_start_s"] = steps["start_s"] + (
        length * 0.2 if settle is None else np.minimum(float(settle), length * 0.8)
    )
    requests = requests.assign(
        ok=requests["ok"].astype(bool), start_s=requests["end_s"] - requests["response_ms"] / 1000.0
    )
    # Assign each request to the step whose steady window contains it entirely.
    idx = (
        np.searchsorted(steps["start_s"].to_numpy(), requests["start_s"].to_numpy(), side="right")
        - 1
    )
    valid = idx >= 0
    idx = np.where(valid, idx, 0)
    inside = (
        valid
        & (requests["start_s"].to_numpy() >= steps["window_start_s"].to_numpy()[idx])
        & (requests["end_s"].to_numpy() <= steps["end_s"].to_numpy()[idx])
    )
    kept = requests[inside].assign(
        step=steps["step"].to_numpy()[idx[inside]], users=steps["users"].to_numpy()[idx[inside]]
    )
    return StepRun(steps=steps, requests=kept.reset_index(drop=True), meta=meta)
