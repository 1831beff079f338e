"""The one record every benchmark produces: what ran, where, when, and its figures.

`results/bench/<name>.json` holds one `BenchRecord`: name, date (UTC, ISO 8601), the machine
(CPU model, cores, memory, Python, OS; never the hostname), the git commit, the command line
that reruns it, its parameters and its figures.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

__all__ = [
    "RESULTS_DIR",
    "BenchRecord",
    "command_line",
    "git_commit",
    "machine",
    "new_record",
    "read_records",
    "write_record",
]

RESULTS_DIR = Path("results/bench")
REPO = Path(__file__).resolve().parents[2]
_CREDENTIALS = re.compile(r"://[^@/\s]+@")


def _masked(value: Any) -> Any:
    """A URL's user and password are never recorded; a path is recorded as text."""
    if isinstance(value, Path):
        value = value.as_posix()
    return _CREDENTIALS.sub("://***@", value) if isinstance(value, str) else value


@dataclass(frozen=True)
class BenchRecord:
    name: str
    date: str  # UTC, ISO 8601
    machine: dict[str, Any]
    commit: str | None
    command: str
    parameters: dict[str, Any]
    figures: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BenchRecord:
        doc = json.loads(text)
        return cls(**{f.name: doc.get(f.name) for f in fields(cls)})


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The machine a figure was measured on, without anything that names it."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def git_commit() -> str | None:
    """The commit of the code measured (with '+dirty' when the tree has changes), if known."""
    try:
        head = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, as a developer runs it
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],  # noqa: S607 - git from PATH, as a developer runs it
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def command_line(name: str, options: object) -> str:
    """`surge bench NAME` with every option that differs from its default: reruns it. A field's
    flag is `--field-name`, or its `metadata["flag"]`."""
    parts = ["surge", "bench", name]
    for f in fields(options):  # type: ignore[arg-type]
        if getattr(options, f.name) == f.default:
            continue
        value = _masked(getattr(options, f.name))
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag)
        elif isinstance(value, tuple | list):
            parts += [flag, ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)]
        else:
            parts += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return " ".join(parts)


def new_record(name: str, options: object, figures: dict[str, Any]) -> BenchRecord:
    """A record of benchmark `name` run now with `options` (a frozen dataclass)."""
    parameters = {
        k: list(v) if isinstance(v, tuple) else _masked(v)
        for k, v in asdict(options).items()  # type: ignore[call-overload]
    }
    return BenchRecord(
        name=name,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine(),
        commit=git_commit(),
        command=command_line(name, options),
        parameters=parameters,
        figures=figures,
    )


def write_record(record: BenchRecord, directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record.name}.json"
    path.write_text(record.to_json(), encoding="utf-8")
    return path


def read_records(directory: Path = RESULTS_DIR) -> list[BenchRecord]:
    """Every record under `directory`, by name; files of another shape are skipped."""
    records = []
    for path in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and {"name", "figures", "machine"} <= doc.keys():
            records.append(BenchRecord.from_json(json.dumps(doc)))
    return records
