"""The integration API's use cases, for the EHR's backend. Every call names its tenant from the caller's
IAM identity (:func:`tenant_of`), never from the body, and every integration it touches is looked up
within that tenant: another tenant's integration is answered exactly like one that does not exist.

Settings are the integration's own fields, whatever they are (:data:`SETTINGS_FIELDS`: every field of
``Integration`` except its identity, its credentials and what calsync records at run time), so a field
added to the model is a setting here without a second list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from calsync.core.errors import CalSyncError
from calsync.core.settings import get_settings
from calsync.domain.feed import FeedToken, IssuedToken
from calsync.domain.model import Integration, IntegrationStatus, PrivacySettings, Provider, SyncWindow
from calsync.services import feeds, lifecycle
from calsync.services.connect import links, setup
from calsync.services.connect.disconnect import Disconnected, disconnect
from calsync.store import integrations

IDENTITY_FIELDS = frozenset({"integration_id", "tenant_id", "practitioner_id", "provider", "account"})
"""Shown, never set: ``account`` is the address the provider said signed in, which decides the practice
policy's cap for this calendar (a caller naming it could loosen the cap)."""
RUNTIME_FIELDS = frozenset({"status", "status_reason", "last_synced_at", "last_error"})
HIDDEN_FIELDS = frozenset({"secret_ref", "options"})
"""Never shown nor set through the API: where the credentials are, and provider plumbing."""
SETTINGS_FIELDS = tuple(name for name in Integration.model_fields
                        if name not in IDENTITY_FIELDS | RUNTIME_FIELDS | HIDDEN_FIELDS)
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class NotFoundError(CalSyncError):
    """No such integration (or feed, or URL) in the caller's tenant."""


class ConflictError(CalSyncError):
    """The integration is not in a state that allows this (``reason`` says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CallerError(CalSyncError):
    """The caller's identity names no tenant this deployment serves."""


def tenant_of(iam: Mapping[str, Any] | None, own_account: str | None) -> str:
    """The tenant of an ``AWS_IAM`` caller (``requestContext.authorizer.iam``): a role or user named
    ``<prefix><tenant_id>`` in this account (or one of ``CALSYNC_API_CALLER_ACCOUNTS``)."""
    settings = get_settings()
    if not iam:
        raise CallerError("no caller identity")
    accounts = {a.strip() for a in (settings.api_caller_accounts or "").split(",") if a.strip()}
    if own_account:
        accounts.add(own_account)
    if str(iam.get("accountId") or "") not in accounts:
        raise CallerError("caller from another account")
    arn = str(iam.get("userArn") or "")
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    kind, _, rest = resource.partition("/")
    if kind == "user":
        name = rest.rsplit("/", 1)[-1]
    elif kind == "assumed-role":
        name = rest.split("/", 1)[0]
    else:
        raise CallerError("caller is not a role or user")
    tenant = name.removeprefix(settings.api_caller_prefix)
    if tenant == name or not _TENANT.match(tenant):
        raise CallerError("caller names no tenant")
    return tenant


def owned(tenant_id: str, integration_id: str) -> Integration:
    integration = integrations.get(integration_id)
    if integration is None or integration.tenant_id != tenant_id:
        raise NotFoundError("no such integration")
    return integration


def view(integration: Integration) -> dict[str, Any]:
    """What the EHR sees of an integration: identity, status, last synced, last error and its settings."""
    shown = integration.model_dump(mode="json", exclude=set(HIDDEN_FIELDS))
    shown["settings"] = {name: shown.pop(name) for name in SETTINGS_FIELDS}
    return shown


def list_integrations(tenant_id: str, practitioner_id: str | None, practice_id: str | None) -> list[Integration]:
    keys = []
    if practitioner_id:
        keys.append(f"{tenant_id}#{practitioner_id}")
    if practice_id:
        keys.append(f"{tenant_id}#practice:{practice_id}")
    found = [integration for key in keys for integration in integrations.owned_by(key)]
    return sorted((i for i in found if i.tenant_id == tenant_id), key=lambda i: i.integration_id)


