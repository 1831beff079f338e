"""Shared fixtures. Backend-specific fixtures live next to the tests that use them."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from simulations.scenario.scenario import Scenario, load_scenario


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server for backend tests; skips with a reason when it is not configured."""
    url = os.environ.get("SURGE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SURGE_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    return url


@pytest.fixture(scope="session")
def smoke_scenario() -> Scenario:
    """The built-in smoke scenario (frozen, so one copy serves every test)."""
    return load_scenario("smoke")


@pytest.fixture(scope="session")
def smoke_variant() -> Callable[..., Scenario]:
    """`smoke_variant("duration_min=30", ...)`: the smoke scenario with these overrides."""

    def variant(*overrides: str) -> Scenario:
        return load_scenario("smoke", list(overrides))

    return variant
