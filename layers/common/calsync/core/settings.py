"""Settings, validated once per cold start from the environment (fail loudly, never default silently).

A plain dataclass rather than a pydantic model: every function reads settings at import, and the feed
function otherwise needs no pydantic at all, so this keeps ~80 ms of imports off its cold start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from calsync.core.errors import ConfigurationError


def _env(name: str, *, default: Any = None, required: bool = False, check: Callable[[Any], bool] | None = None,
         cast: Callable[[str], Any] = str) -> Any:
    return field(default=default, metadata={"env": name, "required": required, "check": check, "cast": cast})


def _name(value: str) -> bool:
    return len(value) >= 3


DEPLOYMENT_SECRETS = "calsync/_deployment/"
"""Where the deployment's own secrets live (the OAuth clients): no tenant's, read with the functions' own role."""


def _deployment_secret(value: str) -> bool:
    rest = value.removeprefix(DEPLOYMENT_SECRETS)
    return rest != value and bool(re.fullmatch(r"[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*", rest))


def _role_arn(value: str) -> bool:
    return re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", value) is not None


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise ValueError(raw)


PROVIDER_ENDPOINTS: dict[str, tuple[str, str]] = {
    # setting: (default, the only host it may name in a deployment)
    "google_api_base": ("https://www.googleapis.com/calendar/v3", "www.googleapis.com"),
    "google_token_uri": ("https://oauth2.googleapis.com/token", "oauth2.googleapis.com"),
    "google_revoke_uri": ("https://oauth2.googleapis.com/revoke", "oauth2.googleapis.com"),
    "google_authorize_uri": ("https://accounts.google.com/o/oauth2/v2/auth", "accounts.google.com"),
    "graph_api_base": ("https://graph.microsoft.com/v1.0", "graph.microsoft.com"),
    "microsoft_login_base": ("https://login.microsoftonline.com", "login.microsoftonline.com"),
    "icloud_caldav_url": ("https://caldav.icloud.com", "caldav.icloud.com"),
}
"""Where OAuth tokens and calendar data may be sent. Deployment settings, never integration data, and
pinned to the provider's own host: only ``CALSYNC_LOCAL_DEVELOPMENT`` lets them name a loopback
simulator instead."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _public_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment


def endpoint_allowed(url: str, host: str, local_development: bool) -> bool:
    """An https URL on ``host``; in local development also a loopback URL (http or https)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname == host and not parts.username and not parts.password:
        return True
    return local_development and parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS


