"""Fixtures for the reliability tests: real `surge app serve` processes on free ports, each on a
fresh database (a SQLite file, or a uniquely named PostgreSQL database dropped afterwards)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from support.booking_api import NO_RATE_LIMITS, BookingApi, api_for

from loadtests.app_launcher import ServedApp, served_app
from loadtests.postgres import fresh_database as postgres_database


@pytest.fixture(scope="session")
def fresh_postgres_database() -> Callable[[str], AbstractContextManager[str]]:
    """`with fresh_postgres_database(server_url) as url`: a new database, dropped afterwards."""
    return postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'surge.db'}"
        return
    with postgres_database(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def serve(tmp_path: Path):
    """`serve(url, *args)`: the real app as a subprocess, its output in tmp_path/app-N.log."""
    count = [0]

    def _serve(
        url: str, *args: str, workers: int = 1, keys: tuple[str, str] | None = None
    ) -> AbstractContextManager[ServedApp]:
        count[0] += 1
        admin_key, data_key = keys or (None, None)
        return served_app(
            url,
            workers=workers,
            extra_args=[*NO_RATE_LIMITS, *args] if "--rate-limit-ip" not in args else list(args),
            admin_key=admin_key,
            data_key=data_key,
            log_path=tmp_path / f"app-{count[0]}.log",
            cwd=tmp_path,
        )

    return _serve


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServedApp, str]]:
    """One served app per backend for a whole test module: (app, database URL)."""
    yield from _module_app(request, tmp_path_factory, NO_RATE_LIMITS)


@pytest.fixture(scope="module")
def shared_api(shared_app: tuple[ServedApp, str]) -> BookingApi:
    """The booking client of this module's shared app."""
    return api_for(shared_app[0])


def _module_app(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, args: Sequence[str]
) -> Iterator[tuple[ServedApp, str]]:
    where = factory.mktemp("app")
    if request.param == "sqlite":
        url = f"sqlite:///{where / 'surge.db'}"
        with served_app(url, extra_args=args, log_path=where / "app.log", cwd=where) as app:
            yield app, url
        return
    with (
        postgres_database(request.getfixturevalue("postgres_url")) as url,
        served_app(url, extra_args=args, log_path=where / "app.log", cwd=where) as app,
    ):
        yield app, url
