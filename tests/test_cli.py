import subprocess
import sys

from surge.cli import build_parser, main


def test_surge_help_lists_subcommands(capsys):
    parser = build_parser()
    help_text = parser.format_help()
    assert "surge" in help_text


def test_surge_without_command_exits_with_usage_code(capsys):
    assert main([]) == 2


def test_surge_runs_as_module():
    done = subprocess.run(
        [sys.executable, "-m", "surge", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "usage: surge" in done.stdout