def connect_link(tenant_id: str, practitioner_id: str, reconnect_id: str | None) -> links.IssuedLink:
    if reconnect_id is not None:
        target = owned(tenant_id, reconnect_id)
        if target.practitioner_id != practitioner_id:
            raise ConflictError("integration_of_another_practitioner")
        if target.provider is Provider.ICS:
            raise ConflictError("feeds_have_no_consent")
    return links.create(tenant_id, practitioner_id, reconnect_id)


def _merged(current: Any, change: Any) -> Any:
    if isinstance(current, dict) and isinstance(change, dict):
        return {**current, **change}
    return change


def update_settings(tenant_id: str, integration_id: str, changes: Mapping[str, Any]) -> Integration:
    """Applies a partial change of settings (nested settings are merged one level deep); a change of
    what calendars show rewrites every event already pushed (``lifecycle.update``: the next sweeper run)."""
    integration = owned(tenant_id, integration_id)
    if integration.status is IntegrationStatus.DISCONNECTED:
        raise ConflictError("disconnected")
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ConflictError("not_settings: " + ", ".join(sorted(unknown)))
    current = integration.model_dump(mode="json")
    merged = {**current, **{name: _merged(current.get(name), value) for name, value in changes.items()}}
    updated = Integration.model_validate(merged)
    lifecycle.update(updated)
    return owned(tenant_id, integration_id)


def pause(tenant_id: str, integration_id: str) -> Integration:
    integration = owned(tenant_id, integration_id)
    if integration.status is IntegrationStatus.DISCONNECTED:
        raise ConflictError("disconnected")
    lifecycle.pause(integration_id)
    return owned(tenant_id, integration_id)


def resume(tenant_id: str, integration_id: str, backfill: bool) -> Integration:
    integration = owned(tenant_id, integration_id)
    if integration.status_reason == setup.AWAITING_CALENDAR:
        raise ConflictError("awaiting_calendar")  # the clinician has not finished connecting
    if integration.status is not IntegrationStatus.PAUSED:
        raise ConflictError(f"not_paused: {integration.status.value}")
    lifecycle.resume(integration_id, backfill)
    return owned(tenant_id, integration_id)


def disconnect_integration(tenant_id: str, integration_id: str, remove_events: bool) -> Disconnected:
    integration = owned(tenant_id, integration_id)
    if integration.status is IntegrationStatus.DISCONNECTED:
        raise ConflictError("disconnected")
    return disconnect(integration, remove_events=remove_events)


# -- feeds ----------------------------------------------------------------------------------------------


def _feed(tenant_id: str, feed_id: str) -> Integration:
    try:
        feed = feeds.get_feed(tenant_id, feed_id)
    except feeds.FeedNotFoundError:
        raise NotFoundError("no such feed") from None
    if feed.status is IntegrationStatus.DISCONNECTED:
        raise NotFoundError("no such feed")
    return feed


def _base_url() -> str | None:
    settings = get_settings()
    return settings.feed_base_url or settings.public_base_url


def create_feed(tenant_id: str, practitioner_id: str | None, practice_id: str | None, locations: frozenset[str],
                privacy: PrivacySettings, window: SyncWindow, name: str | None) -> tuple[Integration, IssuedToken]:
    if (practitioner_id is None) == (practice_id is None):
        raise ConflictError("give exactly one of practitioner_id and practice_id")
    return feeds.create_feed(tenant_id, practitioner_id, practice_id=practice_id, locations=locations,
                             privacy=privacy, window=window, name=name, base_url=_base_url())


def feed_urls(tenant_id: str, feed_id: str) -> list[FeedToken]:
    _feed(tenant_id, feed_id)
    return feeds.list_tokens(tenant_id, feed_id)


def add_feed_url(tenant_id: str, feed_id: str) -> IssuedToken:
    return feeds.issue_token(_feed(tenant_id, feed_id), _base_url())


def rotate_feed_url(tenant_id: str, feed_id: str, token_id: str) -> IssuedToken:
    _feed(tenant_id, feed_id)
    try:
        return feeds.rotate(tenant_id, feed_id, token_id, _base_url())
    except feeds.FeedNotFoundError:
        raise NotFoundError("no such feed URL") from None


def revoke_feed_url(tenant_id: str, feed_id: str, token_id: str) -> None:
    _feed(tenant_id, feed_id)
    if not feeds.revoke(tenant_id, feed_id, token_id):
        raise NotFoundError("no such feed URL")
