"""The integration API's request and response bodies (pydantic): Powertools validates requests against
them and publishes them in the OpenAPI document (``docs/integration-api.openapi.json``).

``IntegrationSettings`` and ``SettingsChange`` are made from ``calsync.domain.model.Integration`` itself
(``api.SETTINGS_FIELDS``): a field added to the model is in the API, and in the published document once
it is regenerated (a test fails until it is).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

from calsync.domain.contract import Identifier
from calsync.domain.model import Integration, IntegrationStatus, PrivacySettings, Provider, SyncWindow
from calsync.services.connect.api import SETTINGS_FIELDS

_FIELDS = Integration.model_fields
IntegrationSettings: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "IntegrationSettings", __config__=ConfigDict(extra="forbid"),
    **{name: (_FIELDS[name].annotation, _FIELDS[name]) for name in SETTINGS_FIELDS})
SettingsChange: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "SettingsChange", __config__=ConfigDict(extra="forbid"),
    **{name: (cast(Any, _FIELDS[name].annotation) | None, Field(default=None, description=_FIELDS[name].description))
       for name in SETTINGS_FIELDS})


class ConnectLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    practitioner_id: Identifier
    reconnect_integration_id: Identifier | None = Field(
        default=None, description="An integration of this practitioner whose consent the clinician renews")


class ConnectLink(BaseModel):
    url: str = Field(description="Single use, signed; open it in the clinician's browser")
    expires_at: dt.datetime


class IntegrationView(BaseModel):
    integration_id: str
    tenant_id: str
    practitioner_id: str
    provider: Provider
    account: str | None = Field(default=None, description="The address the provider said signed in (read-only)")
    status: IntegrationStatus
    status_reason: str | None
    last_synced_at: dt.datetime | None
    last_error: str | None
    settings: dict[str, Any] = Field(description="The integration's settings (IntegrationSettings)")


class IntegrationList(BaseModel):
    integrations: list[IntegrationView]


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backfill: bool = Field(default=False, description="Also bring every appointment in the window up to date")


class DisconnectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remove_events: bool = Field(default=False, description="Delete every event calsync put in the calendar")


class DisconnectResult(BaseModel):
    integration: IntegrationView
    revoked: bool = Field(description="The grant was revoked at the provider (Google)")
    events_removed: int
    events_left: int = Field(description="Events that could not be removed within this request")
    secret_retired: bool = Field(description="The credentials were overwritten and their deletion scheduled")


class FeedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    practitioner_id: Identifier | None = None
    practice_id: Identifier | None = None
    locations: list[str] = Field(default_factory=list, max_length=50)
    privacy: PrivacySettings = PrivacySettings()
    window: SyncWindow = SyncWindow()
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")


class FeedUrl(BaseModel):
    token_id: str
    url: str | None = Field(description="Shown once: calsync keeps only a hash of it")


class FeedUrlInfo(BaseModel):
    token_id: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class FeedUrlList(BaseModel):
    urls: list[FeedUrlInfo]


class FeedCreated(BaseModel):
    feed: IntegrationView
    url: FeedUrl


class ErrorBody(BaseModel):
    message: str
