"""What one `surge loadtest run` will do, decided before anything starts (pure, no Locust).

`plan_run()` validates the options against the scenario, picks the load model (closed users
with `--users`, open arrivals with `--rate`, or the scenario's arrival curve replayed when
neither is given), builds the load profile, and `locust_command()` turns the plan into Locust
command lines. The journeys are the reference ones, or a journey file of the user's own
(`--locustfile`, read beforehand by `loadtests.journeys.journey_file`): its ArrivalUsers for the
open model, its plain users for the closed one. Bad input raises ValueError with a one-line
message.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests import shapes
from loadtests.errors import LoadTestInputError
from loadtests.journeys.journey_file import JourneyClass, JourneyFile
from loadtests.journeys.patient import PatientBehaviour
from loadtests.shapes.profile import LoadProfile

if TYPE_CHECKING:
    from loadtests.soak import SoakSettings
    from simulations.scenario.scenario import Scenario
    from simulations.scenario.slo import Slo

__all__ = ["RunOptions", "RunPlan", "locust_command", "plan_run", "worker_command"]

LOADTESTS = Path(__file__).parent
REFERENCE_LOCUSTFILE = LOADTESTS / "journeys" / "locustfile.py"
REFERENCE_JOURNEY = JourneyFile(
    REFERENCE_LOCUSTFILE,
    (
        JourneyClass("CenterAdmin", arrival=False, fixed_count=1, weight=1.0),
        JourneyClass("Patient", arrival=False, fixed_count=0, weight=20.0),
        JourneyClass("PatientArrivals", arrival=True, fixed_count=0, weight=1.0),
        JourneyClass("Practitioner", arrival=False, fixed_count=1, weight=1.0),
    ),
)  # what `read_journey_file(REFERENCE_LOCUSTFILE)` reads (a test checks), known without Locust
SHAPE_FILE = LOADTESTS / "shapes" / "locust_shape.py"
HOOKS_FILE = LOADTESTS / "driver" / "surge_hooks.py"
GRACE_S = 3.0
DISTRIBUTED_GRACE_S = 12.0  # workers connect and get their drivers a few seconds after the start


@dataclass(frozen=True)
class RunOptions:
    """The command-line options of `surge loadtest run`, as given."""

    scenario: str
    out_dir: Path
    host: str | None = None
    start_app: str | None = None
    duration: str | float | None = None  # '90s', '2m' or seconds
    users: int | None = None
    rate: float | None = None
    scale: float = 0.0005
    compress: float = 60.0
    shape: str | None = None
    levels: str | None = None
    hold: str | float | None = None
    workers: int = 0  # Locust worker processes (--locust-workers); 0 = one local process
    baseline: Path | None = None
    compare_rule: str = "default"  # a name in loadtests.verdicts.compare.RULES
    db: str | None = None
    seed: int | None = None
    overrides: tuple[str, ...] = ()
    waiting_room_rate: float | None = None  # admissions/s; 0 = off; None = the scenario's (replay)
    behaviour: tuple[tuple[str, Any], ...] = ()  # PatientBehaviour fields over the scenario's
    locustfile: Path | None = None  # the user's journey file; None: the reference journeys
    slo_file: Path | None = None  # an SLO file replacing the scenario's [slo] table
    junit: Path | None = None  # also write the verdict as JUnit XML here
    quiet: bool = False  # no live status line while the run lasts
    web_port: int | None = None  # run under Locust's web UI on 127.0.0.1:PORT (--web)
    expect_workers: int = 0  # workers joining from other machines (`surge loadtest worker`)
    master_bind_port: int | None = None  # the port those workers connect to
    pin: bool = True  # --start-app: Locust and the app/database on separate cores
    scrape: tuple[str, ...] = ()  # Prometheus/OpenMetrics endpoints scraped once a second
    back_to_back: bool = False  # with --users: the ArrivalUsers run journey() back to back
    soak: SoakSettings | None = None  # a soak: supply replenished, judged by loadtests.soak
    profile: LoadProfile | None = None  # an explicit open-model profile (programmatic callers)


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
    seed_centers: int = 40
    notes: tuple[str, ...] = field(default_factory=tuple)
    journey: JourneyFile = REFERENCE_JOURNEY

    @property
    def duration_s(self) -> float:
        return self.profile.duration_s

    @property
    def reference_journey(self) -> bool:
        """True when the reference booking journey runs (its SLO rules apply)."""
        return self.journey.path == REFERENCE_LOCUSTFILE

    @property
    def health_path(self) -> str | None:
        """What shows the target is up: the reference app's /healthz, or any HTTP answer."""
        return "/healthz" if self.reference_journey else None

    @property
    def classes(self) -> tuple[JourneyClass, ...]:
        """The journey file's classes this run starts (back to back: its ArrivalUsers, closed)."""
        if self.options.back_to_back:
            return self.journey.arrival_classes
        return self.journey.classes_for(self.model)

    @property
    def fixed_users(self) -> int:
        """Users with a fixed_count that run beside the arrivals (open model)."""
        return sum(c.fixed_count for c in self.classes if not c.arrival)

    @property
    def arrival_drivers(self) -> int:
        """ArrivalUser instances: one per driver process and ArrivalUser class (Locust shares
        them out by weight: several ArrivalUser classes in one file need equal weights)."""
        return max(self.worker_count, 1) * len(self.journey.arrival_classes)

    @property
    def worker_count(self) -> int:
        """Locust worker processes: local ones (--locust-workers) or joining (--expect-workers)."""
        return self.options.expect_workers or self.options.workers


