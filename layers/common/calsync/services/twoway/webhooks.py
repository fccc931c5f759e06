"""Provider push notifications, verified: Google channel notifications, Graph change and lifecycle
notifications, and Graph's validation handshake. A notification is a hint, never content: a verified one
asks for a pull (coalesced per integration), and the pull reads the provider.

Google: ``X-Goog-Channel-ID`` names a channel calsync recorded; it must be live, ``X-Goog-Resource-ID`` must
be the one Google gave it, and ``X-Goog-Channel-Token`` must be its secret (compared as SHA-256 digests, in
constant time). The first message (``sync``) is acknowledged and asks for nothing; a message number that is
not newer than one already seen is a replay and asks for nothing either.

Graph: ``?validationToken=`` is echoed as plain text (the handshake, within Graph's ten seconds: nothing is
read for it). A notification names its watch in the URL (``?watch=``); each item must carry the watch's
``clientState`` (constant time) and, once Graph has said it, the watch's subscription id. Lifecycle
notifications ask for the pull to renew the subscription (``reauthorizationRequired``), to start a new one
and read everything (``subscriptionRemoved``), or just to read everything (``missed``).

What a verdict means over HTTP is the router's business (``calsync.webhooks.calendars``); nothing here
knows a status code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from calsync.core.observability import Metric, count, logger
from calsync.services.twoway.requests import request_pull
from calsync.store import watches
from calsync.store.watches import StoredWatch

MAX_VALIDATION_TOKEN = 1024


class Verdict(StrEnum):
    ACCEPTED = "accepted"          # verified: a pull is asked for
    ACKNOWLEDGED = "acknowledged"  # verified, nothing to do (Google's sync message, a replay)
    MALFORMED = "malformed"        # not a notification at all
    UNKNOWN = "unknown"            # no such channel (or it ended)
    FORGED = "forged"              # the secret or the provider's id does not match


def _same_secret(stored_hash: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(stored_hash, hashlib.sha256(presented.encode()).hexdigest())


def _watch(watch_id: str | None, provider: str, now: dt.datetime) -> StoredWatch | None:
    if not watch_id or len(watch_id) > 64:
        return None
    found = watches.get(watch_id)
    return found if found is not None and found.provider == provider and found.live(now) else None


def _rejected(verdict: Verdict, provider: str) -> Verdict:
    count(Metric.NOTIFICATION_REJECTED)
    logger.warning("notification rejected", extra={"provider": provider, "verdict": verdict.value})
    return verdict


def google(headers: Mapping[str, str], now: dt.datetime | None = None) -> Verdict:
    """A Google push notification (headers lower-cased)."""
    now = now or dt.datetime.now(dt.UTC)
    channel, state = headers.get("x-goog-channel-id"), headers.get("x-goog-resource-state")
    if not channel or not state:
        return _rejected(Verdict.MALFORMED, "google")
    watch = _watch(channel, "google", now)
    if watch is None:
        return _rejected(Verdict.UNKNOWN, "google")
    resource = headers.get("x-goog-resource-id")
    if not _same_secret(watch.token_hash, headers.get("x-goog-channel-token")) or (
            watch.resource_id is not None and not hmac.compare_digest(watch.resource_id, resource or "")):
        return _rejected(Verdict.FORGED, "google")
    number = headers.get("x-goog-message-number", "")
    if state == "sync" or not number.isdigit() or not watches.newer_message(watch.watch_id, int(number)):
        count(Metric.NOTIFICATION_ACKNOWLEDGED)  # the channel's first message, or a replay: nothing to read
        return Verdict.ACKNOWLEDGED
    request_pull(watch.integration_id, f"google_{state}", now)
    count(Metric.NOTIFICATION_ACCEPTED)
    return Verdict.ACCEPTED


def validation_token(query: Mapping[str, str]) -> str | None:
    """Graph's handshake token, to be echoed as plain text (None: not a handshake)."""
    token = query.get("validationToken")
    if token is None:
        return None
    count(Metric.NOTIFICATION_ACKNOWLEDGED)
    return token[:MAX_VALIDATION_TOKEN]


def microsoft(query: Mapping[str, str], body: str | None, now: dt.datetime | None = None) -> Verdict:
    """A Graph change or lifecycle notification (a batch of items for one watch)."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        items = json.loads(body or "").get("value")
    except (ValueError, AttributeError):
        items = None
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        return _rejected(Verdict.MALFORMED, "microsoft")
    watch = _watch(query.get("watch"), "microsoft", now)
    if watch is None:
        return _rejected(Verdict.UNKNOWN, "microsoft")
    trusted = [item for item in items if _genuine(watch, item)]
    if not trusted:
        return _rejected(Verdict.FORGED, "microsoft")
    events = {str(item.get("lifecycleEvent")) for item in trusted if item.get("lifecycleEvent")}
    if "subscriptionRemoved" in events:
        watches.delete(watch.watch_id)  # gone at Graph: the pull starts a new one, then reads everything
    full = bool(events & {"subscriptionRemoved", "missed"})
    request_pull(watch.integration_id, "microsoft_" + ("_".join(sorted(events)) or "change"), now, full=full,
                 renew="reauthorizationRequired" in events)
    count(Metric.NOTIFICATION_ACCEPTED)
    return Verdict.ACCEPTED


def _genuine(watch: StoredWatch, item: dict[str, Any]) -> bool:
    state = item.get("clientState")
    if not _same_secret(watch.token_hash, state if isinstance(state, str) else None):
        return False
    subscription = str(item.get("subscriptionId") or "")
    return watch.resource_id is None or hmac.compare_digest(watch.resource_id, subscription)
