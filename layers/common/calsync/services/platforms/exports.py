"""Platforms without webhooks: each due calendar export (an ICS URL) polled as an appointment source.

:func:`poll` downloads one export conditionally (``If-None-Match`` / ``If-Modified-Since``, so an unchanged
export costs one 304), publishes what changed since the last poll, and cancels upcoming appointments that
disappeared from it. An export that suddenly lists nothing at all is not believed (a platform's hiccup must
not empty a clinician's calendar): nothing is cancelled and the poll counts as failed. A failing export is
polled again on calsync's retry schedule (``calsync.domain.retry_policy``), then hourly.

The sweeper decides which exports are due and pays for each poll from its run's budget
(``calsync.services.sweeper.platform_exports``).
"""

from __future__ import annotations

import datetime as dt

import httpx

from calsync.core.errors import ProviderError
from calsync.core.observability import Metric, count, logger
from calsync.core.settings import get_settings
from calsync.domain import retry_policy
from calsync.domain.contract import AppointmentStatus
from calsync.platforms import mapping, registry
from calsync.platforms.api import download_export
from calsync.platforms.base import Booking, Platform, Rejected, Scheme
from calsync.platforms.source import Source
from calsync.services.platforms import publishing, sources
from calsync.store import appointments, platform_intake
from calsync.store.platform_intake import RECORD_RETENTION, Kind, Record

LEASE_SECONDS = 300
"""How long a claimed poll is invisible to an overlapping sweeper run."""
FAILING_POLL_INTERVAL = dt.timedelta(hours=1)


class _Refused(Exception):
    """An export calsync does not take (no URL configured, or an export that suddenly lists nothing)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def poll(record: Record, now: dt.datetime) -> None:
    """Polls one claimed export source (a ``poll`` record of the intake table) and sets when it is due next."""
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
    except (_Refused, ProviderError, Rejected, mapping.Unmapped) as error:
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
    """The export, or None when it has not changed since the last poll."""
    url = sources.credentials(source.tenant_id, platform.name).get("ics_url")
    if not isinstance(url, str) or not url:
        raise _Refused("no_ics_url")
    settings = get_settings()
    return download_export(platform.name, url, {k: str(v) for k, v in validators.items() if v},
                           local_development=settings.local_development,
                           timeout_seconds=settings.provider_timeout_seconds)


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

