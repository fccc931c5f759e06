"""Settings, validated once per cold start from the environment (fail loudly, never default silently).

A plain dataclass rather than a pydantic model: every function reads settings at import, and the feed
function otherwise needs no pydantic at all, so this keeps ~80 ms of imports off its cold start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from calsync.errors import ConfigurationError


def _env(name: str, *, default: Any = None, required: bool = False, check: Callable[[Any], bool] | None = None,
         cast: Callable[[str], Any] = str) -> Any:
    return field(default=default, metadata={"env": name, "required": required, "check": check, "cast": cast})


def _name(value: str) -> bool:
    return len(value) >= 3


def _flag(value: str) -> bool:
    if value.lower() not in ("1", "true", "0", "false"):
        raise ValueError(value)
    return value.lower() in ("1", "true")


@dataclass(frozen=True)
class Settings:
    appointments_table: str = _env("CALSYNC_APPOINTMENTS_TABLE", required=True, check=_name)
    integrations_table: str = _env("CALSYNC_INTEGRATIONS_TABLE", required=True, check=_name)
    ledger_table: str = _env("CALSYNC_LEDGER_TABLE", required=True, check=_name)
    feeds_table: str = _env("CALSYNC_FEEDS_TABLE", required=True, check=_name)
    feed_tokens_table: str = _env("CALSYNC_FEED_TOKENS_TABLE", required=True, check=_name)
    feed_events_table: str = _env("CALSYNC_FEED_EVENTS_TABLE", required=True, check=_name)
    platform_intake_table: str = _env("CALSYNC_PLATFORM_INTAKE_TABLE", required=True, check=_name)
    feed_base_url: str | None = _env("CALSYNC_FEED_BASE_URL")  # public base of feed URLs
    region: str = _env("AWS_REGION", default="us-east-1")
    dynamodb_endpoint: str | None = _env("CALSYNC_DYNAMODB_ENDPOINT")  # only for the local stack
    event_bus_name: str | None = _env("CALSYNC_EVENT_BUS_NAME")
    dead_letter_queue_url: str | None = _env("CALSYNC_DEAD_LETTER_QUEUE_URL")
    lease_seconds: int = _env("CALSYNC_LEASE_SECONDS", default=60, cast=int, check=lambda v: 5 <= v <= 900)
    provider_timeout_seconds: float = _env("CALSYNC_PROVIDER_TIMEOUT_SECONDS", default=10.0, cast=float,
                                           check=lambda v: 0 < v <= 60)
    secret_cache_seconds: int = _env("CALSYNC_SECRET_CACHE_SECONDS", default=300, cast=int, check=lambda v: v >= 0)
    # The local stack only: booking-platform and ICS URLs may then be plain http and on loopback.
    local_development: bool = _env("CALSYNC_LOCAL_DEVELOPMENT", default=False, cast=_flag)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Reads every setting; raises :class:`ConfigurationError` naming each missing or invalid variable."""
        values: dict[str, Any] = {}
        bad: list[str] = []
        for spec in fields(cls):
            meta = spec.metadata
            raw = environ.get(meta["env"])
            if raw is None or raw == "":
                if meta["required"]:
                    bad.append(meta["env"])
                continue
            try:
                value = meta["cast"](raw)
            except ValueError:
                bad.append(meta["env"])
                continue
            if meta["check"] is not None and not meta["check"](value):
                bad.append(meta["env"])
                continue
            values[spec.name] = value
        if bad:
            raise ConfigurationError(f"invalid or missing settings: {', '.join(bad)}")
        return cls(**values)

    @classmethod
    def required_variables(cls) -> set[str]:
        return {spec.metadata["env"] for spec in fields(cls) if spec.metadata["required"]}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment(os.environ)
