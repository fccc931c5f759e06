"""Settings: read once from the environment; missing or invalid values are named, never defaulted."""

from __future__ import annotations

import pytest

from calsync.core.errors import ConfigurationError
from calsync.core.settings import Settings

TABLES = {name: f"t-{name.lower()}" for name in Settings.required_variables()}


def test_defaults_and_values() -> None:
    settings = Settings.from_environment({**TABLES, "CALSYNC_LEASE_SECONDS": "30"})
    assert settings.lease_seconds == 30
    assert settings.provider_timeout_seconds == 10.0
    assert settings.dynamodb_endpoint is None


def test_every_missing_variable_is_named() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environment({})
    for name in TABLES:
        assert name in str(caught.value)


@pytest.mark.parametrize(("name", "value"), [("CALSYNC_LEASE_SECONDS", "2"), ("CALSYNC_LEASE_SECONDS", "soon"),
                                             ("CALSYNC_PROVIDER_TIMEOUT_SECONDS", "0"),
                                             ("CALSYNC_APPOINTMENTS_TABLE", "ab")])
def test_invalid_values_are_named(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_environment({**TABLES, name: value})
