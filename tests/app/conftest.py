"""Fixtures for the reference app: a fresh database per test on each backend, an app built by
the factory against it, and helpers that create centres, slots and patients through the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace

import pytest
from sqlalchemy import create_engine
from support.booking_api import ADMIN_KEY, TestClient, day_at, make_center, open_slots

from loadtests.postgres import fresh_database
from reference_app import schema
from reference_app.app import create_app
from reference_app.identity import generate_data_key
from reference_app.settings import Settings, normalize_database_url


def _postgres_database(server_url: str) -> Iterator[str]:
    """A uniquely named database on the test server, dropped afterwards."""
    with fresh_database(server_url, prefix="surge_app") as url:
        yield normalize_database_url(url)


@pytest.fixture(scope="session")
def fresh_postgres_database() -> Callable[[str], AbstractContextManager[str]]:
    """`with fresh_postgres_database(server_url) as url`: a new database, dropped afterwards."""
    return contextmanager(_postgres_database)


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> Iterator[str]:
    """One database for this session's PostgreSQL tests; each test starts from empty tables."""
    yield from _postgres_database(postgres_url)


def _empty_tables(url: str) -> None:
    engine = create_engine(url)
    schema.metadata.create_all(engine)
    names = ", ".join(f'"{t.name}"' for t in schema.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database on each backend (PostgreSQL needs SURGE_TEST_POSTGRES_URL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    url = request.getfixturevalue("postgres_database")
    _empty_tables(url)
    yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        admin_key=ADMIN_KEY,
        data_keys=generate_data_key(),
        rate_limit_token_per_min=0,
        rate_limit_ip_per_min=0,
        waiting_room_cache_s=0.0,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app from the factory, against a fresh database (lifespan run)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def client_with(settings: Settings) -> Callable[..., AbstractContextManager[TestClient]]:
    """`with client_with(rate_limit_ip_per_min=2) as client`: the app on the same fresh database
    with these settings changed."""

    def build(**changes: object) -> AbstractContextManager[TestClient]:
        return TestClient(create_app(replace(settings, **changes)))

    return build


@pytest.fixture
def campaign(client: TestClient) -> dict:
    """One Pfizer centre with dose-1 slots tomorrow and dose-2 slots 21-49 days later."""
    center_id = make_center(client, ["pfizer", "janssen"])
    dose1 = open_slots(client, center_id, "pfizer", 1, day_at(1, 9), capacity=2, count=4)
    dose2 = open_slots(client, center_id, "pfizer", 2, day_at(1 + 22, 9), capacity=2, count=4)
    late = open_slots(client, center_id, "pfizer", 2, day_at(1 + 60, 9), capacity=2, count=1)
    janssen = open_slots(client, center_id, "janssen", 1, day_at(1, 14), capacity=1, count=2)
    return {
        "center_id": center_id,
        "dose1": dose1,
        "dose2": dose2,
        "late": late,
        "janssen": janssen,
    }
