"""What one `surge loadtest run` will do, decided before anything starts (pure, no Locust).

`plan_run()` validates the options against the scenario, picks the load model (closed users
with `--users`, open arrivals with `--rate`, or the scenario's arrival curve replayed when
neither is given), builds the load profile, and `locust_command()` turns the plan into Locust
command lines. Bad input raises ValueError with a one-line message.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests import shapes
from loadtests.journeys.patient import PatientBehaviour
from loadtests.shapes.profile import LoadProfile

if TYPE_CHECKING:
    from simulations.scenario.scenario import Scenario
    from simulations.scenario.slo import Slo

__all__ = ["RunOptions", "RunPlan", "locust_command", "plan_run"]

LOADTESTS = Path(__file__).parent
CLOSED_LOCUSTFILE = LOADTESTS / "journeys" / "locustfile.py"
OPEN_LOCUSTFILE = LOADTESTS / "journeys" / "open_locustfile.py"
SHAPE_FILE = LOADTESTS / "shapes" / "locust_shape.py"
FIXED_USERS = 2  # CenterAdmin + Practitioner (fixed_count = 1 each)
GRACE_S = 3.0
DISTRIBUTED_GRACE_S = 12.0  # workers connect and get their drivers a few seconds after the start


@dataclass(frozen=True)
class RunOptions:
    """The command-line options of `surge loadtest run`, as given."""

    scenario: str
    out_dir: Path
    host: str | None = None
    start_app: str | None = None
    duration: str | None = None
    users: int | None = None
    rate: float | None = None
    scale: float = 0.0005
    compress: float = 60.0
    shape: str | None = None
    levels: str | None = None
    hold: str | None = None
    workers: int = 0
    baseline: Path | None = None
    compare_rule: str = "default"  # a name in loadtests.verdicts.compare.RULES
    db: str | None = None
    seed: int | None = None
    overrides: tuple[str, ...] = ()
    waiting_room_rate: float | None = None  # admissions/s; 0 = off; None = the scenario's (replay)
    behaviour: tuple[tuple[str, Any], ...] = ()  # PatientBehaviour fields over the scenario's
    pin: bool = True  # --start-app: Locust and the app/database on separate cores
    scrape: tuple[str, ...] = ()  # Prometheus/OpenMetrics endpoints scraped once a second


@dataclass(frozen=True)
class RunPlan:
    options: RunOptions
    scenario_name: str
    model: str  # "closed" or "open"
    profile: LoadProfile
    behaviour: PatientBehaviour
    slo: Slo
    waiting_room_rate_per_s: float
    expected_arrivals: float | None
    compress: float = 1.0
    seed_centres: int = 40
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration_s(self) -> float:
        return self.profile.duration_s


def _positive(name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ValueError(f"invalid {name} {value!r}: must be a positive number")


def _levels(text: str | None) -> list[float]:
    if not text:
        raise ValueError("--shape steps needs --levels, e.g. --levels 5,10,20,40")
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"invalid --levels {text!r}: use numbers separated by commas") from None
    for level in levels:
        _positive("step level", level)
    return levels


def plan_run(options: RunOptions, scenario: Scenario) -> RunPlan:
    """Check the options against a loaded scenario and decide the run."""
    from simulations.scenario.arrivals import arrival_rate_per_min

    if (options.host is None) == (options.start_app is None):
        raise ValueError("give exactly one of --host URL or --start-app sqlite|postgresql")
    if options.start_app not in (None, "sqlite", "postgresql"):
        raise ValueError(f"invalid --start-app {options.start_app!r}: use sqlite or postgresql")
    if options.host is not None and not options.host.startswith(("http://", "https://")):
        raise ValueError(f"invalid --host {options.host!r}: use http://HOST:PORT")
    if options.users is not None and options.rate is not None:
        raise ValueError("give --users (closed model) or --rate (open model), not both")
    if options.users is not None and options.users < 1:
        raise ValueError(f"invalid --users {options.users}: must be >= 1")
    _positive("--rate", options.rate)
    _positive("--scale", options.scale)
    _positive("--compress", options.compress)
    if options.waiting_room_rate is not None and not (
        math.isfinite(options.waiting_room_rate) and options.waiting_room_rate >= 0
    ):
        raise ValueError(
            f"invalid --waiting-room-rate {options.waiting_room_rate!r}: must be >= 0 (0 = off)"
        )
    if options.workers < 0:
        raise ValueError(f"invalid --workers {options.workers}: must be >= 0")
    duration_s = shapes.parse_duration_s(options.duration) if options.duration else None

    closed = options.users is not None
    kind = options.shape or ("ramp" if closed else "soak" if options.rate else "replay")
    if kind == "step":
        kind = "steps"
    if kind not in shapes.SHAPE_KINDS:
        raise ValueError(f"unknown --shape {kind!r}: use {', '.join(shapes.SHAPE_KINDS)}")
    unit = "users" if closed else "arrivals_per_s"
    level = float(options.users if closed else options.rate or 0.0)
    notes: list[str] = []
    expected = None
    waiting_room_rate = 0.0
    real = scenario.scaled()
    compress = options.compress

    if kind == "replay":
        if closed or options.rate is not None:
            raise ValueError(
                "--shape replay plays the scenario's arrival curve: drop --users/--rate"
            )
        profile = shapes.replay(
            lambda t_min: arrival_rate_per_min(real.demand, t_min),
            real.duration_min,
            options.scale,
            compress,
        )
        if duration_s is not None and duration_s < profile.duration_s:
            points = [p for p in profile.points if p[0] < duration_s]
            points.append((duration_s, profile.level_at(duration_s) or 0.0))
            profile = LoadProfile("replay", profile.unit, tuple(points))
            notes.append(f"replay truncated to {duration_s:g}s by --duration")
        expected = profile.integral()
        if real.platform.waiting_room:
            waiting_room_rate = real.platform.admission_rate_per_s * options.scale * compress
    else:
        if level <= 0:
            raise ValueError(f"--shape {kind} needs --users N or --rate R")
        duration_s = duration_s or 60.0
        if kind == "ramp":
            profile = shapes.ramp(level, duration_s, unit=unit)
        elif kind == "soak":
            profile = shapes.soak(level, duration_s, unit=unit)
        elif kind == "spike":
            profile = shapes.spike(
                max(level / 5, 1.0 if closed else 0.1), level, duration_s, unit=unit
            )
        else:
            hold_s = shapes.parse_duration_s(options.hold) if options.hold else 30.0
            profile = shapes.steps(_levels(options.levels), hold_s, unit=unit)
            if options.duration:
                notes.append("--duration ignored by --shape steps (levels x hold)")
        if not closed:
            expected = profile.integral()
        compress = 1.0

    if options.waiting_room_rate is not None:
        waiting_room_rate = options.waiting_room_rate
        notes.append(f"waiting room set by --waiting-room-rate: {waiting_room_rate:g}/s")
    behaviour = PatientBehaviour.from_scenario(scenario, compress)
    if options.behaviour:
        behaviour = replace(behaviour, **dict(options.behaviour))
    return RunPlan(
        options=options,
        scenario_name=scenario.name,
        model="closed" if closed else "open",
        profile=profile,
        behaviour=behaviour,
        slo=scenario.slo,
        waiting_room_rate_per_s=waiting_room_rate,
        expected_arrivals=expected,
        compress=compress,
        seed_centres=scenario.supply.centres,
        notes=tuple(notes),
    )


def locust_command(
    plan: RunPlan, host: str, out_dir: Path, role: str = "local", master_port: int = 0
) -> list[str]:
    """The Locust command line of one process: role is "local", "master" or "worker"."""
    locustfile = (
        f"{CLOSED_LOCUSTFILE},{SHAPE_FILE}" if plan.model == "closed" else str(OPEN_LOCUSTFILE)
    )
    command = [sys.executable, "-m", "locust", "-f", locustfile, "-H", host]
    if role == "worker":
        return [*command, "--worker", "--master-port", str(master_port), "--loglevel", "WARNING"]
    profile = {"kind": plan.profile.kind, "unit": plan.profile.unit,
               "points": plan.profile.to_json_points()}  # fmt: skip
    command += [
        "--headless",
        "--csv", str(out_dir / "locust"),
        "--csv-full-history",
        "--load-profile", json.dumps(profile),
        "--patient-behaviour", plan.behaviour.to_json(),
        "--request-log", str(out_dir / "requests" / "requests"),
        "--surge-summary", str(out_dir / "locust_surge.json"),
        "--stop-timeout", "2",
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if plan.options.seed is not None:
        command += ["--surge-seed", str(plan.options.seed)]
    if plan.model == "open":
        drivers = max(plan.options.workers, 1)
        grace = DISTRIBUTED_GRACE_S if plan.options.workers else GRACE_S
        command += [
            "-u", str(drivers + FIXED_USERS), "-r", "100",
            "-t", f"{math.ceil(plan.duration_s + grace)}s",
            "--arrival-users", str(drivers),
        ]  # fmt: skip
    if role == "master":
        command += [
            "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
            "--expect-workers", str(plan.options.workers), "--expect-workers-max-wait", "60",
        ]  # fmt: skip
    return command
