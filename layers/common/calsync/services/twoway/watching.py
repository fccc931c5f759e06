"""Push channels (Google ``events.watch``) and subscriptions (Graph), and what lifecycle steps set in motion.

* :func:`start_watching` — an integration that reads back (pull or two-way) and is pending or active:
  a full pull is asked for; the pull starts a channel on every watched calendar (:func:`ensure`).
* :func:`stop_reading_back` — paused, disconnected, or no longer reading back: every channel is stopped at
  the provider at once (``channels.stop``, ``DELETE /subscriptions/{id}``), while the credentials still work
  (a disconnect revokes them next), and a pull is asked for; that pull finds the integration no longer
  watched and, under the integration's pull lease, withdraws its busy time (:func:`stop_watching`:
  published as removed, conflicts resolved) and drops its pull state. So the functions that change an
  integration (the connect page, the integration API) only stop channels and queue a job; the busy time
  is the pull worker's alone, and a pull running at that moment cannot store any after the withdrawal.
* :func:`follow` — the lifecycle hook for every step (``calsync.services.lifecycle.register_on_change``):
  compares an integration before and after it and starts, restarts or stops watching;
  :func:`disconnected` — the disconnect hook (``register_on_disconnect``).
* :func:`ensure` — run by every pull: each watched calendar has one live channel that lasts beyond
  :data:`RENEW_BEFORE` (renewed where the provider can, else replaced: a new channel first, then the old one
  stopped), and channels of calendars no longer watched are stopped.

A channel is recorded (``calsync.store.watches``) before the provider is asked for it — Google sends its
``sync`` message, and Graph its validation request, before answering — with a fresh secret of 256 random
bits that only the provider and the record's SHA-256 know. Without a public webhook address
(``CALSYNC_WEBHOOK_BASE_URL``) no channel is started: the safety-net pull still reads every calendar.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from calsync.core.errors import CalSyncError, ProviderError
from calsync.core.observability import Metric, count, logger
from calsync.core.settings import get_settings
from calsync.domain.model import Integration, Provider
from calsync.providers.inbound import CalendarWatcher, Watch
from calsync.services.twoway import busy_time, conflicts, readers
from calsync.services.twoway.requests import request_pull
from calsync.store import pulls, watches
from calsync.store.watches import StoredWatch

LIFETIME = {Provider.GOOGLE: dt.timedelta(days=7), Provider.MICROSOFT: dt.timedelta(minutes=4200)}
"""How long a channel is asked to live: Google's default; under the 4,230 minutes older Graph documentation
gives for Outlook events (the current limit is 10,080)."""
RENEW_BEFORE = dt.timedelta(days=1)
WATCH_SETTINGS = ("direction", "calendar_id", "watch_calendars", "all_day_busy", "busy_sharing", "window")
"""Integration settings that change what is read, or how it becomes busy time: a change reads everything again."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def address(provider: str, watch_id: str) -> str | None:
    """Where the provider delivers: Google names the channel in a header, Graph gets it in the URL."""
    base = get_settings().webhook_base_url
    if not base:
        return None
    base = base.rstrip("/")
    return f"{base}/google" if provider == Provider.GOOGLE.value else f"{base}/microsoft?watch={watch_id}"


# -- lifecycle ----------------------------------------------------------------------------------------------


def start_watching(integration: Integration, now: dt.datetime | None = None) -> None:
    """Starts (or restarts) reading the integration back: a full pull, which also starts its channels."""
    if not integration.watching or not readers.readable(integration):
        return
    readers.forget(integration.integration_id)
    request_pull(integration.integration_id, "watch_started", now, full=True)


def stop_reading_back(integration: Integration, now: dt.datetime | None = None) -> None:
    """Stops the integration's channels at the provider now, and asks for the pull that withdraws its busy
    time (see the module's docstring)."""
    _stop_all(integration)
    readers.forget(integration.integration_id)
    request_pull(integration.integration_id, "watch_stopped", now)


def stop_watching(integration: Integration, now: dt.datetime) -> None:
    """Run by a pull, under the integration's lease, once it is no longer watched: every channel left is
    stopped (best effort with the provider: one that cannot be stopped, e.g. after the grant was revoked,
    is forgotten and ends on its own), its busy time withdrawn and its pull state dropped."""
    _stop_all(integration)
    changed = busy_time.withdraw(integration, now)
    conflicts.busy_changed(integration, changed, now)
    conflicts.untrack(integration)
    pulls.forget(integration.integration_id)
    readers.forget(integration.integration_id)


