"""The `surge` command line: parse, dispatch, set exit codes.

Every command group is one module of `surge.commands` listed in `COMMANDS`, exposing
`register(subparsers)`; each subcommand's handler takes the parsed arguments and returns an exit
code from `surge.exit_codes`. Errors:

- `SurgeError` (what the user got wrong), argparse usage errors, and an `OSError` about a path
  the user named on the command line (a missing input, an unwritable --out): one line, exit 2;
- anything else is a bug: its traceback, exit 70;
- `--debug` shows the traceback of every error.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from surge import __version__
from surge.commands.types import SurgeParser
from surge.errors import SurgeError, UsageError
from surge.exit_codes import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE

__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]

# The command groups, in the order of `surge --help`: one module each in surge/commands/.
COMMANDS = (
    "app",
    "loadtest",
    "proxy",
    "sim",
    "size",
    "sweep",
    "calibrate",
    "predict",
    "bench",
    "demo",
)


def build_parser() -> SurgeParser:
    parser = SurgeParser(
        prog="surge",
        description=(
            "Load-test and simulate national vaccination-booking surges: a reference booking app "
            "(app), Locust surges (loadtest), SimPy models (sim), capacity sizing (size), "
            "parameter sweeps (sweep), calibration (calibrate, predict), benchmarks (bench)."
        ),
        epilog="exit codes: 0 ok, 1 SLO breached, 2 usage or input error, 3 regression, "
        "4 undecided or prediction not confirmed, 70 internal error (see docs/cli.md)",
    )
    parser.add_argument("--version", action="version", version=f"surge {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of every error, user errors too"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"surge.commands.{name}").register(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _names_user_path(exc: OSError, argv: Sequence[str]) -> bool:
    """Is this error about a path given on the command line (or a file inside it)?"""
    if not exc.filename:
        return False
    given = [a for a in argv if a and not a.startswith("-")]
    given += [a.split("=", 1)[1] for a in argv if a.startswith("--") and "=" in a]
    target = Path(str(exc.filename)).absolute()
    return any(target == Path(g).absolute() or Path(g).absolute() in target.parents for g in given)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error, already printed (2)
        return int(exc.code or 0)
    handler = getattr(args, "func", None)
    if handler is None:
        # `surge` or `surge GROUP` without a subcommand: show the relevant help.
        (getattr(args, "help_parser", None) or parser).print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("surge: interrupted", file=sys.stderr)
        return 130
    except SurgeError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"surge: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if not _names_user_path(exc, argv):
            return _internal_error(exc)
        if args.debug:
            traceback.print_exc()
        print(f"surge: error: {exc.strerror or _one_line(exc)}: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug: show where it happened  # noqa: BLE001 - anything else is a bug: traceback and exit 70
        return _internal_error(exc)


def _internal_error(exc: Exception) -> int:
    """A bug: its traceback, then one line saying so; exit 70."""
    traceback.print_exception(exc)
    print(
        f"surge: internal error ({type(exc).__name__}): this is a bug, please report it "
        "with the traceback above",
        file=sys.stderr,
    )
    return EXIT_INTERNAL
