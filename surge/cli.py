"""The `surge` command line: parse, dispatch, set exit codes.

Each module in `surge.commands` exposes `register(subparsers)`, which adds one subcommand whose
handler takes the parsed arguments and returns an exit code. Handlers raise `UsageError` (or any
`ValueError`/`OSError`) for bad input; this front turns those into one line and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import surge.commands
from surge import __version__

EXIT_OK = 0
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="surge",
        description=(
            "Load-test and simulate national vaccination-booking surges: a reference booking app "
            "(app), Locust surges (loadtest), SimPy models (sim), capacity sizing (size), "
            "parameter sweeps (sweep), calibration (calibrate, predict), benchmarks (bench)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"surge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(surge.commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"surge.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    if handler is None:
        # `surge` or `surge GROUP` without a subcommand: show the relevant help.
        (getattr(args, "help_parser", None) or parser).print_help()
        return EXIT_USAGE
    try:
        return int(handler(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("surge: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ValueError, OSError, LookupError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"surge: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def register_group(
    sub: argparse._SubParsersAction, name: str, help_text: str, plugin_prefix: str
) -> argparse._SubParsersAction:
    """Add a command group (`surge sim`, `surge bench`...) whose subcommands are plugins.

    Every module `surge.commands._{plugin_prefix}_*` exposes `register(group_subparsers)`, so
    separate parts of the suite add their own subcommands without editing a shared file.
    """
    group = sub.add_parser(name, help=help_text, description=help_text)
    group.set_defaults(help_parser=group)
    group_sub = group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
    prefix = f"_{plugin_prefix}_"
    for info in sorted(pkgutil.iter_modules(surge.commands.__path__), key=lambda m: m.name):
        if info.name.startswith(prefix):
            importlib.import_module(f"surge.commands.{info.name}").register(group_sub)
    return group_sub