def follow(step: str, before: Integration | None, after: Integration, now: dt.datetime) -> None:
    """The lifecycle hook: what a step (connect, pause, resume, reconnect, update) means for reading the
    integration back."""
    if not after.watching:
        if before is not None and before.watching and readers.readable(after):
            stop_reading_back(after, now)
        return
    if (before is None or step == "reconnect" or not before.watching
            or any(getattr(before, name) != getattr(after, name) for name in WATCH_SETTINGS)):
        start_watching(after, now)


def disconnected(integration: Integration) -> None:
    """The disconnect hook: channels stopped while the credentials still work, busy time withdrawn by a pull."""
    if integration.direction.pulls and readers.readable(integration):
        stop_reading_back(integration)


# -- channels -----------------------------------------------------------------------------------------------


def _stop_all(integration: Integration) -> None:
    watcher = _watcher(integration)
    for stored in watches.of_integration(integration.integration_id):
        _stop(watcher, stored)


def _watcher(integration: Integration) -> CalendarWatcher | None:
    try:
        return readers.watcher_for(integration)
    except CalSyncError:  # its credentials are gone: channels can only be forgotten
        return None


def ensure(integration: Integration, watcher: CalendarWatcher, now: dt.datetime, *,
           renew_all: bool = False) -> tuple[int, list[StoredWatch]]:
    """Gives every watched calendar one live channel lasting beyond :data:`RENEW_BEFORE`; returns how many
    channels were started or renewed, and the channels as they are now."""
    if get_settings().webhook_base_url is None:
        return 0, []
    stored = watches.of_integration(integration.integration_id)
    watched = set(integration.watched)
    started = 0
    for calendar in integration.watched:
        live = sorted((w for w in stored if w.calendar == calendar and w.live(now)), key=lambda w: w.ends_at)
        best = live[-1] if live else None
        for older in live[:-1]:
            _stop(watcher, older)  # a replaced (or doubly started) channel
        if best is not None and best.ends_at - now > RENEW_BEFORE and not renew_all:
            continue
        if best is not None and _renew(integration, watcher, best, now):
            started += 1
            continue
        if _start(integration, watcher, calendar, now) and best is not None:
            _stop(watcher, best)
        started += 1
    for gone in stored:
        if gone.calendar not in watched or not gone.live(now):
            _stop(watcher, gone)
    return started, (watches.of_integration(integration.integration_id) if started else
                     [w for w in stored if w.calendar in watched and w.live(now)])


def _renew(integration: Integration, watcher: CalendarWatcher, stored: StoredWatch, now: dt.datetime) -> bool:
    ends = now + LIFETIME[Provider(integration.provider)]
    try:
        renewed = watcher.renew(Watch(stored.watch_id, stored.resource_id, stored.ends_at), ends)
    except ProviderError as error:
        logger.warning("channel renewal failed", extra={"integration_id": integration.integration_id,
                                                        "reason": error.reason})
        return False
    if renewed is None:
        return False
    watches.started(stored.watch_id, renewed.resource_id, renewed.expires_at)
    return True


def _start(integration: Integration, watcher: CalendarWatcher, calendar: str, now: dt.datetime) -> bool:
    watch_id = "cs" + secrets.token_hex(15)
    target = address(integration.provider.value, watch_id)
    if target is None:
        return False
    token = secrets.token_urlsafe(32)
    ends = now + LIFETIME[Provider(integration.provider)]
    watches.create(StoredWatch(watch_id, integration.integration_id, integration.provider.value, calendar,
                               token_hash(token), None, ends, now))
    try:
        answered = watcher.watch(calendar, watch_id, target, token, ends)
    except ProviderError as error:
        watches.delete(watch_id)
        count(Metric.WATCH_FAILED)
        logger.warning("channel not started", extra={"integration_id": integration.integration_id,
                                                      "reason": error.reason, "status": error.status})
        return False
    watches.started(watch_id, answered.resource_id, answered.expires_at)
    count(Metric.WATCH_STARTED)
    return True


def _stop(watcher: CalendarWatcher | None, stored: StoredWatch) -> None:
    if watcher is not None:
        try:
            watcher.stop(Watch(stored.watch_id, stored.resource_id, stored.ends_at))
        except ProviderError as error:
            logger.warning("channel not stopped at the provider; forgotten", extra={
                "integration_id": stored.integration_id, "reason": error.reason})
    watches.delete(stored.watch_id)
    count(Metric.WATCH_STOPPED)
