"""The booking-platform API simulator as a pytest fixture (``platform_sim``): started once per session
on its own loopback port, reset for every test, with calsync's cached platform settings and secrets
forgotten. Loaded as a plugin from ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.sims.platforms import PlatformSimulator


@pytest.fixture(scope="session")
def _platform_server() -> Iterator[PlatformSimulator]:
    with PlatformSimulator() as sim:
        yield sim


@pytest.fixture
def platform_sim(_platform_server: PlatformSimulator) -> PlatformSimulator:
    from calsync.aws import secret_store
    from calsync.services.platforms import sources

    _platform_server.reset()
    sources.forget()
    secret_store.forget()
    return _platform_server
