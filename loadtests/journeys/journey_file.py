"""A journey file: a locustfile of the user's own (or the reference one), read before a run.

`read_journey_file(path)` imports the file the way Locust does, in a subprocess (Locust
monkey-patches the interpreter with gevent, so it never runs in this one), and reports its user
classes: which are `ArrivalUser`s (the open model), which are plain Locust users (the closed
model, or helpers with a `fixed_count` beside the arrivals). A file that is missing, raises on
import or defines no user class is a `LoadTestInputError` (one line, exit 2 from the CLI).

    python -m loadtests.journeys.journey_file FILE    # prints the classes as JSON
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from loadtests.errors import LoadTestInputError

__all__ = ["JourneyClass", "JourneyFile", "read_journey_file"]

REPO = Path(__file__).resolve().parents[2]
READ_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class JourneyClass:
    name: str
    arrival: bool  # an ArrivalUser (open model) rather than a plain Locust user
    fixed_count: int
    weight: float


@dataclass(frozen=True)
class JourneyFile:
    path: Path
    classes: tuple[JourneyClass, ...]

    @property
    def arrival_classes(self) -> tuple[JourneyClass, ...]:
        return tuple(c for c in self.classes if c.arrival)

    @property
    def plain_classes(self) -> tuple[JourneyClass, ...]:
        return tuple(c for c in self.classes if not c.arrival)

    def classes_for(self, model: str) -> tuple[JourneyClass, ...]:
        """The classes a run of `model` ("open" or "closed") starts: the ArrivalUsers and the
        fixed-count helpers (open), or every plain user (closed)."""
        if model == "open":
            return self.arrival_classes + tuple(c for c in self.plain_classes if c.fixed_count)
        return self.plain_classes

    def check_model(self, model: str) -> None:
        """Raise `LoadTestInputError` when the file cannot be run with `model`."""
        if model == "open" and not self.arrival_classes:
            raise LoadTestInputError(
                f"journey file {self.path} has no ArrivalUser subclass (open model): give "
                "--users N to run its users as a closed model, or subclass "
                "`from loadtests import ArrivalUser` and define journey()"
            )
        if model == "closed" and not self.plain_classes:
            raise LoadTestInputError(
                f"journey file {self.path} defines only ArrivalUser classes (open model): drop "
                "--users and give --rate R, --shape or let the scenario's arrivals replay"
            )


_READ: dict[tuple[str, int, int], JourneyFile] = {}  # (path, mtime, size): one import per file


def read_journey_file(path: Path) -> JourneyFile:
    """The user classes of a locustfile, imported in a subprocess as Locust would (once per
    version of the file in this process: `overload` runs several load tests of one file)."""
    path = Path(path)
    if not path.is_file():
        raise LoadTestInputError(f"journey file {path}: no such file")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _READ:
        _READ[key] = JourneyFile(path, _read_classes(path))
    return replace(_READ[key], path=path)


def _read_classes(path: Path) -> tuple[JourneyClass, ...]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
           os.environ.get("PYTHONPATH", "")]))}  # fmt: skip
    try:
        done = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
            [sys.executable, "-m", "loadtests.journeys.journey_file", str(path.resolve())],
            capture_output=True, text=True, timeout=READ_TIMEOUT_S, env=env, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise LoadTestInputError(
            f"journey file {path}: importing it took more than {READ_TIMEOUT_S:g}s"
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        last = lines[-1].strip() if lines else f"exit {done.returncode}"
        raise LoadTestInputError(f"journey file {path} failed to load: {last}")
    classes = tuple(JourneyClass(**c) for c in json.loads(done.stdout.strip().splitlines()[-1]))
    if not classes:
        raise LoadTestInputError(
            f"journey file {path} defines no Locust user class (an ArrivalUser subclass with "
            "journey(), or an HttpUser/FastHttpUser with tasks)"
        )
    return classes


def _describe(path: str) -> list[dict]:
    from locust.util.load_locustfile import load_locustfile

    from loadtests.driver.open_model import ArrivalUser

    users, _shapes = load_locustfile(path)
    return [
        {
            "name": name,
            "arrival": issubclass(cls, ArrivalUser),
            "fixed_count": int(getattr(cls, "fixed_count", 0) or 0),
            "weight": float(getattr(cls, "weight", 1) or 1),
        }
        for name, cls in sorted(users.items())
    ]


if __name__ == "__main__":
    print(json.dumps(_describe(sys.argv[1])))
