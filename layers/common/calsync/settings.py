"""Settings, validated once per cold start from the environment (fail loudly, never default silently)."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calsync.errors import ConfigurationError


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    appointments_table: str = Field(alias="CALSYNC_APPOINTMENTS_TABLE", min_length=3)
    integrations_table: str = Field(alias="CALSYNC_INTEGRATIONS_TABLE", min_length=3)
    ledger_table: str = Field(alias="CALSYNC_LEDGER_TABLE", min_length=3)
    feeds_table: str = Field(alias="CALSYNC_FEEDS_TABLE", min_length=3)
    feed_tokens_table: str = Field(alias="CALSYNC_FEED_TOKENS_TABLE", min_length=3)
    feed_events_table: str = Field(alias="CALSYNC_FEED_EVENTS_TABLE", min_length=3)
    feed_base_url: str | None = Field(alias="CALSYNC_FEED_BASE_URL", default=None,
                                      description="Public base of feed URLs, e.g. https://api.example.com")
    region: str = Field(alias="AWS_REGION", default="us-east-1")
    dynamodb_endpoint: str | None = Field(alias="CALSYNC_DYNAMODB_ENDPOINT", default=None,
                                          description="Only for the local stack; unset in AWS")
    event_bus_name: str | None = Field(alias="CALSYNC_EVENT_BUS_NAME", default=None)
    dead_letter_queue_url: str | None = Field(alias="CALSYNC_DEAD_LETTER_QUEUE_URL", default=None)
    lease_seconds: int = Field(alias="CALSYNC_LEASE_SECONDS", default=60, ge=5, le=900)
    provider_timeout_seconds: float = Field(alias="CALSYNC_PROVIDER_TIMEOUT_SECONDS", default=10.0, gt=0, le=60)
    secret_cache_seconds: int = Field(alias="CALSYNC_SECRET_CACHE_SECONDS", default=300, ge=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings.model_validate(dict(os.environ))
    except ValidationError as error:
        names = ", ".join(str(e["loc"][0]) for e in error.errors(include_input=False))
        raise ConfigurationError(f"invalid or missing settings: {names}") from None
