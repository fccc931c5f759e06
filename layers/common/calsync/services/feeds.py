"""Managing feeds: create one (its URL is shown once), rotate and revoke its URLs, delete it.

A feed is an :class:`~calsync.domain.Integration` with provider ``ics`` whose ``calendar_id`` is its own
id. A clinician's feed follows their appointments; a front-desk feed (``practice_scope``) follows a
practice's, optionally only some locations. A feed may have several live URLs (one per device or
person), so one leaked URL can be revoked without disturbing the others.
"""

from __future__ import annotations

import datetime as dt
import secrets

from calsync.aws import feed_bodies
from calsync.core.errors import CalSyncError
from calsync.core.settings import get_settings
from calsync.domain.feed import FeedToken, IssuedToken
from calsync.domain.model import Integration, IntegrationStatus, PrivacySettings, Provider, SyncWindow, validated
from calsync.feed import tokens
from calsync.feed.target import FEED_NAME_OPTION, feed_name
from calsync.services import engine, recovery, status
from calsync.store import appointments, feeds, integrations

FEED_DELETED = "feed_deleted"
FILL_AT_ONCE = 100
"""Appointments a new feed gets before ``create_feed`` returns; a window that holds more is filled by its
backfill job in the sweeper (the same job that fills a new calendar connection), so creating a front-desk
feed over ten thousand appointments is one bounded request, not ten thousand syncs inline."""
FILL_PAGE = 50


class FeedNotFoundError(CalSyncError):
    """No feed with this id in this tenant."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _base_url(base_url: str | None) -> str | None:
    return base_url or get_settings().feed_base_url


def get_feed(tenant_id: str, feed_id: str) -> Integration:
    integration = integrations.get(feed_id)
    if integration is None or integration.tenant_id != tenant_id or integration.provider is not Provider.ICS:
        raise FeedNotFoundError(f"no feed {feed_id} in tenant {tenant_id}")
    return integration


def create_feed(tenant_id: str, practitioner_id: str | None = None, *, practice_id: str | None = None,
                locations: frozenset[str] = frozenset(), privacy: PrivacySettings | None = None,
                window: SyncWindow | None = None, name: str | None = None, base_url: str | None = None,
                backfill: bool = True) -> tuple[Integration, IssuedToken]:
    """A new feed for a clinician (``practitioner_id``) or a practice (``practice_id``, optionally only
    ``locations``), with its first URL. The URL is in the returned token and nowhere else: show it once.
    With ``backfill`` the feed starts with the appointments already in its window."""
    if (practitioner_id is None) == (practice_id is None):
        raise ValueError("give exactly one of practitioner_id and practice_id")
    feed_id = "feed_" + secrets.token_hex(10)
    integration = validated({  # every value checked here, before anything is stored
        "integration_id": feed_id,
        "tenant_id": tenant_id,
        "practitioner_id": practitioner_id or f"practice:{practice_id}",
        "provider": Provider.ICS,
        "calendar_id": feed_id,
        "window": window or SyncWindow(),
        "privacy": privacy or PrivacySettings(),
        "practice_scope": practice_id,
        "location_filter": locations,
        "options": {FEED_NAME_OPTION: name} if name else {},
    })
    integrations.put(integration)
    now = _now()
    feeds.touch(feed_id, tenant_id, feed_name(integration), integration.window.past_days,
                integration.window.future_days, now)
    issued = issue_token(integration, base_url, now)
    if backfill:
        fill(integration, now)
    return integration, issued


def fill(integration: Integration, now: dt.datetime | None = None, limit: int = FILL_AT_ONCE) -> int:
    """Writes the first ``limit`` appointments of the feed's window through the engine (privacy, ledger,
    provider), as for any change; when the window holds more, schedules the feed's backfill job, which
    goes over the whole window in the sweeper. Returns how many appointments it looked at.

    Reads at most ``limit`` index entries and snapshots, whatever the window holds."""
    now = now or _now()
    start = now - dt.timedelta(days=integration.window.past_days)
    end = now + dt.timedelta(days=integration.window.future_days)
    token: dict[str, str] | None = None
    seen = 0
    while seen < limit:
        page, more = appointments.window_page(integration.owner_key, start, end, token, min(FILL_PAGE, limit - seen))
        found = appointments.get_many(key for key, _ in page)
        for key, resume in page:
            received = found.get(key)
            if received is not None and start <= received.appointment.start < end:
                engine.sync(integration, received.appointment, now)
            seen += 1
            token = resume
        if not more:
            return seen
    recovery.schedule_resync(integration.integration_id, now)
    return seen


def issue_token(integration: Integration, base_url: str | None = None,
                now: dt.datetime | None = None) -> IssuedToken:
    """One more URL for the feed (another device or person); the others keep working."""
    token, token_id = tokens.new_token(), tokens.new_token_id()
    feeds.add_token(tokens.token_hash(token), token_id, integration.integration_id, integration.tenant_id,
                    now or _now())
    base = _base_url(base_url)
    return IssuedToken(token_id=token_id, token=token, url=tokens.feed_url(base, token) if base else None)


def list_tokens(tenant_id: str, feed_id: str) -> list[FeedToken]:
    get_feed(tenant_id, feed_id)
    return sorted(feeds.list_tokens(feed_id), key=lambda token: token.created_at)


def revoke(tenant_id: str, feed_id: str, token_id: str) -> bool:
    """Revokes one URL: it answers 410 from now on. False when it was not a live URL of this feed."""
    get_feed(tenant_id, feed_id)
    return feeds.revoke_token(feed_id, token_id, _now())


def rotate(tenant_id: str, feed_id: str, token_id: str, base_url: str | None = None) -> IssuedToken:
    """Replaces one URL with a new one (for a URL that leaked): the new one is issued first, then the
    old one is revoked."""
    integration = get_feed(tenant_id, feed_id)
    issued = issue_token(integration, base_url)
    if not feeds.revoke_token(feed_id, token_id, _now()):
        feeds.revoke_token(feed_id, issued.token_id, _now())
        raise FeedNotFoundError(f"no live token {token_id} on feed {feed_id}")
    return issued


def delete_feed(tenant_id: str, feed_id: str) -> int:
    """Revokes every URL, removes the stored events and rendered bodies and disconnects the integration.
    Returns how many URLs were revoked."""
    integration = get_feed(tenant_id, feed_id)
    now = _now()
    revoked = sum(feeds.revoke_token(feed_id, token.token_id, now)
                  for token in feeds.list_tokens(feed_id) if not token.revoked)
    status.change(integration, IntegrationStatus.DISCONNECTED, FEED_DELETED)
    feeds.purge_events(feed_id)
    feeds.delete_state(feed_id)
    feed_bodies.purge(feed_id)
    return revoked

