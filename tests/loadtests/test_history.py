"""`surge loadtest history`: rows keyed by machine and commit; change points found on synthetic
series with known steps; machines never mixed; CSV and PostgreSQL stores; bad input exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from loadtests.history import HistoryRow, add_run, change_points, detect, read_history
from surge.cli import main

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "results" / "baselines" / "ci-smoke-sqlite"


def _series(
    steps: dict[int, float], n: int = 40, noise: float = 0.05, seed: int = 0
) -> list[float]:
    rng = np.random.default_rng(seed)
    level = np.ones(n)
    for at, factor in steps.items():
        level[at:] *= factor
    return list(5.0 * level * np.exp(rng.normal(0, noise, n)))


def test_known_steps_are_found_where_they_are() -> None:
    seeds = range(20)
    # 5 % noise per run (log scale); steps of +25 % at run 20, and a rise then a fall.
    false = sum(len(detect(_series({}, seed=i))) for i in seeds)
    found = [detect(_series({20: 1.25}, seed=i)) for i in seeds]
    recall = sum(any(abs(c - 20) <= 1 for c in cuts) for cuts in found) / len(found)
    both = [detect(_series({12: 1.5, 28: 0.7}, seed=i)) for i in seeds]
    assert false <= 2  # at most one spurious change per ten flat series
    assert recall >= 0.95
    assert sum(len(c) == 2 and abs(c[0] - 12) <= 1 and abs(c[1] - 28) <= 1 for c in both) >= 18


def _rows(machine: str, values: list[float], route: str = "search") -> list[HistoryRow]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        HistoryRow(machine, f"c{i:03d}", (start + timedelta(hours=i)).isoformat(), f"r{i}",
                   route, v, 2 * v, 100)
        for i, v in enumerate(values)
    ]  # fmt: skip


def test_change_points_name_the_commit_and_the_size_and_keep_machines_apart() -> None:
    fast = _rows("ci-1", _series({}, seed=2))
    # The same route on a slower machine: as one series it would look like a step.
    slow = _rows("ci-2", [2 * v for v in _series({25: 1.25}, seed=3)])
    points = change_points(fast + slow)
    assert [(p.machine, p.route, p.commit) for p in points] == [("ci-2", "search", "c025")]
    assert points[0].change == pytest.approx(0.25, abs=0.06)


def test_add_and_check_through_the_cli_with_a_csv_store(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store = tmp_path / "store"
    for commit in ("aaa", "bbb"):
        assert main(["loadtest", "history", "add", str(BASELINE), "--store", str(store),
                     "--machine", "m1", "--commit", commit]) == 0  # fmt: skip
    rows = read_history(str(store))
    assert {r.commit for r in rows} == {"aaa", "bbb"} and {r.machine for r in rows} == {"m1"}
    summary = json.loads((BASELINE / "summary.json").read_text())
    search = next(r for r in rows if r.route == "search")
    assert search.p50_ms == summary["routes"]["search"]["hdr"]["p50_ms"]
    assert main(["loadtest", "history", "check", "--store", str(store), "--out",
                 str(tmp_path / "out")]) == 0  # fmt: skip
    assert "no change point" in capsys.readouterr().out
    assert (tmp_path / "out" / "history.png").stat().st_size > 0


@pytest.mark.postgres
def test_the_postgresql_store_keeps_the_same_rows(postgres_url: str) -> None:
    import uuid

    import psycopg

    name = f"surge_hist_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        added = add_run(BASELINE, url, machine="m1", commit="abc")
        assert sorted(read_history(url), key=lambda r: r.route) == sorted(
            added, key=lambda r: r.route
        )
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "no-such-dir", "--store", "x"], "not a directory"),
        (["add", str(REPO / "docs"), "--store", "x", "--commit", "a"], "summary.json"),
        (["check", "--store", "no-such-store"], "no history"),
        (["check", "--store", "x", "--penalty", "-1"], "--penalty"),
    ],
)
def test_bad_input_exits_2_in_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["loadtest", "history", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_an_ab_directory_adds_arm_b_medians(tmp_path: Path) -> None:
    run = tmp_path / "ab"
    run.mkdir()
    (run / "slices.csv").write_text(
        "pair,arm,route,n,p50_ms,p95_ms\n"
        "0,a,search,20,5.0,9.0\n0,b,search,20,6.0,10.0\n"
        "1,a,search,20,5.0,9.0\n1,b,search,20,8.0,12.0\n"
        "2,a,search,20,5.0,9.0\n2,b,search,20,7.0,11.0\n"
    )
    (row,) = add_run(run, str(tmp_path / "store"), machine="m", commit="c")
    assert (row.route, row.p50_ms, row.p95_ms, row.count) == ("search", 7.0, 11.0, 60)
