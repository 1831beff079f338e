"""The exit codes of every `surge` command (documented in docs/cli.md, checked by a test)."""

from __future__ import annotations

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_REGRESSION",
    "EXIT_SLO_BREACHED",
    "EXIT_UNDECIDED",
    "EXIT_USAGE",
    "EXIT_CODES",
]

EXIT_OK = 0
EXIT_SLO_BREACHED = 1
EXIT_USAGE = 2
EXIT_REGRESSION = 3
EXIT_UNDECIDED = 4
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h)

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "ok",
    EXIT_SLO_BREACHED: "SLO breached (or target not met)",
    EXIT_USAGE: "usage or input error",
    EXIT_REGRESSION: "regression against the baseline",
    EXIT_UNDECIDED: "undecided, or prediction not confirmed",
    EXIT_INTERNAL: "internal error (a bug: traceback shown)",
}
