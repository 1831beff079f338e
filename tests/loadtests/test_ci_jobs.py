"""The GitHub Actions and GitLab CI jobs of docs/ci.md run the same `surge` command; this runs
it (in a temporary directory) and checks what the jobs gate on and keep."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _job_commands() -> list[list[str]]:
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    section = text.split("## A surge in your pipeline", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    commands = []
    for block in blocks:
        lines = [m.group(1) for m in re.finditer(r"- (?:run: )?(surge .+)$", block, re.MULTILINE)]
        assert len(lines) == 1, block
        commands.append(shlex.split(lines[0]))
    return commands


def test_both_jobs_run_the_same_surge():
    github, gitlab = _job_commands()
    assert github == gitlab and github[:3] == ["surge", "loadtest", "run"]


@pytest.mark.slow
def test_the_jobs_surge_passes_and_leaves_its_report_and_junit(tmp_path):
    command = _job_commands()[0]
    out = tmp_path / command[command.index("--out") + 1]
    junit = tmp_path / command[command.index("--junit") + 1]
    command[command.index("--out") + 1] = str(out)
    command[command.index("--junit") + 1] = str(junit)
    done = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True,
                          timeout=240, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("report.html", "summary.json"):
        assert (out / name).exists()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) > 5
