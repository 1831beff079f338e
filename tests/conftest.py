"""Shared fixtures. Backend-specific fixtures live next to the tests that use them."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server for backend tests; skips with a reason when it is not configured."""
    url = os.environ.get("SURGE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SURGE_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    return url
