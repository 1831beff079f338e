"""`surge bench server-timing` refuses bad counts in one line (exit 2) before starting anything."""

from __future__ import annotations

import pytest

from surge.cli import main


@pytest.mark.parametrize("args", [["--rounds", "0"], ["--requests", "0"]])
def test_bad_counts_are_one_line_usage_errors(args, capsys) -> None:
    assert main(["bench", "server-timing", *args]) == 2
    err = capsys.readouterr().err
    assert "must be an integer >= 1" in err and len(err.strip().splitlines()) == 1
