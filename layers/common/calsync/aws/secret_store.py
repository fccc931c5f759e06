"""Credentials in Secrets Manager, cached in memory so a warm invocation makes no Secrets Manager call.

Writes go through ``calsync.oauth.token_secret`` (a compare-and-swap on version stages); new secrets are
created here under their tenant (:func:`create`) and retired here (:func:`retire`).

One secret per integration (JSON object), always one of the integration's tenant's secrets, created and
retired by the connect page and the integration API (:func:`create`, :func:`retire`); every call
goes through :func:`client_for`, which checks the reference against the tenant's name scheme
(``calsync.domain.secret_names``) before any call and hands out a client whose credentials reach that
tenant's secrets only (``calsync.aws.tenant_session``). Values never reach a log line or an exception
message. The deployment's own secrets (the OAuth clients, ``calsync/_deployment/…``) are read with the
function's own role (:func:`read_deployment`).
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from calsync.aws import tenant_session
from calsync.core.errors import ConfigurationError, ProviderAuthError
from calsync.core.settings import DEPLOYMENT_SECRETS, get_settings
from calsync.domain import secret_names
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


def client_for(tenant_id: str, secret_ref: str, *, manage: bool = False) -> SecretsManagerClient:
    """The one way to a Secrets Manager client for a tenant's secret: only for one of ``tenant_id``'s own
    (with ``manage``, one that may also create, overwrite and retire it: ``calsync.aws.tenant_session``)."""
    try:
        segment = owner_segment(tenant_id, secret_ref, region=get_settings().region,
                                account=tenant_session.role_account())
    except SecretOutsideTenant:
        raise ProviderAuthError("secrets", OUTSIDE_TENANT) from None
    return tenant_session.secrets_client(segment, manage=manage)


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


def read_deployment(name: str, max_age_seconds: float) -> dict[str, Any]:
    """One of the deployment's own secrets (``calsync/_deployment/…``: the OAuth clients), read with the
    function's own role, which may read those and no tenant's. Cached like :func:`read`."""
    if not name.startswith(DEPLOYMENT_SECRETS):
        raise ConfigurationError("a deployment secret is named calsync/_deployment/...")
    now = time.monotonic()
    key = ("", name)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and now - cached[0] < max_age_seconds:
            return cached[1]
    try:
        value = json.loads(tenant_session.own_client().get_secret_value(SecretId=name)["SecretString"])
    except (KeyError, ValueError):
        raise ConfigurationError("secret is not a JSON object") from None
    if not isinstance(value, dict):
        raise ConfigurationError("secret is not a JSON object")
    with _lock:
        _cache[key] = (now, value)
    return value


INTEGRATION_TAG = "calsync-integration"
RECOVERY_WINDOW_DAYS = 7
"""The shortest window Secrets Manager allows before a scheduled deletion is final."""
TOMBSTONE = {"retired": True}
RETIRED_STAGE = "CALSYNC_RETIRED"


def create(tenant_id: str, integration_id: str, value: dict[str, Any]) -> str:
    """A new integration secret under the tenant's name (``calsync/<tenant>/integrations/<id>``), tagged
    with its tenant and integration, through the tenant's managing session; returns its ARN."""
    name = secret_names.name(tenant_id, f"integrations/{integration_id}")
    client = client_for(tenant_id, name, manage=True)
    response = client.create_secret(
        Name=name, SecretString=json.dumps(value, sort_keys=True),
        Tags=[{"Key": secret_names.TAG_KEY, "Value": secret_names.segment(tenant_id)},
              {"Key": INTEGRATION_TAG, "Value": integration_id}])
    return str(response["ARN"])


def retire(tenant_id: str, secret_ref: str) -> bool:
    """Takes the credentials out of reach and schedules the secret's deletion (RECOVERY_WINDOW_DAYS).

    First a tombstone version takes every staging label (``AWSCURRENT``, ``AWSPREVIOUS``) and every other
    label is removed from the versions that held credentials, so none of them keeps a label: a restore
    within the window brings back only the tombstone. Then the deletion is scheduled (until then Secrets
    Manager refuses to read the secret at all). False when it was already gone or scheduled."""
    from botocore.exceptions import ClientError

    secrets = client_for(tenant_id, secret_ref, manage=True)
    forget(secret_ref)
    try:
        described = secrets.describe_secret(SecretId=secret_ref)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise
    if described.get("DeletedDate"):
        return False
    tombstone = secrets.put_secret_value(SecretId=secret_ref, SecretString=json.dumps(TOMBSTONE),
                                         VersionStages=[RETIRED_STAGE])["VersionId"]
    for _round in range(3):  # moving AWSCURRENT hands AWSPREVIOUS to the old version: go round again
        labelled = [(version, label) for version, labels in
                    secrets.describe_secret(SecretId=secret_ref).get("VersionIdsToStages", {}).items()
                    if version != tombstone for label in labels]
        if not labelled:
            break
        for version, label in labelled:
            if label in ("AWSCURRENT", "AWSPREVIOUS"):
                secrets.update_secret_version_stage(SecretId=secret_ref, VersionStage=label,
                                                    MoveToVersionId=tombstone, RemoveFromVersionId=version)
            else:
                secrets.update_secret_version_stage(SecretId=secret_ref, VersionStage=label,
                                                    RemoveFromVersionId=version)
    secrets.delete_secret(SecretId=secret_ref, RecoveryWindowInDays=RECOVERY_WINDOW_DAYS)
    return True