def _positive(name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise LoadTestInputError(f"invalid {name} {value!r}: must be a positive number")


def _levels(text: str | None) -> list[float]:
    if not text:
        raise LoadTestInputError("--shape steps needs --levels, e.g. --levels 5,10,20,40")
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise LoadTestInputError(
            f"invalid --levels {text!r}: use numbers separated by commas"
        ) from None
    for level in levels:
        _positive("step level", level)
    return levels


def plan_run(
    options: RunOptions,
    scenario: Scenario,
    journey: JourneyFile | None = None,
    slo: Slo | None = None,
) -> RunPlan:
    """Check the options against a loaded scenario (and the user's journey file, when given)
    and decide the run; `slo` replaces the scenario's objectives (`--slo FILE`)."""
    from simulations.scenario.arrivals import arrival_rate_per_min

    if (options.host is None) == (options.start_app is None):
        raise LoadTestInputError("give exactly one of --host URL or --start-app sqlite|postgresql")
    if options.start_app not in (None, "sqlite", "postgresql"):
        raise LoadTestInputError(
            f"invalid --start-app {options.start_app!r}: use sqlite or postgresql"
        )
    if options.host is not None and not options.host.startswith(("http://", "https://")):
        raise LoadTestInputError(f"invalid --host {options.host!r}: use http://HOST:PORT")
    if options.users is not None and options.rate is not None:
        raise LoadTestInputError("give --users (closed model) or --rate (open model), not both")
    if options.users is not None and options.users < 1:
        raise LoadTestInputError(f"invalid --users {options.users}: must be >= 1")
    _positive("--rate", options.rate)
    _positive("--scale", options.scale)
    _positive("--compress", options.compress)
    if options.waiting_room_rate is not None and not (
        math.isfinite(options.waiting_room_rate) and options.waiting_room_rate >= 0
    ):
        raise LoadTestInputError(
            f"invalid --waiting-room-rate {options.waiting_room_rate!r}: must be >= 0 (0 = off)"
        )
    if options.workers < 0:
        raise LoadTestInputError(f"invalid --locust-workers {options.workers}: must be >= 0")
    if options.expect_workers and options.workers:
        raise LoadTestInputError(
            "give --locust-workers N (local workers) or --expect-workers N (workers joining "
            "with `surge loadtest worker`), not both"
        )
    if options.expect_workers and not options.master_bind_port:
        raise LoadTestInputError("--expect-workers needs --master-bind-port P (workers join it)")
    duration_s = shapes.parse_duration_s(options.duration) if options.duration else None

    closed = options.users is not None
    kind = options.shape or ("ramp" if closed else "soak" if options.rate else "replay")
    if kind == "step":
        kind = "steps"
    if kind not in shapes.SHAPE_KINDS:
        raise LoadTestInputError(f"unknown --shape {kind!r}: use {', '.join(shapes.SHAPE_KINDS)}")
    unit = "users" if closed else "arrivals_per_s"
    level = float(options.users if closed else options.rate or 0.0)
    notes: list[str] = []
    expected = None
    waiting_room_rate = 0.0
    real = scenario.scaled()
    compress = options.compress

    if kind == "replay":
        if closed or options.rate is not None:
            raise LoadTestInputError(
                "--shape replay plays the scenario's arrival curve: drop --users/--rate"
            )
        profile = shapes.replay(
            lambda t_min: arrival_rate_per_min(real.demand, t_min, real.clock_start_min),
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
            raise LoadTestInputError(f"--shape {kind} needs --users N or --rate R")
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
        if options.profile is not None:  # e.g. the overload's overload-then-probe shape
            if closed or options.profile.unit != "arrivals_per_s":
                raise LoadTestInputError("an explicit load profile is one of arrivals (--rate)")
            profile = options.profile
        if not closed:
            expected = profile.integral()
        compress = 1.0

    if options.waiting_room_rate is not None:
        waiting_room_rate = options.waiting_room_rate
        notes.append(f"waiting room set by --waiting-room-rate: {waiting_room_rate:g}/s")
    model = "closed" if closed else "open"
    journey = journey or REFERENCE_JOURNEY
    if options.soak is not None:
        if kind != "soak":
            raise LoadTestInputError(f"the soak analysis needs --shape soak, not {kind}")
        options.soak.windows(profile.duration_s)
        if journey.path == REFERENCE_LOCUSTFILE and options.soak.replenish:
            # The supply is the replenisher's: the centre manager's random openings would
            # lengthen availability answers over the run.
            classes = tuple(c for c in journey.classes if c.name != "CenterAdmin")
            journey = replace(journey, classes=classes)
            notes.append("soak: supply replenished by the run; CenterAdmin not started")
    if options.back_to_back:
        if not closed:
            raise LoadTestInputError("back-to-back journeys are a closed model: give --users N")
        journey.check_model("open")  # its ArrivalUsers run closed
    else:
        journey.check_model(model)
    behaviour = PatientBehaviour.from_scenario(scenario, compress)
    if options.behaviour:
        behaviour = replace(behaviour, **dict(options.behaviour))
    return RunPlan(
        options=options,
        scenario_name=scenario.name,
        model=model,
        profile=profile,
        behaviour=behaviour,
        slo=slo if slo is not None else scenario.slo,
        waiting_room_rate_per_s=waiting_room_rate,
        expected_arrivals=expected,
        compress=compress,
        seed_centers=scenario.supply.centers,
        notes=tuple(notes),
        journey=journey,
    )


def locust_files(plan: RunPlan) -> tuple[str, list[str]]:
    """Locust's `-f` list and the user classes to start (empty: all of the files')."""
    shape = [str(SHAPE_FILE)] if plan.model == "closed" else []
    files = [str(plan.journey.path.resolve()), *shape, str(HOOKS_FILE)]
    return ",".join(files), [c.name for c in plan.classes]


def worker_command(
    locustfile: Path | None, master_host: str, master_port: int, processes: int = 1
) -> list[str]:
    """`surge loadtest worker`: Locust worker process(es) of this machine joining a master.
    The master sends the host, the load and Surge's options; the worker needs the journeys."""
    journey = (locustfile or REFERENCE_LOCUSTFILE).resolve()
    return [
        sys.executable, "-m", "locust", "-f", f"{journey},{HOOKS_FILE}", "--worker",
        "--master-host", master_host, "--master-port", str(master_port),
        "--processes", str(processes),
    ]  # fmt: skip


def locust_command(
    plan: RunPlan, host: str, out_dir: Path, role: str = "local", master_port: int = 0
) -> list[str]:
    """The Locust command line of one process: role is "local", "master" or "worker"."""
    locustfile, classes = locust_files(plan)
    command = [sys.executable, "-m", "locust", "-f", locustfile, "-H", host]
    if role == "worker":
        return [*command, "--worker", "--master-port", str(master_port), "--loglevel", "WARNING",
                *classes]  # fmt: skip
    profile = {"kind": plan.profile.kind, "unit": plan.profile.unit,
               "points": plan.profile.to_json_points()}  # fmt: skip
    if plan.options.web_port:  # the same surge, watched (and stoppable) in a browser
        command += ["--autostart", "--autoquit", "3", "--surge-quit-after-stop", "3",
                    "--web-host", "127.0.0.1", "--web-port", str(plan.options.web_port)]  # fmt: skip
    else:
        command += ["--headless"]
    command += [
        "--csv", str(out_dir / "locust"),
        "--csv-full-history",
        "--load-profile", json.dumps(profile),
        "--patient-behaviour", plan.behaviour.to_json(),
        "--request-log", str(out_dir / "requests" / "requests"),
        "--surge-summary", str(out_dir / "locust_surge.json"),
        "--surge-live", str(out_dir / "live.json"),
        "--stop-timeout", "2",
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if plan.options.back_to_back:
        command += ["--arrivals-back-to-back"]
    if plan.options.seed is not None:
        command += ["--surge-seed", str(plan.options.seed)]
    if plan.model == "open":
        drivers = plan.arrival_drivers
        grace = DISTRIBUTED_GRACE_S if plan.worker_count else GRACE_S
        command += [
            "-u", str(drivers + plan.fixed_users), "-r", "100",
            "-t", f"{math.ceil(plan.duration_s + grace)}s",
            "--arrival-users", str(max(plan.worker_count, 1)),  # each class plays its rate
        ]  # fmt: skip
    if role == "master":
        remote = plan.options.expect_workers > 0  # workers on other machines: listen on all
        command += [
            "--master", "--master-bind-host", "*" if remote else "127.0.0.1",
            "--master-bind-port", str(master_port),
            "--expect-workers", str(plan.worker_count),
            "--expect-workers-max-wait", "300" if remote else "60",
        ]  # fmt: skip
    return [*command, *classes]
