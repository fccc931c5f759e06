"""The integration's token secret: read with its version id, written back by compare-and-swap.

One secret per integration (JSON): the refresh token (Google) or the serialized msal token cache
(Microsoft), and the OAuth client id and secret unless the integration's ``app_secret_ref`` option
names a shared secret holding those. It is read only when a token must be refreshed, never on the
warm path (see ``memory``).

Secrets Manager has no conditional PutSecretValue, so a write-back takes two steps:

1. ``PutSecretValue`` labelled only ``CALSYNC_PENDING``: the new version exists but is not current;
2. ``UpdateSecretVersionStage`` moving ``AWSCURRENT`` to it *from the version that was read*
   (``RemoveFromVersionId``). Secrets Manager refuses the move when ``AWSCURRENT`` has moved on, so the
   second step is a compare-and-swap: of two invocations that refreshed at once, one wins and the
   other keeps its tokens in memory only.

Losing is safe: Microsoft does not revoke a refresh token when it issues the next one, so both the
stored token and the loser's stay valid, and Google normally issues no new refresh token at all. A
reconnect (the connect flow stores a new current version) likewise beats any refresh that read the
old version, so tokens from a revoked grant never overwrite fresh consent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from calsync.aws import secret_store as secrets
from calsync.core.errors import ConfigurationError, ProviderAuthError, ProviderUnavailableError
from calsync.core.observability import logger
from calsync.domain import integration_values
from calsync.domain.model import Integration

PENDING_STAGE = "CALSYNC_PENDING"
APP_SECRET_OPTION = integration_values.APP_SECRET_REF


@dataclass(frozen=True)
class StoredSecret:
    tenant_id: str
    ref: str
    value: dict[str, Any]
    version_id: str


def load(provider: str, tenant_id: str, ref: str | None) -> StoredSecret:
    """The current version of the secret, straight from Secrets Manager (a refresh needs the latest).
    ``ref`` must be one of ``tenant_id``'s secrets (``calsync.aws.secret_store.client_for``)."""
    from botocore.exceptions import BotoCoreError, ClientError  # botocore is loaded by then anyway

    if not ref:
        raise ConfigurationError(f"{provider} integration has no secret reference")
    client = secrets.client_for(tenant_id, ref)
    try:
        response = client.get_secret_value(SecretId=ref, VersionStage="AWSCURRENT")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            raise ProviderAuthError(provider, "credentials_missing") from None
        if code == "AccessDeniedException":  # the secret's name or tag does not match its tenant
            raise ProviderAuthError(provider, secrets.ACCESS_DENIED) from None
        raise ProviderUnavailableError(provider, "secret_store_unavailable") from None
    except BotoCoreError:
        raise ProviderUnavailableError(provider, "secret_store_unavailable") from None
    try:
        value = json.loads(response["SecretString"])
    except (KeyError, ValueError):
        raise ConfigurationError("secret is not a JSON object") from None
    if not isinstance(value, dict):
        raise ConfigurationError("secret is not a JSON object")
    return StoredSecret(tenant_id=tenant_id, ref=ref, value=value, version_id=response["VersionId"])


def swap(stored: StoredSecret, value: dict[str, Any]) -> bool:
    """Makes ``value`` the current version if ``stored`` still is; False when another writer got there
    first (or Secrets Manager failed: the tokens in hand are still good, only their persistence is lost)."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = secrets.client_for(stored.tenant_id, stored.ref)
    try:
        put = client.put_secret_value(SecretId=stored.ref, SecretString=json.dumps(value, sort_keys=True),
                                      VersionStages=[PENDING_STAGE])
        client.update_secret_version_stage(SecretId=stored.ref, VersionStage="AWSCURRENT",
                                           MoveToVersionId=put["VersionId"],
                                           RemoveFromVersionId=stored.version_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code != "InvalidParameterException":
            logger.warning("token write-back failed", extra={"error_code": code})
        return False
    except BotoCoreError as error:
        logger.warning("token write-back failed", extra={"error_code": type(error).__name__})
        return False
    finally:
        secrets.forget(stored.ref)
    return True


def replace(tenant_id: str, ref: str, value: dict[str, Any]) -> None:
    """Stores new consent (a reconnect) whatever version is current, through the same two steps as
    :func:`swap`, so any refresh still in flight from the old version loses its compare-and-swap.

    The connect flow should store tokens with this rather than a plain PutSecretValue: besides the
    ordering, moto (the local stack) keeps ``AWSCURRENT`` on two versions after a plain put follows a
    staged move, and would go on serving the older one. Access tokens this process holds from the old
    consent are forgotten."""
    from calsync.oauth import memory

    memory.drop_secret(ref)
    client = secrets.client_for(tenant_id, ref, manage=True)  # describe and overwrite: the managing role
    for _attempt in range(5):
        stages = client.describe_secret(SecretId=ref).get("VersionIdsToStages", {})
        current = next((version for version, labels in stages.items() if "AWSCURRENT" in labels), None)
        if current is None:
            client.put_secret_value(SecretId=ref, SecretString=json.dumps(value, sort_keys=True))
            secrets.forget(ref)
            return
        if swap(StoredSecret(tenant_id=tenant_id, ref=ref, value={}, version_id=current), value):
            return
    raise ProviderUnavailableError("secrets", "secret_write_contended")


def client_credentials(provider: str, integration: Integration, stored: StoredSecret) -> tuple[str, str]:
    """The OAuth client id and secret: from the integration's secret, else from the app secret its
    ``app_secret_ref`` option names (one of the same tenant's secrets too), else from the deployment's
    OAuth client for the provider (``Settings.google_oauth_app_secret``: what the connect page signs in
    with)."""
    from calsync.core.settings import get_settings

    values: dict[str, Any] = stored.value
    if not (values.get("client_id") and values.get("client_secret")):
        settings = get_settings()
        app_ref = integration.options.get(APP_SECRET_OPTION)
        deployment_app = {"google": settings.google_oauth_app_secret,
                          "microsoft": settings.microsoft_oauth_app_secret}.get(provider)
        if app_ref:
            values = {**secrets.read(integration.tenant_id, app_ref, settings.secret_cache_seconds), **values}
        elif deployment_app:
            values = {**secrets.read_deployment(deployment_app, settings.secret_cache_seconds), **values}
    client_id, client_secret = values.get("client_id"), values.get("client_secret")
    if not (isinstance(client_id, str) and client_id and isinstance(client_secret, str) and client_secret):
        raise ConfigurationError(f"{provider} secret needs client_id and client_secret")
    return client_id, client_secret
