"""Every sourced figure can be checked from a fresh clone.

No tracked file points outside the repository (research notes, absolute paths of this machine),
and every `docs/sources.md#<anchor>` (or relative `sources.md#<anchor>` link) cited in the
repository names an anchor that docs/sources.md defines (`<a id="anchor"></a>`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"
# Built from pieces so that this file does not match its own patterns.
OUTSIDE = re.compile("shared" + "/research|(?<![\\w.])/" + "work/")
CITATION = re.compile(r"sources\.md#([A-Za-z0-9_-]+)")
ANCHOR = re.compile(r"""<a id="([A-Za-z0-9_-]+)"></a>""")


def tracked_texts() -> dict[str, str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    git = ["git", "-C", str(ROOT), "ls-files", "-z"]
    # git from PATH with an argument list of our own, no shell.
    names = subprocess.run(git, check=True, capture_output=True).stdout.split(b"\0")  # noqa: S603, S607
    texts = {}
    for name in filter(None, names):
        path = ROOT / name.decode()
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary (images)
        texts[name.decode()] = data.decode("utf-8", errors="replace")
    return texts


def defined_anchors() -> set[str]:
    return set(ANCHOR.findall(SOURCES.read_text(encoding="utf-8")))


def test_no_tracked_file_points_outside_the_repository():
    offenders = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for name, text in tracked_texts().items()
        for match in OUTSIDE.finditer(text)
    ]
    assert offenders == []


def test_every_cited_anchor_exists_in_sources():
    anchors = defined_anchors()
    texts = tracked_texts()
    texts.setdefault("docs/sources.md", SOURCES.read_text(encoding="utf-8"))
    cited = {(name, anchor) for name, text in texts.items() for anchor in CITATION.findall(text)}
    assert cited, "no file cites docs/sources.md: the check would be empty"
    missing = sorted(f"{name}: #{anchor}" for name, anchor in cited if anchor not in anchors)
    assert missing == []


def test_sources_anchors_are_unique_and_links_inside_it_resolve():
    text = SOURCES.read_text(encoding="utf-8")
    ids = ANCHOR.findall(text)
    assert len(ids) == len(set(ids)), "duplicate anchor in docs/sources.md"
    local_links = re.findall(r"\]\(#([A-Za-z0-9_-]+)\)", text)
    assert sorted(set(local_links) - set(ids)) == []
