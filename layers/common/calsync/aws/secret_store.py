"""Credentials in Secrets Manager, cached in memory so a warm invocation makes no Secrets Manager call.

Writes go through ``calsync.oauth.token_secret`` (a compare-and-swap on version stages).

One secret per integration (JSON object), always one of the integration's tenant's secrets: every call
goes through :func:`client_for`, which checks the reference against the tenant's name scheme
(``calsync.domain.secret_names``) before any call and hands out a client whose credentials reach that
tenant's secrets only (``calsync.aws.tenant_session``). Values never reach a log line or an exception
message.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from calsync.aws import tenant_session
from calsync.core.errors import ConfigurationError, ProviderAuthError
from calsync.core.settings import get_settings
from calsync.domain.secret_names import SecretOutsideTenant, owner_segment

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

OUTSIDE_TENANT = "secret_outside_tenant"
"""Reason of the :class:`ProviderAuthError` for a reference to another tenant's (or no tenant's) secret:
the integration's work is parked and it goes to ``error`` until its record is fixed."""

ACCESS_DENIED = "secret_access_denied"
"""Reason when AWS refuses the read: the secret's ``calsync-tenant`` tag does not match its name's tenant."""

_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}


def client_for(tenant_id: str, secret_ref: str) -> SecretsManagerClient:
    """The one way to a Secrets Manager client: only for one of ``tenant_id``'s own secrets."""
    try:
        segment = owner_segment(tenant_id, secret_ref, region=get_settings().region,
                                account=tenant_session.role_account())
    except SecretOutsideTenant:
        raise ProviderAuthError("secrets", OUTSIDE_TENANT) from None
    return tenant_session.secrets_client(segment)


def read(tenant_id: str, secret_ref: str, max_age_seconds: float) -> dict[str, Any]:
    """The secret's JSON value, from memory when younger than ``max_age_seconds``."""
    now = time.monotonic()
    key = (tenant_id, secret_ref)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and now - cached[0] < max_age_seconds:
            return cached[1]
    from botocore.exceptions import ClientError

    client = client_for(tenant_id, secret_ref)
    try:
        raw = client.get_secret_value(SecretId=secret_ref, VersionStage="AWSCURRENT")["SecretString"]
        value = json.loads(raw)
    except (KeyError, ValueError):
        raise ConfigurationError("secret is not a JSON object") from None
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "AccessDeniedException":
            raise ProviderAuthError("secrets", ACCESS_DENIED) from None
        raise
    if not isinstance(value, dict):
        raise ConfigurationError("secret is not a JSON object")
    with _lock:
        _cache[key] = (now, value)
    return value


def forget(secret_ref: str | None = None) -> None:
    """Drops cached values (all of them without an argument)."""
    with _lock:
        for key in [k for k in _cache if secret_ref is None or k[1] == secret_ref]:
            del _cache[key]
