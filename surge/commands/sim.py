"""`surge sim ...`: SimPy models. Subcommands come from `surge/commands/_sim_*.py`."""

from __future__ import annotations

import argparse

from surge.cli import register_group


def register(sub: argparse._SubParsersAction) -> None:
    register_group(
        sub,
        "sim",
        "Simulate national opening days and vaccination centres (SimPy).",
        "sim",
    )
