"""Secrets Manager clients that can reach one tenant's secrets and nothing else.

The functions' own roles hold no Secrets Manager permission. To touch a secret, calsync assumes the
tenant-secrets role (``CALSYNC_TENANT_SECRETS_ROLE_ARN``, template.yaml ``TenantSecretsRole``) with a
session tag ``calsync-tenant = <tenant segment>``; that role's policy allows a secret only when its name is
under ``calsync/<that segment>/`` and its own ``calsync-tenant`` tag equals the session's. So even a bug
that names the wrong secret is refused by AWS, not only by ``calsync.domain.secret_names``.

Reading a secret and storing refreshed tokens go through that role. Creating a secret, overwriting one on
a reconnect and retiring one (the connect page, the integration API) go through a second role with the
same tag rule (``CALSYNC_TENANT_SECRETS_MANAGER_ROLE_ARN``, ``TenantSecretsManagerRole``), which the workers
that sync cannot assume: it may create a secret only when named and tagged for the session's tenant.

Session credentials last an hour (the most a chained role session may); each tenant's client is kept in
memory until five minutes before they expire, so a warm invocation makes no STS call. Without the setting
(operator tools run by hand) the caller's own credentials are used.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from calsync.core.settings import get_settings
from calsync.domain.secret_names import TAG_KEY

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient

SESSION_SECONDS = 3600
REFRESH_MARGIN_SECONDS = 300.0


@dataclass(frozen=True)
class _Session:
    client: SecretsManagerClient
    expires_at: float  # time.time()


_lock = threading.Lock()
_sessions: dict[tuple[str, str], _Session] = {}
_session_locks: dict[tuple[str, str], threading.Lock] = {}


@lru_cache(maxsize=1)
def _sts() -> STSClient:
    import boto3  # imported lazily: only a cold secret read needs it

    return boto3.client("sts")


@lru_cache(maxsize=1)
def own_client() -> SecretsManagerClient:
    """The function's own credentials: the deployment's secrets (``calsync/_deployment/…``), and every secret
    when no tenant role is configured (operator tools)."""
    import boto3

    return boto3.client("secretsmanager")


def role_account() -> str | None:
    """The account of the tenant-secrets role: every secret calsync reads lives there."""
    role = get_settings().tenant_secrets_role_arn
    return role.split(":")[4] if role else None


def secrets_client(segment: str, *, manage: bool = False) -> SecretsManagerClient:
    """A Secrets Manager client whose credentials reach ``segment``'s secrets only (see the module doc);
    with ``manage``, through the role that may also create, overwrite and retire them."""
    settings = get_settings()
    role = settings.tenant_secrets_manager_role_arn if manage else settings.tenant_secrets_role_arn
    if not role:
        return own_client()
    key = (role, segment)
    session = _sessions.get(key)
    if session is not None and time.time() < session.expires_at - REFRESH_MARGIN_SECONDS:
        return session.client
    with _lock:
        tenant_lock = _session_locks.setdefault(key, threading.Lock())
    with tenant_lock:  # one AssumeRole per tenant and role at a time within this process
        session = _sessions.get(key)
        if session is None or time.time() >= session.expires_at - REFRESH_MARGIN_SECONDS:
            session = _sessions[key] = _assume(role, segment)
        return session.client


def _assume(role: str, segment: str) -> _Session:
    import boto3

    credentials = _sts().assume_role(
        RoleArn=role, RoleSessionName=f"calsync-{segment}"[:64], DurationSeconds=SESSION_SECONDS,
        Tags=[{"Key": TAG_KEY, "Value": segment}],
    )["Credentials"]
    client = boto3.client("secretsmanager", aws_access_key_id=credentials["AccessKeyId"],
                          aws_secret_access_key=credentials["SecretAccessKey"],
                          aws_session_token=credentials["SessionToken"])
    expiration = credentials["Expiration"]
    expires_at = expiration.timestamp() if isinstance(expiration, dt.datetime) else time.time() + SESSION_SECONDS
    return _Session(client=client, expires_at=expires_at)


def forget() -> None:
    """Drops every tenant session (tests; a changed role)."""
    with _lock:
        _sessions.clear()
    own_client.cache_clear()


def warm() -> None:
    """Makes the client a first secret read needs (STS for the tenant sessions; without the setting, the
    caller's own Secrets Manager client) at init rather than on the first change; sends nothing."""
    if get_settings().tenant_secrets_role_arn:
        _sts()
    else:
        own_client()
