"""Bad input to the tools: malformed, unknown-key, wrong-type and missing scenario/config files,
and unreachable hosts. Every `surge` command answers with one clear line and exit 2, never a
traceback (each run as a real subprocess)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from loadtests.app_launcher import free_port

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SMOKE = (ROOT / "simulations/scenario/builtin/smoke.toml").read_text()
DATA_KEY = "k1:" + "A" * 43 + "="
CENTER = (ROOT / "simulations/center/builtin/gp-practice.toml").read_text()


def _files(where: Path) -> dict[str, dict[str, Path]]:
    """One bad file per class, for scenarios and for centre configs."""
    files: dict[str, dict[str, Path]] = {}
    for kind, good in (("scenario", SMOKE), ("center", CENTER)):
        variants = {
            "malformed": "name = [unclosed\n[[[",
            "unknown_key": "surprise_knob = 3\n" + good,
            "wrong_type": _wrong_type(good),
        }
        files[kind] = {}
        for name, text in variants.items():
            path = where / f"{kind}-{name}.toml"
            path.write_text(text)
            files[kind][name] = path
        files[kind]["missing"] = where / f"{kind}-does-not-exist.toml"
    return files


def _wrong_type(text: str) -> str:
    """The first numeric setting becomes a word."""
    lines = text.splitlines()
    for n, line in enumerate(lines):
        key, _, value = line.partition("=")
        if value.strip()[:1].isdigit() and not key.strip().startswith("#"):
            lines[n] = f'{key}= "lots"'
            return "\n".join(lines) + "\n"
    raise AssertionError("no numeric setting to break")


def _cases(where: Path) -> list[tuple[str, list[str]]]:
    files = _files(where)
    out = str(where / "out")
    scenario = {bad: str(path) for bad, path in files["scenario"].items()}
    center = {bad: str(path) for bad, path in files["center"].items()}
    # Each class of bad file is given to several commands (each surge start costs seconds).
    cases: list[tuple[str, list[str]]] = [
        ("sim run / malformed", ["sim", "run", "--scenario", scenario["malformed"]]),
        (
            "sweep / unknown key",
            [
                "sweep",
                "--scenario",
                scenario["unknown_key"],
                "--param",
                "demand.book_share=0.2,0.3",
            ],
        ),  # fmt: skip
        (
            "size supply / wrong type",
            ["size", "supply", "--scenario", scenario["wrong_type"], "--weeks", "4"],
        ),  # fmt: skip
        (
            "loadtest run / missing",
            [
                "loadtest",
                "run",
                "--scenario",
                scenario["missing"],
                "--host",
                "http://127.0.0.1:9",
                "--out",
                out,
            ],
        ),  # fmt: skip
        (
            "size platform / malformed",
            [
                "size",
                "platform",
                "--scenario",
                scenario["malformed"],
                "--target",
                "x",
                "--knob",
                "platform.web_workers",
            ],
        ),  # fmt: skip
        ("sim center / malformed", ["sim", "center", "--center", center["malformed"]]),
        (
            "size center / unknown key",
            ["size", "center", "--center", center["unknown_key"], "--target", "p95_wait_min=10"],
        ),  # fmt: skip
        ("sim center / wrong type", ["sim", "center", "--center", center["wrong_type"]]),
        ("predict / missing", ["predict", "--profile", center["missing"], "--load", "10"]),
    ]
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    cases += [
        (
            "loadtest run / unreachable host",
            [
                "loadtest",
                "run",
                "--scenario",
                "smoke",
                "--host",
                f"http://{closed}",
                "--out",
                out,
                "--duration",
                "5",
            ],
        ),  # fmt: skip
        (
            "loadtest run / invalid rate",
            [
                "loadtest",
                "run",
                "--scenario",
                "smoke",
                "--host",
                f"http://{closed}",
                "--out",
                out,
                "--rate",
                "-5",
            ],
        ),  # fmt: skip
        (
            "loadtest compare / missing runs",
            ["loadtest", "compare", str(where / "no-run"), str(where / "no-baseline")],
        ),  # fmt: skip
        (
            "app seed / unreachable database",
            ["app", "seed", "--db", f"postgresql://postgres@{closed}/x", "--centers", "1"],
        ),  # fmt: skip
        (
            "app serve / unreachable database",
            ["app", "serve", "--db", f"postgresql://postgres@{closed}/x", "--port", "0"],
        ),  # fmt: skip
        (
            "app serve / unsupported database",
            ["app", "serve", "--db", "mysql://x/y", "--port", "0"],
        ),
    ]
    return cases


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        [sys.executable, "-m", "surge", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(cwd),
            "SURGE_ADMIN_KEY": "k" * 32,
            "SURGE_DATA_KEY": DATA_KEY,
        },
    )


def test_every_command_answers_bad_input_with_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = _cases(tmp_path)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda case: _run(case[1], tmp_path), cases))
    failures = []
    for (label, _), result in zip(cases, results, strict=True):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        problems = []
        if "Traceback" in result.stderr or "Traceback" in result.stdout:
            problems.append("traceback")
        if result.returncode != 2:
            problems.append(f"exit {result.returncode}")
        if len(lines) != 1 or not lines[0].startswith("surge"):
            problems.append(f"{len(lines)} stderr lines")
        if problems:
            failures.append(f"{label}: {', '.join(problems)}: {result.stderr.strip()[-300:]}")
    assert not failures, "\n".join(failures)
