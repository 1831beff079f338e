"""`surge bench ...`: benchmarks. Each `surge/commands/_bench_*.py` adds one and may define
`run_default(args) -> int`, which `surge bench all` calls in turn."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import surge.commands
from surge.cli import register_group


def _bench_modules() -> list:
    return [
        importlib.import_module(f"surge.commands.{m.name}")
        for m in sorted(pkgutil.iter_modules(surge.commands.__path__), key=lambda m: m.name)
        if m.name.startswith("_bench_")
    ]


def run_all(args: argparse.Namespace) -> int:
    worst = 0
    for module in _bench_modules():
        runner = getattr(module, "run_default", None)
        if runner is None:
            continue
        print(f"== surge bench {module.__name__.rsplit('_', 1)[-1]} ==", file=sys.stderr)
        worst = max(worst, int(runner(args) or 0))
    return worst


def register(sub: argparse._SubParsersAction) -> None:
    group_sub = register_group(
        sub,
        "bench",
        "Benchmarks: print figures and write JSON under results/bench/.",
        "bench",
    )
    everything = group_sub.add_parser("all", help="run every benchmark with its defaults")
    everything.set_defaults(func=run_all)
