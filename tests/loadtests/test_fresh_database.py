"""The fresh PostgreSQL database: created with a random name on a real server, usable, and gone
afterwards (also when the block fails); an unreachable server is one clear error."""

from __future__ import annotations

import psycopg
import pytest

from loadtests.postgres import PostgresUnavailable, fresh_database


def _exists(server_url: str, name: str) -> bool:
    with psycopg.connect(server_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return found is not None


@pytest.mark.postgres
def test_a_fresh_database_is_new_usable_and_dropped_after(postgres_url: str) -> None:
    with (
        fresh_database(postgres_url, prefix="surge_test") as url,
        fresh_database(postgres_url) as other,
    ):
        name = url.rsplit("/", 1)[1].split("?")[0]
        assert url.startswith("postgresql://") and name.startswith("surge_test_")
        assert other != url
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
            conn.execute("CREATE TABLE t (x int)")
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
        assert _exists(postgres_url, name)
    assert not _exists(postgres_url, name)


@pytest.mark.postgres
def test_the_database_is_dropped_when_the_block_fails_and_the_error_is_kept(
    postgres_url: str,
) -> None:
    with pytest.raises(KeyError, match="inside"), fresh_database(postgres_url) as url:
        conn = psycopg.connect(url)  # left open: the drop forces it closed
        raise KeyError("inside")
    conn.close()
    assert not _exists(postgres_url, url.rsplit("/", 1)[1])


def test_an_unreachable_server_is_one_clear_error() -> None:
    with (
        pytest.raises(PostgresUnavailable, match=r"127\.0\.0\.1:1\b"),
        fresh_database("postgresql://postgres@127.0.0.1:1/test"),
    ):
        pytest.fail("no database can have been created")


def test_a_url_that_is_not_postgresql_is_refused() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"), fresh_database("sqlite:///x.db"):
        pytest.fail("no database can have been created")
