"""`surge demo --quick` runs every step for real and writes a page that renders in a browser."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EXPECTED_IMAGES = (
    "sim/timeseries.png",
    "sim/arrivals.png",
    "sim/waits.png",
    "size/platform/platform_sizing.png",
    "size/supply/supply_sizing.png",
    "loadtest_figures/loadtest_latency.png",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("demo")
    done = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        [sys.executable, "-m", "surge", "demo", "--quick", "--quiet", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    return done, out


@pytest.mark.slow
def test_quick_demo_runs_every_step_and_says_where_to_look(demo):
    done, out = demo
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    for step in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]"):
        assert step in done.stdout
    assert str(out / "index.html") in done.stdout
    assert (out / "loadtest" / "report.html").is_file()
    assert (out / "loadtest" / "summary.json").is_file()
    assert (out / "sim" / "summary.json").is_file()


@pytest.mark.slow
def test_demo_page_links_and_images_point_at_files_that_exist(demo):
    _, out = demo
    page = (out / "index.html").read_text(encoding="utf-8")
    targets = re.findall(r'(?:href|src)="([^"#:]+)"', page)
    assert "loadtest/report.html" in targets
    for image in EXPECTED_IMAGES:
        assert image in targets
    missing = [t for t in targets if not (out / t).is_file()]
    assert not missing
    assert "not run" not in page and "has no results" not in page


@pytest.mark.slow
def test_demo_page_renders_in_headless_chromium_with_every_image_loaded(demo, tmp_path: Path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs it from Debian when root)")
    _, out = demo
    profile = tmp_path / "chromium-profile"
    done = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            (out / "index.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body, done.stderr[-2000:]
    total = re.search(r'data-images-total="(\d+)"', body.group(0))
    loaded = re.search(r'data-images-loaded="(\d+)"', body.group(0))
    assert total and loaded, f"the page's load script did not run: {body.group(0)}"
    assert int(total.group(1)) >= len(EXPECTED_IMAGES)
    assert int(loaded.group(1)) == int(total.group(1))
