"""A tenant's platform sources: settings in the intake table, credentials in Secrets Manager.

Credentials live in one secret per tenant and platform (JSON), named and tagged in the tenant's namespace
like every calsync secret: ``calsync/<tenant>/platforms/<platform>`` (:func:`secret_name`; a ``:`` of the
tenant id written ``+``), tag ``calsync-tenant = <tenant>`` (:func:`secret_tags`). It holds
``signing_secret`` (what the platform signs with), ``api_auth`` (fetch-backs, see ``calsync.platforms.api``)
and, for export platforms, ``ics_url`` (an export URL is itself a credential).

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
from calsync.core.errors import ConfigurationError
from calsync.core.observability import logger
from calsync.core.settings import get_settings
from calsync.platforms.base import Scheme, path_secret_hash
from calsync.platforms.registry import get as platform_named
from calsync.platforms.source import Source
from calsync.store import platform_intake
from calsync.store.platform_intake import Kind

CACHE_SECONDS = 60.0
LIVE_PATH_SECRETS = 2

_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, Source | None]] = {}


TENANT_TAG = "calsync-tenant"
"""The tag that binds a secret to its tenant (the tenant's segment of the secret's name)."""


def _segment(tenant_id: str) -> str:
    """The tenant's part of its secret names: ``:`` (allowed in ids, not in secret names) as ``+``."""
    return tenant_id.replace(":", "+")


def secret_name(tenant_id: str, platform: str) -> str:
    return f"calsync/{_segment(tenant_id)}/platforms/{platform}"


def secret_tags(tenant_id: str) -> dict[str, str]:
    """The tags the source's secret carries: its tenant."""
    return {TENANT_TAG: _segment(tenant_id)}


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
    """The source's credentials; empty when there is no secret (every check then refuses)."""
    try:
        return secret_store.read(secret_name(tenant_id, platform), get_settings().secret_cache_seconds)
    except ConfigurationError:
        logger.error("platform secret is not a JSON object", extra={"platform": platform, "tenant_id": tenant_id})
        return {}
    except Exception as error:  # botocore's ClientError, without importing botocore at cold start
        if getattr(error, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
            return {}
        raise


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
