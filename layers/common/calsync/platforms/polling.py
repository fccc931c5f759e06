"""The sweeper's booking-platform jobs: polling calendar exports, and the follow-ups webhooks left.

:func:`poll_ics_sources` downloads each due export (conditionally: ``If-None-Match`` /
``If-Modified-Since``, so an unchanged export costs one 304), publishes what changed since the last
poll, and cancels upcoming appointments that disappeared from it. An export that suddenly lists
nothing at all is not believed (a platform's hiccup must not empty a clinician's calendar): nothing is
cancelled and the poll counts as failed. A failing export is polled again on calsync's retry schedule,
then hourly.

:func:`retry_platform_fetches` retries queued fetch-backs and resolves reschedule holds
(``calsync.platforms.fetching``).

Both take the sweeper's budget and spend one sync per source or item, so they never crowd out the
calendar work the sweeper does first.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import httpx

from calsync import retry_policy
from calsync.contract import AppointmentStatus
from calsync.errors import CalSyncError, ProviderError
from calsync.observability import Metric, count, logger
from calsync.platforms import fetching, guard, mapping, publishing, registry, sources
from calsync.platforms.api import MAX_RESPONSE_BYTES
from calsync.platforms.base import Booking, Platform, Rejected, Scheme
from calsync.platforms.source import Source
from calsync.providers.http import new_client
from calsync.providers.outcomes import raise_for_status, transport_errors
from calsync.settings import get_settings
from calsync.store import appointments, platform_intake
from calsync.store.platform_intake import RECORD_RETENTION, Kind, Record

POLL_LEASE_SECONDS = 300
FOLLOW_UP_LEASE_SECONDS = 120
FAILING_POLL_INTERVAL = dt.timedelta(hours=1)
PAGE = 25


class SweepBudget(Protocol):
    """What the sweeper's run budget offers (``calsync.sweeper.Budget``)."""

    syncs: int

    def can_sync(self) -> bool: ...

    def read(self, items: int = 1) -> None: ...


def poll_ics_sources(now: dt.datetime, budget: SweepBudget) -> int:
    """Polls every export source that is due, while the budget lasts; returns how many were polled."""
    polled = 0
    for tenant_id, platform_name, _ in platform_intake.due(Kind.POLL, now, PAGE):
        if not budget.can_sync():
            break
        budget.read()
        record = platform_intake.claim_due(tenant_id, platform_name, Kind.POLL, "", now, POLL_LEASE_SECONDS)
        if record is None:
            continue
        budget.syncs -= 1
        _poll(record, now)
        polled += 1
    return polled


def retry_platform_fetches(now: dt.datetime, budget: SweepBudget) -> int:
    """Queued fetch-backs and expired reschedule holds that are due, while the budget lasts."""
    worked = 0
    for kind, work in ((Kind.FETCH, fetching.retry_fetch), (Kind.HELD, fetching.resolve_hold)):
        for tenant_id, platform_name, name in platform_intake.due(kind, now, PAGE):
            if not budget.can_sync():
                return worked
            budget.read()
            record = platform_intake.claim_due(tenant_id, platform_name, kind, name, now, FOLLOW_UP_LEASE_SECONDS)
            if record is None:
                continue
            budget.syncs -= 1
            try:
                work(record, now)
            except CalSyncError as error:  # e.g. the bus: the lease expires and the next run tries again
                logger.error("platform follow-up failed", extra={"platform": platform_name, "tenant_id": tenant_id,
                                                                 "error": type(error).__name__})
            worked += 1
    return worked


# -- one export --------------------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(reason)


