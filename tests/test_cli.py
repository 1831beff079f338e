"""The `surge` front: every command group registered, one-line user errors (exit 2), bugs with
a traceback (exit 70), --debug, the documented exit codes, and the shared benchmark record."""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import surge.commands
import surge.exit_codes as codes
from surge.bench.docs import render
from surge.bench.record import new_record, read_records, write_record
from surge.bench.sweep import SweepBenchOptions
from surge.cli import COMMANDS, build_parser, main
from surge.commands import types

ROOT = Path(__file__).resolve().parents[1]


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (path, parser) below `parser`, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*path, name), child
                yield from _subcommands(child, (*path, name))


def test_every_command_module_is_registered_and_none_is_a_plugin() -> None:
    modules = {p.stem for p in Path(surge.commands.__file__).parent.glob("*.py")}
    modules -= {"__init__", "types"}
    assert not [m for m in modules if m.startswith("_")]
    assert modules == set(COMMANDS)
    top = {path[0] for path, _ in _subcommands(build_parser()) if len(path) == 1}
    assert top == set(COMMANDS)


@pytest.mark.parametrize("path", [path for path, _ in _subcommands(build_parser())], ids=" ".join)
def test_every_command_help_exits_0(path: tuple[str, ...], capsys) -> None:
    assert main([*path, "--help"]) == 0
    assert f"usage: surge {' '.join(path)}" in capsys.readouterr().out


def test_unknown_command_is_one_line_and_exit_2(capsys) -> None:
    assert main(["frobnicate"]) == codes.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("surge: error:") and "frobnicate" in err[0]


def test_bad_option_value_is_one_line_and_exit_2(capsys) -> None:
    assert main(["sweep", "--scenario", "smoke", "--param", "x=1", "--processes", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--processes" in err[0] and "Traceback" not in err[0]


def test_without_a_subcommand_the_help_is_shown_and_exit_2(capsys) -> None:
    assert main([]) == codes.EXIT_USAGE
    assert main(["sim"]) == codes.EXIT_USAGE
    assert "usage: surge sim" in capsys.readouterr().err


def test_an_internal_bug_shows_its_traceback_and_exits_70(monkeypatch, tmp_path, capsys) -> None:
    import simulations.center.report as report

    def broken(*_args, **_kwargs):
        raise KeyError("station_that_should_exist")

    monkeypatch.setattr(report, "run_center_replications", broken)
    argv = ["sim", "center", "--center", "gp-practice", "--out", str(tmp_path)]
    assert main(argv) == codes.EXIT_INTERNAL == 70
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "KeyError: 'station_that_should_exist'" in err
    assert err.strip().splitlines()[-1].startswith("surge: internal error (KeyError)")


def test_a_user_error_is_one_line_without_debug_and_a_traceback_with_it(tmp_path, capsys) -> None:
    argv = ["sim", "run", "--scenario", "atlantis", "--out", str(tmp_path)]
    assert main(argv) == codes.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("surge: error:") and "atlantis" in err[0]
    assert main(["--debug", *argv]) == codes.EXIT_USAGE
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ScenarioError" in err
    assert err.strip().splitlines()[-1].startswith("surge: error:")


def test_an_os_error_about_a_path_the_user_named_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    argv = ["size", "supply", "--scenario", "smoke", "--weeks", "12", "--out", str(blocker / "out")]
    assert main(argv) == codes.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("surge: error:") and str(blocker) in err[0]


def test_an_os_error_about_a_path_the_user_did_not_name_is_a_bug(monkeypatch, capsys) -> None:
    import simulations.sizing.supply as supply

    def broken(*_args, **_kwargs):
        raise FileNotFoundError(2, "No such file or directory", "/nonexistent/internal.toml")

    monkeypatch.setattr(supply, "size_scenario_supply", broken)
    assert main(["size", "supply", "--scenario", "smoke", "--weeks", "12"]) == 70
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def _documented_exit_codes() -> dict[int, str]:
    text = (ROOT / "docs/cli.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1]
    return {
        int(m.group(1)): m.group(2).strip()
        for m in re.finditer(r"^\| (\d+) \| (.+?) \|$", section, flags=re.MULTILINE)
    }


def test_exit_code_constants_match_the_documented_table() -> None:
    documented = _documented_exit_codes()
    assert set(documented) == set(codes.EXIT_CODES)
    expected = {
        codes.EXIT_OK: "ok",
        codes.EXIT_SLO_BREACHED: "SLO breached",
        codes.EXIT_USAGE: "usage or input error",
        codes.EXIT_REGRESSION: "regression",
        codes.EXIT_UNDECIDED: "undecided",
        codes.EXIT_INTERNAL: "internal error",
    }
    for code, words in expected.items():
        assert documented[code].startswith(words), (code, documented[code])
    assert (codes.EXIT_OK, codes.EXIT_SLO_BREACHED, codes.EXIT_USAGE) == (0, 1, 2)
    assert (codes.EXIT_REGRESSION, codes.EXIT_UNDECIDED, codes.EXIT_INTERNAL) == (3, 4, 70)


def test_every_documented_option_exists_on_the_commands_it_names() -> None:
    text = (ROOT / "docs/cli.md").read_text(encoding="utf-8")
    section = text.split("## Options", 1)[1]
    table = next(block for block in section.split("\n\n") if block.startswith("| flag"))
    parsers = {" ".join(path): p for path, p in _subcommands(build_parser())}
    checked = 0
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        flags = re.findall(r"`(--[a-z-]+)", cells[0])
        for command in re.sub(r"\(.*?\)", "", cells[2]).split(","):
            command = command.strip()
            if command not in parsers:
                continue
            known = {s for a in parsers[command]._actions for s in a.option_strings}
            assert any(f in known for f in flags), (flags, command)
            checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90.0), ("2m", 120.0), ("1h", 3600.0), ("250ms", 0.25), ("5", 5.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert types.duration_s(text) == seconds


@pytest.mark.parametrize("text", ["0", "-1s", "soon", "3 days"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        types.duration_s(text)


def test_a_bench_record_reruns_by_its_command_and_renders_in_the_docs(tmp_path) -> None:
    options = SweepBenchOptions(combinations=3, processes=4)
    record = new_record("sweep", options, {"speedup": 1.8, "runs": [{"scale": 1.0, "wall_s": 2}]})
    assert record.command == "surge bench sweep --combinations 3 --processes 4"
    args = build_parser().parse_args(record.command.split()[1:])
    assert SweepBenchOptions(**{k: getattr(args, k) for k in record.parameters}) == options
    path = write_record(record, tmp_path)
    assert path == tmp_path / "sweep.json"
    doc = json.loads(path.read_text())
    assert socket.gethostname() not in json.dumps(doc)
    assert {"cpu_model", "cores", "memory_gb", "python", "os"} <= set(doc["machine"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", doc["date"])
    (tmp_path / "old.json").write_text('{"benchmark": "pre-record format"}')
    [back] = read_records(tmp_path)
    assert back == record
    page = render([back], Path("results/bench"))
    assert "## sweep" in page and f"`{record.command}`" in page
    assert "| speedup | 1.8 |" in page and "| runs[1.0].wall_s | 2 |" in page


def test_a_bench_record_never_keeps_database_credentials() -> None:
    from surge.bench.app import AppBenchOptions

    record = new_record("app", AppBenchOptions(db="postgresql://me:secret@127.0.0.1/x"), {})
    assert "secret" not in json.dumps(record.parameters) and "secret" not in record.command


def test_surge_runs_as_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "surge", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "usage: surge" in done.stdout
