"""Disconnecting for good: nothing keeps writing, nothing usable is left behind.

1. ``lifecycle.disconnect``: ``disconnected`` (announced), sweeper work dropped, the disconnect hooks run
   (watch channels and subscriptions stopped while the credentials still work);
2. optionally every event calsync put in the calendar is deleted, from the ledger's record of them (a
   feed's URLs are revoked and its events purged, always);
3. the grant is revoked where the provider allows it: Google's refresh token at its RFC 7009 endpoint,
   which withdraws every token of that consent; Microsoft has no revocation endpoint for a confidential
   client, so its tokens are dropped — from the secret, and from this process's memory;
4. the secret is retired: a tombstone version becomes current and previous, and the deletion is
   scheduled (``secret_store.retire``).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

from calsync.aws import secret_store
from calsync.core.errors import CalSyncError, ProviderError
from calsync.core.observability import logger
from calsync.core.settings import get_settings
from calsync.domain.event import EventKey, Written
from calsync.domain.ledger import LedgerState
from calsync.domain.model import Integration, Provider
from calsync.domain.privacy import content_hash
from calsync.http.bearer import shared_client
from calsync.oauth import consent, memory
from calsync.oauth import token_secret as oauth_secret
from calsync.services import feeds, lifecycle, writers
from calsync.store import ledger

REMOVAL_SECONDS = 20.0
"""How long event removal may take inside one request (the API answers what is left)."""


@dataclass(frozen=True)
class Disconnected:
    changed: bool
    revoked: bool
    events_removed: int
    events_left: int
    secret_retired: bool


def disconnect(integration: Integration, *, remove_events: bool) -> Disconnected:
    changed = lifecycle.disconnect(integration.integration_id)
    removed = left = 0
    if integration.provider is Provider.ICS:  # a feed's URLs are its credentials: always revoked
        feeds.delete_feed(integration.tenant_id, integration.integration_id)
    elif remove_events:
        removed, left = remove_all_events(integration)
    revoked = revoke(integration)
    retired = False
    if integration.secret_ref:
        memory.drop_secret(integration.secret_ref)
        retired = secret_store.retire(integration.tenant_id, integration.secret_ref)
    writers.forget(integration.integration_id)
    return Disconnected(changed, revoked, removed, left, retired)


def revoke(integration: Integration) -> bool:
    """Revokes the consent at the provider where it has an endpoint for it (Google). True when revoked."""
    if integration.provider is not Provider.GOOGLE or not integration.secret_ref:
        return False
    try:
        stored = oauth_secret.load(integration.provider.value, integration.tenant_id, integration.secret_ref)
    except CalSyncError:
        return False  # nothing readable to revoke
    refresh_token = stored.value.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        return False
    try:
        return consent.google_revoke(refresh_token, revoke_uri=get_settings().google_revoke_uri,
                                     client=shared_client("google"))
    except ProviderError as error:
        logger.warning("token revocation failed", extra={"integration_id": integration.integration_id,
                                                         "reason": error.reason})
        return False


def remove_all_events(integration: Integration, budget_seconds: float = REMOVAL_SECONDS) -> tuple[int, int]:
    """Deletes every event the ledger says calsync put in the calendar; returns (removed, left)."""
    provider = writers.build(integration)
    owner = f"disconnect-{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + budget_seconds
    removed = left = 0
    after: str | None = None
    while True:
        entries, after = ledger.page(integration.integration_id, after, 100, (), dt.datetime.now(dt.UTC))
        for entry in entries:
            if entry.external_id is None and not entry.uncertain:
                continue
            if time.monotonic() > deadline:
                left += 1
                continue
            tenant, _, appointment_id = entry.appointment_key.partition("#")
            key = EventKey(integration.integration_id, tenant, appointment_id)
            try:
                held = ledger.acquire(integration.integration_id, entry.appointment_key, owner, 60)
                provider.delete(key, Written(held.external_id, held.etag) if held.external_id else None)
                held.state, held.external_id, held.etag = LedgerState.REMOVED, None, None
                held.content_hash, held.uncertain = content_hash(None), False
                ledger.release(held, owner)
                removed += 1
            except CalSyncError as error:
                left += 1
                logger.warning("event removal failed", extra={"integration_id": integration.integration_id,
                                                              "error": type(error).__name__})
        if after is None:
            return removed, left
