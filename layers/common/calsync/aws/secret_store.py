"""Credentials in Secrets Manager, cached in memory so a warm invocation makes no Secrets Manager call.

Writes go through ``calsync.oauth.token_secret`` (a compare-and-swap on version stages); new secrets are
created here under their tenant (:func:`create`) and retired here (:func:`retire`).

One secret per integration (JSON object). Values never reach a log line or an exception message.
"""

from __future__ import annotations

import json
import threading
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from calsync.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


@lru_cache(maxsize=1)
def client() -> SecretsManagerClient:
    import boto3  # imported lazily: boto3 costs ~150 ms of cold start

    return boto3.client("secretsmanager")


def read(secret_ref: str, max_age_seconds: float) -> dict[str, Any]:
    """The secret's JSON value, from memory when younger than ``max_age_seconds``."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(secret_ref)
        if cached is not None and now - cached[0] < max_age_seconds:
            return cached[1]
    try:
        raw = client().get_secret_value(SecretId=secret_ref, VersionStage="AWSCURRENT")["SecretString"]
        value = json.loads(raw)
    except (KeyError, ValueError):
        raise ConfigurationError("secret is not a JSON object") from None
    if not isinstance(value, dict):
        raise ConfigurationError("secret is not a JSON object")
    with _lock:
        _cache[secret_ref] = (now, value)
    return value


def forget(secret_ref: str | None = None) -> None:
    """Drops cached values (all of them without an argument)."""
    with _lock:
        if secret_ref is None:
            _cache.clear()
        else:
            _cache.pop(secret_ref, None)


TENANT_TAG = "calsync:tenant"
INTEGRATION_TAG = "calsync:integration"
RECOVERY_WINDOW_DAYS = 7
"""The shortest window Secrets Manager allows before a scheduled deletion is final."""
TOMBSTONE = {"retired": True}
RETIRED_STAGE = "CALSYNC_RETIRED"


def secret_name(tenant_id: str, integration_id: str) -> str:
    """Every integration secret lives under its tenant (``calsync/<tenant>/integrations/<id>``), so IAM
    conditions and a tenant check on ``secret_ref`` can tell whose it is."""
    return f"calsync/{tenant_id}/integrations/{integration_id}"


def create(tenant_id: str, integration_id: str, value: dict[str, Any]) -> str:
    """A new integration secret, tagged with its tenant and integration; returns its ARN."""
    name = secret_name(tenant_id, integration_id)
    response = client().create_secret(
        Name=name, SecretString=json.dumps(value, sort_keys=True),
        Tags=[{"Key": TENANT_TAG, "Value": tenant_id}, {"Key": INTEGRATION_TAG, "Value": integration_id}])
    return str(response["ARN"])


def retire(secret_ref: str) -> bool:
    """Takes the credentials out of reach and schedules the secret's deletion (RECOVERY_WINDOW_DAYS).

    First a tombstone version takes every staging label (``AWSCURRENT``, ``AWSPREVIOUS``) and every other
    label is removed from the versions that held credentials, so none of them keeps a label: a restore
    within the window brings back only the tombstone. Then the deletion is scheduled (until then Secrets
    Manager refuses to read the secret at all). False when it was already gone or scheduled."""
    from botocore.exceptions import ClientError

    secrets = client()
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