def _poll(record: Record, now: dt.datetime) -> None:
    platform = registry.get(record.platform)
    source = sources.load(record.tenant_id, record.platform) if platform is not None else None
    if platform is None or source is None or platform.scheme is not Scheme.EXPORT:
        platform_intake.reschedule(record.tenant_id, record.platform, Kind.POLL, "", due=None)
        return
    validators = record.body or {}
    try:
        response = _download(platform, source, validators)
        if response is not None:
            bookings = platform.export(response.content, source)
            _apply(platform, source, bookings, now)
            validators = {"etag": response.headers.get("etag"), "last_modified": response.headers.get("last-modified")}
    except (_Refused, ProviderError, Rejected, guard.BlockedUrl, mapping.Unmapped) as error:
        failures = record.attempts + 1
        retry_after = getattr(error, "retry_after", None)
        when = retry_policy.next_attempt(failures, now, retry_after) or now + FAILING_POLL_INTERVAL
        platform_intake.reschedule(record.tenant_id, record.platform, Kind.POLL, "", due=when, attempts=failures)
        count(Metric.PLATFORM_EXPORT_FAILED)
        logger.warning("platform export poll failed", extra={
            "platform": platform.name, "tenant_id": source.tenant_id, "attempts": failures,
            "reason": getattr(error, "reason", type(error).__name__)})
        return
    platform_intake.reschedule(record.tenant_id, record.platform, Kind.POLL, "",
                               due=now + dt.timedelta(minutes=source.poll_minutes), attempts=0,
                               body={k: v for k, v in validators.items() if v})
    count(Metric.PLATFORM_EXPORT_POLLED)


def _download(platform: Platform, source: Source, validators: dict[str, object]) -> httpx.Response | None:
    """The export, or None when it has not changed since the last poll (304)."""
    url = sources.credentials(source.tenant_id, platform.name).get("ics_url")
    if not isinstance(url, str) or not url:
        raise _Refused("no_ics_url")
    headers = {"Accept": "text/calendar"}
    if validators.get("etag"):
        headers["If-None-Match"] = str(validators["etag"])
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = str(validators["last_modified"])
    with transport_errors(platform.name), new_client(get_settings().provider_timeout_seconds) as client:
        response = guard.request(client, "GET", url, allow_local=get_settings().local_development, headers=headers)
    if response.status_code == 304:
        return None
    raise_for_status(platform.name, response)
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise _Refused("too_large")
    return response


def _apply(platform: Platform, source: Source, bookings: list[Booking], now: dt.datetime) -> None:
    known = {record.name: record for record in platform_intake.list_kind(source.tenant_id, platform.name, Kind.ICS)}
    if not bookings and any(_upcoming(record, now) for record in known.values()):
        raise _Refused("empty_export")
    seen = set()
    for booking in bookings:
        seen.add(booking.booking_id)
        appointment = mapping.appointment_id(platform.name, booking.booking_id)
        try:
            change = mapping.detail(booking, source, appointment, now)
        except Rejected as refusal:  # one unreadable event does not hold up the rest of the export
            logger.warning("export event skipped", extra={"platform": platform.name, "problems": refusal.problems})
            continue
        digest = mapping.state_digest(change)
        previous = known.get(booking.booking_id)
        if previous is not None and previous.digest == digest:
            continue
        published_before = previous.body.get("updated_at") if previous is not None and previous.body else None
        if published_before is not None and change.updated_at <= dt.datetime.fromisoformat(str(published_before)):
            change = change.model_copy(update={"updated_at": now})  # changed, but the export kept its timestamp
        publishing.publish_change(platform, source, change, now, state=False)
        platform_intake.put(source.tenant_id, platform.name, Kind.ICS, booking.booking_id, digest=digest,
                            body={"updated_at": change.updated_at.isoformat(), "end": change.end.isoformat()},
                            keep=RECORD_RETENTION, now=now)
    for name, record in known.items():
        if name in seen or (record.body or {}).get("gone"):
            continue
        if not _upcoming(record, now):
            platform_intake.delete(source.tenant_id, platform.name, Kind.ICS, name)  # left the export's window
            continue
        stored = appointments.get(source.tenant_id, mapping.appointment_id(platform.name, name))
        if stored is None or stored.status.removes_event:
            continue
        cancelled = mapping.removed(stored, max(now, stored.updated_at), AppointmentStatus.CANCELLED)
        publishing.publish_change(platform, source, cancelled, now, state=False)
        platform_intake.put(source.tenant_id, platform.name, Kind.ICS, name, digest="gone",
                            body={"updated_at": cancelled.updated_at.isoformat(), "end": cancelled.end.isoformat(),
                                  "gone": True}, keep=RECORD_RETENTION, now=now)


def _upcoming(record: Record, now: dt.datetime) -> bool:
    """Whether a known export event has not ended yet (one that ended may simply have left the export's window)."""
    body = record.body or {}
    return not body.get("gone") and body.get("end") is not None and dt.datetime.fromisoformat(str(body["end"])) > now