@dataclass(frozen=True)
class Settings:
    appointments_table: str = _env("CALSYNC_APPOINTMENTS_TABLE", required=True, check=_name)
    integrations_table: str = _env("CALSYNC_INTEGRATIONS_TABLE", required=True, check=_name)
    ledger_table: str = _env("CALSYNC_LEDGER_TABLE", required=True, check=_name)
    feeds_table: str = _env("CALSYNC_FEEDS_TABLE", required=True, check=_name)
    feed_tokens_table: str = _env("CALSYNC_FEED_TOKENS_TABLE", required=True, check=_name)
    feed_events_table: str = _env("CALSYNC_FEED_EVENTS_TABLE", required=True, check=_name)
    watches_table: str = _env("CALSYNC_WATCHES_TABLE", required=True, check=_name)
    pulls_table: str = _env("CALSYNC_PULLS_TABLE", required=True, check=_name)
    busy_blocks_table: str = _env("CALSYNC_BUSY_BLOCKS_TABLE", required=True, check=_name)
    conflicts_table: str = _env("CALSYNC_CONFLICTS_TABLE", required=True, check=_name)
    tenants_table: str = _env("CALSYNC_TENANTS_TABLE", required=True, check=_name)
    platform_intake_table: str = _env("CALSYNC_PLATFORM_INTAKE_TABLE", required=True, check=_name)
    disclosures_table: str = _env("CALSYNC_DISCLOSURES_TABLE", required=True, check=_name)
    disclosure_retention_days: int = _env("CALSYNC_DISCLOSURE_RETENTION_DAYS", default=2192, cast=int,
                                          check=lambda v: 1 <= v <= 36500)
    """How long the accounting of disclosures is kept (default six years, HIPAA's retention for it)."""
    connect_links_table: str = _env("CALSYNC_CONNECT_LINKS_TABLE", required=True, check=_name)
    oauth_states_table: str = _env("CALSYNC_OAUTH_STATES_TABLE", required=True, check=_name)
    feed_base_url: str | None = _env("CALSYNC_FEED_BASE_URL")  # public base of feed URLs
    feed_cache_bucket: str | None = _env("CALSYNC_FEED_CACHE_BUCKET")  # rendered feed bodies (aws.feed_bodies)
    region: str = _env("AWS_REGION", default="us-east-1")
    dynamodb_endpoint: str | None = _env("CALSYNC_DYNAMODB_ENDPOINT")  # only for the local stack
    event_bus_name: str | None = _env("CALSYNC_EVENT_BUS_NAME")
    dead_letter_queue_url: str | None = _env("CALSYNC_DEAD_LETTER_QUEUE_URL")
    pull_queue_url: str | None = _env("CALSYNC_PULL_QUEUE_URL")  # pull jobs (two-way sync)
    pull_dead_letter_queue_url: str | None = _env("CALSYNC_PULL_DEAD_LETTER_QUEUE_URL")
    webhook_base_url: str | None = _env("CALSYNC_WEBHOOK_BASE_URL")
    """Public https base of the provider webhooks (``.../webhooks``): where push channels deliver."""
    lease_seconds: int = _env("CALSYNC_LEASE_SECONDS", default=60, cast=int, check=lambda v: 5 <= v <= 900)
    provider_timeout_seconds: float = _env("CALSYNC_PROVIDER_TIMEOUT_SECONDS", default=10.0, cast=float,
                                           check=lambda v: 0 < v <= 60)
    secret_cache_seconds: int = _env("CALSYNC_SECRET_CACHE_SECONDS", default=300, cast=int, check=lambda v: v >= 0)
    tenant_secrets_role_arn: str | None = _env("CALSYNC_TENANT_SECRETS_ROLE_ARN", check=_role_arn)
    """The role whose sessions, tagged with one tenant, may reach that tenant's secrets only
    (``calsync.aws.tenant_session``). Set for every function that touches secrets; without it (operator
    tools) secrets are read with the caller's own credentials."""
    tenant_secrets_manager_role_arn: str | None = _env("CALSYNC_TENANT_SECRETS_MANAGER_ROLE_ARN", check=_role_arn)
    """The role whose tenant-tagged sessions may also create, overwrite and retire that tenant's secrets (the
    connect page and the integration API); without it the caller's own credentials are used."""
    local_development: bool = _env("CALSYNC_LOCAL_DEVELOPMENT", default=False, cast=_flag)
    """The local stack only: provider endpoints may name loopback simulators, CalDAV may be plain http."""
    google_api_base: str = _env("CALSYNC_GOOGLE_API_BASE", default=PROVIDER_ENDPOINTS["google_api_base"][0])
    google_token_uri: str = _env("CALSYNC_GOOGLE_TOKEN_URI", default=PROVIDER_ENDPOINTS["google_token_uri"][0])
    google_revoke_uri: str = _env("CALSYNC_GOOGLE_REVOKE_URI", default=PROVIDER_ENDPOINTS["google_revoke_uri"][0])
    google_authorize_uri: str = _env("CALSYNC_GOOGLE_AUTHORIZE_URI",
                                     default=PROVIDER_ENDPOINTS["google_authorize_uri"][0])
    graph_api_base: str = _env("CALSYNC_GRAPH_API_BASE", default=PROVIDER_ENDPOINTS["graph_api_base"][0])
    microsoft_login_base: str = _env("CALSYNC_MICROSOFT_LOGIN_BASE",
                                     default=PROVIDER_ENDPOINTS["microsoft_login_base"][0])
    icloud_caldav_url: str = _env("CALSYNC_ICLOUD_CALDAV_URL", default=PROVIDER_ENDPOINTS["icloud_caldav_url"][0])
    # -- the connect page and the integration API (calsync.services.connect) --
    public_base_url: str | None = _env("CALSYNC_PUBLIC_BASE_URL", check=_public_url)
    """Public base of the HTTP API: connect pages and the exact OAuth redirect URIs are built from it,
    never from a request's Host header."""
    connect_link_key: str | None = _env("CALSYNC_CONNECT_LINK_KEY")
    """The KMS HMAC key (id, ARN or alias) that signs connect links."""
    google_oauth_app_secret: str | None = _env("CALSYNC_GOOGLE_OAUTH_APP_SECRET", check=_deployment_secret)
    """Secret holding the Google OAuth client (``client_id``, ``client_secret``); unset: Google is not offered."""
    microsoft_oauth_app_secret: str | None = _env("CALSYNC_MICROSOFT_OAUTH_APP_SECRET", check=_deployment_secret)
    """Secret holding the Microsoft OAuth client; unset: Microsoft is not offered."""
    api_caller_prefix: str = _env("CALSYNC_API_CALLER_PREFIX", default="calsync-tenant-", check=_name)
    """Integration API callers are IAM roles or users named ``<prefix><tenant_id>``."""
    api_caller_accounts: str | None = _env("CALSYNC_API_CALLER_ACCOUNTS")
    """Comma-separated AWS accounts whose principals may call the integration API (unset: this one only)."""

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
        settings = cls(**values)
        for spec in fields(cls):
            if spec.name in PROVIDER_ENDPOINTS and not endpoint_allowed(
                    getattr(settings, spec.name), PROVIDER_ENDPOINTS[spec.name][1], settings.local_development):
                bad.append(spec.metadata["env"])
        if settings.public_base_url and not (settings.public_base_url.startswith("https://") or (
                settings.local_development and urlsplit(settings.public_base_url).hostname in LOOPBACK_HOSTS)):
            bad.append("CALSYNC_PUBLIC_BASE_URL")  # pages and OAuth redirects over https only, but locally
        if bad:
            raise ConfigurationError(f"invalid or missing settings: {', '.join(bad)}")
        return settings

    @classmethod
    def required_variables(cls) -> set[str]:
        return {spec.metadata["env"] for spec in fields(cls) if spec.metadata["required"]}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment(os.environ)
