"""The demo's steps: which `surge` commands `surge demo` runs, and running one as a subprocess.

Each step is a plain `surge ...` command line (shown to the user, so it can be rerun by hand) run
as its own process: the load test must be (Locust monkey-patches gevent), and the others are
kept alike so the demo uses the suite exactly as a user would. Output goes to a log file next to
the results and, optionally, to the terminal.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from surge.demo.results import StepRecord

__all__ = ["DemoStep", "demo_steps", "run_step"]

SCENARIO = "france-2021-07-12"
# Exit codes that are results rather than failures, per step kind.
OUTCOMES = {
    "loadtest": {0: "ok", 1: "SLO breached", 3: "regression"},
    "size-platform": {0: "ok", 1: "not reachable"},
}


@dataclass(frozen=True)
class DemoStep:
    key: str
    title: str
    args: tuple[str, ...]  # after `surge`
    timeout_s: float

    @property
    def command(self) -> str:
        return shlex.join(["surge", *self.args])


def demo_steps(out_dir: Path, quick: bool = False) -> list[DemoStep]:
    """The load test, the national simulation and two sizing answers, writing under `out_dir`.

    Full: the opening evening replayed at 1/20,000 of its visitors, 120x faster (2 minutes, about
    375 visitors, 15 arrivals/s at the peak: what one SQLite app worker on a 2-core machine can
    take), the simulation at full scale (7.5M visitors), the admission rate sized on the evening
    at 1/10 scale (`sizing_scenario`). Quick (tests): the first two hours at 1/50,000, 360x faster, in 20 seconds; the
    simulation at 1% scale; sizing on `smoke`.
    """
    out = str(out_dir)
    if quick:
        replay = ["--scale", "0.00002", "--compress", "360", "--duration", "20s"]
        sim = ["--set", "scale=0.01", "--set", "model.tick_s=15"]
        sized, target = "smoke", "waiting_room_p95_min<=2"
        sized_label = "smoke"
        platform = ["--points", "3", "--refine", "0"]
        timeout_s = 240.0
    else:
        replay = ["--scale", "0.00005", "--compress", "120"]
        sim = []
        sized = str(sizing_scenario(out_dir / "size"))
        sized_label = f"{SCENARIO} at 1/10 scale"
        target = "waiting_room_p95_min<=15"
        platform = ["--points", "4", "--refine", "2"]
        timeout_s = 900.0
    return [
        DemoStep(
            "loadtest",
            "Load test: the opening evening replayed against the app (SQLite), gated by SLOs",
            (
                "loadtest",
                "run",
                "--scenario",
                SCENARIO,
                "--start-app",
                "sqlite",
                *replay,
                "--out",
                f"{out}/loadtest",
            ),
            timeout_s,
        ),
        DemoStep(
            "sim",
            "National simulation of the evening (SimPy)",
            ("sim", "run", "--scenario", SCENARIO, *sim, "--out", f"{out}/sim"),
            timeout_s,
        ),
        DemoStep(
            "size-platform",
            f"Sizing: the smallest waiting-room admission rate meeting {target} ({sized_label})",
            (
                "size",
                "platform",
                "--scenario",
                sized,
                "--target",
                target,
                *platform,
                "--knob",
                "platform.admission_rate_per_s",
                "--replications",
                "2",
                "--quiet",
                "--out",
                f"{out}/size/platform",
            ),
            timeout_s,
        ),
        DemoStep(
            "size-supply",
            "Sizing: slots per day to vaccinate the eligible cohort in 8 weeks",
            (
                "size",
                "supply",
                "--scenario",
                SCENARIO,
                "--weeks",
                "8",
                "--out",
                f"{out}/size/supply",
            ),
            timeout_s,
        ),
    ]


def sizing_scenario(out_dir: Path, scale: float = 0.1, tick_s: float = 15.0) -> Path:
    """The evening at `scale` with coarser ticks, as a scenario file `surge size platform` reads.

    Sizing runs the model a dozen times; at 1/10 scale each run takes seconds instead of a
    minute, and the knob keeps its full-scale units (the model scales rates with visitors).
    """
    from simulations.scenario.scenario import load_scenario, write_scenario

    scenario = load_scenario(SCENARIO, {"scale": scale, "model.tick_s": tick_s})
    header = f"# {SCENARIO} at scale {scale:g}, tick {tick_s:g} s: written by `surge demo`\n"
    return write_scenario(scenario, out_dir / f"{SCENARIO}-scale-{scale:g}.toml", header)


def _interrupt(process: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGINT to the step's process group (it cleans up: stops the app, Locust), then SIGKILL."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=grace_s)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return


def run_step(
    step: DemoStep,
    out_dir: Path,
    echo: Callable[[str], None] | None = print,
) -> StepRecord:
    """Run `surge <step.args>` in its own process group; log to `out_dir/<key>.log`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / f"{step.key}.log"
    started = time.perf_counter()
    timed_out = threading.Event()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("w", encoding="utf-8") as log:
        log.write(f"$ {step.command}\n")
        log.flush()
        process = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
            [sys.executable, "-m", "surge", *step.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=env,
            start_new_session=True,
        )

        def on_timeout() -> None:
            timed_out.set()
            _interrupt(process)

        watchdog = threading.Timer(step.timeout_s, on_timeout)
        watchdog.start()
        try:
            if process.stdout is None:
                raise RuntimeError("the demo step was started without a stdout pipe")
            for line in process.stdout:
                log.write(line)
                if echo is not None:
                    text = line.rstrip("\r\n").rsplit("\r", 1)[-1]
                    if text:
                        echo(f"    {text}")
            code = process.wait()
        except KeyboardInterrupt:
            _interrupt(process)
            raise
        finally:
            watchdog.cancel()
    seconds = time.perf_counter() - started
    if timed_out.is_set():
        outcome = "timed out"
    else:
        outcome = OUTCOMES.get(step.key, {0: "ok"}).get(code, "failed")
    return StepRecord(step.key, step.title, step.command, code, seconds, log_path.name, outcome)
