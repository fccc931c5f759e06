"""A tenant's platform sources: settings in the intake table, credentials in Secrets Manager, and calsync
itself registered as a sender that may speak for the tenant.

:func:`connect` stores a source's settings and lets calsync (the AWS account it runs in, with the source
``ehr.platform.<platform>``) speak for the tenant in the tenant registry (``calsync.services.senders``):
the changes it publishes for the platform are then applied like an EHR's, and no one else's under that
source is.

Credentials live in one secret per tenant and platform (JSON), named and tagged in the tenant's namespace
like every calsync secret (``calsync.domain.secret_names``): ``calsync/<tenant>/platforms/<platform>``
(:func:`secret_name`), tag ``calsync-tenant``, created or overwritten through the tenant's managing session
(:func:`store_credentials`) and read through the tenant's role session (``calsync.aws.secret_store``). It
holds ``signing_secret`` (what the platform signs with), ``api_auth`` (fetch-backs, see
``calsync.platforms.api``) and, for export platforms, ``ics_url`` (an export URL is itself a credential).

Secret URLs: :func:`issue_path_secret` returns a fresh 256-bit token — shown once, to be configured at the
platform — and stores only its SHA-256. The previous token stays valid until :func:`retire_path_secrets`,
so a rotation never drops a callback in flight.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from calsync.aws import secret_store
from calsync.core.errors import ConfigurationError, ProviderAuthError
from calsync.core.observability import logger
from calsync.core.settings import get_settings
from calsync.domain import secret_names
from calsync.platforms.base import Scheme, path_secret_hash
from calsync.platforms.registry import get as platform_named
from calsync.platforms.source import Source
from calsync.services import senders
from calsync.services.platforms.publishing import event_source
from calsync.store import platform_intake
from calsync.store.platform_intake import Kind

CACHE_SECONDS = 60.0
LIVE_PATH_SECRETS = 2

_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, Source | None]] = {}


def secret_path(platform: str) -> str:
    """The source's secret within its tenant's namespace."""
    return f"platforms/{platform}"


def secret_name(tenant_id: str, platform: str) -> str:
    return secret_names.name(tenant_id, secret_path(platform))


def load(tenant_id: str, platform: str) -> Source | None:
    """The source's settings (cached for a minute: a warm function reads DynamoDB once a minute at most);
    None when the tenant has no such source or its settings are broken (logged)."""
    key = (tenant_id, platform)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    record = platform_intake.get(tenant_id, platform, Kind.SOURCE)
    source = None
    if record is not None and record.body is not None:
        try:
            source = Source.from_json(tenant_id, platform, record.body)
        except ConfigurationError as error:
            logger.error("platform source settings invalid", extra={"platform": platform, "tenant_id": tenant_id,
                                                                    "error": str(error)})
    with _lock:
        _cache[key] = (now, source)
    return source


def credentials(tenant_id: str, platform: str) -> Mapping[str, Any]:
    """The source's credentials; empty when there is no secret, or none calsync may read for this tenant
    (every check then refuses)."""
    try:
        return secret_store.read(tenant_id, secret_name(tenant_id, platform), get_settings().secret_cache_seconds)
    except ConfigurationError:
        logger.error("platform secret is not a JSON object", extra={"platform": platform, "tenant_id": tenant_id})
        return {}
    except ProviderAuthError as refused:  # not named or tagged for this tenant: AWS refused the read
        logger.error("platform secret unreadable", extra={"platform": platform, "tenant_id": tenant_id,
                                                          "reason": refused.reason})
        return {}
    except Exception as error:  # botocore's ClientError, without importing botocore at cold start
        if getattr(error, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
            return {}
        raise


def store_credentials(tenant_id: str, platform: str, value: Mapping[str, Any]) -> str:
    """Creates the source's secret, named and tagged for its tenant (``secret_store.create_named``), or gives
    the existing one this value; returns its ARN."""
    try:
        return secret_store.create_named(tenant_id, secret_path(platform), dict(value))
    except Exception as error:  # botocore's ClientError, without importing botocore at cold start
        if getattr(error, "response", {}).get("Error", {}).get("Code") != "ResourceExistsException":
            raise
    return secret_store.overwrite(tenant_id, secret_name(tenant_id, platform), dict(value))


def connect(source: Source, *, account: str, now: dt.datetime | None = None) -> None:
    """Creates or replaces a source (:func:`save`) and registers calsync as a sender for its tenant:
    ``account`` (the AWS account calsync runs in, which EventBridge names on every event it publishes) with
    the source ``ehr.platform.<platform>``."""
    save(source, now)
    senders.allow(source.tenant_id, account, event_source(source.platform))


def save(source: Source, now: dt.datetime | None = None) -> None:
    """Creates or replaces a source's settings; an export platform's source is polled from now on."""
    now = now or dt.datetime.now(dt.UTC)
    platform_intake.put(source.tenant_id, source.platform, Kind.SOURCE, body=source.to_json())
    platform = platform_named(source.platform)
    if platform is not None and platform.scheme is Scheme.EXPORT and platform_intake.get(
            source.tenant_id, source.platform, Kind.POLL) is None:
        platform_intake.put(source.tenant_id, source.platform, Kind.POLL, body={}, due=now, attempts=0)
    forget()


def issue_path_secret(tenant_id: str, platform: str) -> str:
    """A new secret-URL token for the source (the newest :data:`LIVE_PATH_SECRETS` stay valid)."""
    source = load(tenant_id, platform)
    if source is None:
        raise ConfigurationError(f"no {platform} source for this tenant")
    token = secrets.token_urlsafe(32)
    hashes = (*source.path_secret_hashes, path_secret_hash(token))[-LIVE_PATH_SECRETS:]
    save(replace(source, path_secret_hashes=hashes))
    return token


def retire_path_secrets(tenant_id: str, platform: str) -> None:
    """Keeps only the newest token (after the platform was switched to it)."""
    source = load(tenant_id, platform)
    if source is not None and source.path_secret_hashes:
        save(replace(source, path_secret_hashes=source.path_secret_hashes[-1:]))


def forget() -> None:
    """Drops cached settings (a warm function would keep them a minute)."""
    with _lock:
        _cache.clear()
