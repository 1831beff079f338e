"""The argparse types and the parser class every `surge` command uses.

Each type turns one command-line string into a checked value or raises
`argparse.ArgumentTypeError` with a short reason; `SurgeParser` reports that (and every other
usage error) as one line, exit code 2, instead of argparse's usage block.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from datetime import date
from pathlib import Path
from typing import NoReturn

from surge.exit_codes import EXIT_USAGE

__all__ = [
    "SurgeParser",
    "date_iso",
    "duration_s",
    "existing_dir",
    "existing_file",
    "fraction_list",
    "levels",
    "non_negative_float",
    "non_negative_int",
    "port",
    "positive_float",
    "positive_int",
    "range_pair",
    "rate_or_off",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, None: 1.0}


class SurgeParser(argparse.ArgumentParser):
    """argparse with one-line errors: `surge: error: ... (see surge CMD --help)`, exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"surge: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _number(text: str, kind: type) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (replications, users, points...)."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (0 often means off or none)."""
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = float(_number(text, float))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = float(_number(text, float))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def duration_s(text: str) -> float:
    """'30s', '2m', '1h', '250ms', '1.5min' or a bare number of seconds -> seconds (> 0)."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30s, 2m, 1h)")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration must be > 0: {text!r}")
    return seconds


def rate_or_off(text: str) -> float:
    """A rate per second >= 0; '0' or 'off' turn the thing off (0.0)."""
    if text.strip().lower() == "off":
        return 0.0
    return non_negative_float(text)


def levels(text: str) -> list[int]:
    """Comma-separated positive integers, e.g. 1,2,4,8."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"levels must be comma-separated integers: {text!r}"
        ) from None
    if not values or any(n < 1 for n in values):
        raise argparse.ArgumentTypeError(f"levels must be positive integers: {text!r}")
    return values


def fraction_list(text: str) -> list[float]:
    """Comma-separated positive numbers, e.g. 1,0.5,0.25."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers: {text!r}") from None
    if not values or any(not (math.isfinite(v) and v > 0) for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers: {text!r}")
    return values


def range_pair(text: str) -> tuple[float, float]:
    """LO:HI with LO < HI."""
    try:
        low, high = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected lo:hi, got {text!r}") from None
    if not low < high:
        raise argparse.ArgumentTypeError(f"expected lo < hi, got {text!r}")
    return low, high


def port(text: str) -> int:
    """A TCP port, 0..65535 (0: any free port)."""
    value = int(_number(text, int))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be in 0..65535, got {text!r}")
    return value


def date_iso(text: str) -> date:
    """A calendar day, YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def existing_file(text: str) -> Path:
    """A file that exists."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def existing_dir(text: str) -> Path:
    """A directory that exists."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {text}")
    return path
