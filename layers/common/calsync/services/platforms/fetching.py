"""Fetch-backs: reading a booking from its platform's API, now (inside a webhook) or later (the sweeper).

A fetch-back that the platform cannot answer for now (429, 5xx, a timeout) is queued in DynamoDB
(``fetch#<booking>``) and retried by the sweeper on calsync's one schedule (``calsync.domain.retry_policy``: 1, 5,
15, 30, 60 minutes, the platform's Retry-After wins, given up after five) — the same rules as a calendar
provider. A held reschedule cancel whose new booking never arrived is settled here too (:func:`resolve_hold`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from calsync.core.errors import ConfigurationError, ProviderError, ProviderRetryableError
from calsync.core.observability import Metric, count, logger
from calsync.core.settings import get_settings
from calsync.domain import retry_policy
from calsync.domain.contract import AppointmentStatus, parse_detail
from calsync.platforms import registry
from calsync.platforms.api import PlatformApi, auth_headers
from calsync.platforms.base import Platform, Rejected
from calsync.platforms.source import Source
from calsync.services.platforms import sources
from calsync.services.platforms.publishing import Result, failed, publish_booking, publish_change, remove
from calsync.store import platform_intake
from calsync.store.platform_intake import Kind, Record


def api_for(platform: Platform, source: Source, timeout_seconds: float) -> PlatformApi:
    base = source.api_base_url or platform.api_base
    if base is None:
        raise ConfigurationError(f"{platform.name} source has no api_base_url")
    return PlatformApi(platform.name, base, auth_headers(sources.credentials(source.tenant_id, platform.name)),
                       local_development=get_settings().local_development, timeout_seconds=timeout_seconds)


def defer_fetch(platform: Platform, source: Source, reference: str, now: dt.datetime, failures: int,
                retry_after: float | None) -> None:
    """Queues a fetch-back for the sweeper, on calsync's retry schedule; gives up after the last retry."""
    when = retry_policy.next_attempt(failures, now, retry_after)
    if when is None:
        platform_intake.delete(source.tenant_id, platform.name, Kind.FETCH, reference)
        count(Metric.PLATFORM_FETCH_DEAD)
        logger.error("platform fetch-back given up", extra={"platform": platform.name, "tenant_id": source.tenant_id,
                                                            "attempts": failures})
        return
    queue_fetch(platform, source, reference, attempts=failures, due=when)
    logger.warning("platform fetch-back deferred", extra={"platform": platform.name, "tenant_id": source.tenant_id,
                                                          "attempts": failures, "next_attempt": when.isoformat()})


def queue_fetch(platform: Platform, source: Source, reference: str, *, attempts: int, due: dt.datetime) -> None:
    platform_intake.put(source.tenant_id, platform.name, Kind.FETCH, reference, body={"reference": reference},
                        due=due, attempts=attempts)
    count(Metric.PLATFORM_FETCH_DEFERRED)


def _source_of(record: Record) -> tuple[Platform, Source] | None:
    platform = registry.get(record.platform)
    source = sources.load(record.tenant_id, record.platform) if platform is not None else None
    if platform is None or source is None:
        platform_intake.delete(record.tenant_id, record.platform, record.kind, record.name)
        return None
    return platform, source


def retry_fetch(record: Record, now: dt.datetime) -> Result:
    """One queued fetch-back, tried again (the sweeper claimed ``record``)."""
    found = _source_of(record)
    if found is None:
        return Result.IGNORED
    platform, source = found
    try:
        booking = platform.fetch(api_for(platform, source, get_settings().provider_timeout_seconds), record.name,
                                 source)
    except ProviderRetryableError as error:
        defer_fetch(platform, source, record.name, now, record.attempts + 1, error.retry_after)
        return Result.DEFERRED
    except (ProviderError, ConfigurationError, Rejected) as error:
        platform_intake.delete(source.tenant_id, platform.name, Kind.FETCH, record.name)
        return failed(platform, source, error)
    platform_intake.delete(source.tenant_id, platform.name, Kind.FETCH, record.name)
    if booking is None:
        return remove(platform, source, record.name, now, AppointmentStatus.DELETED, state=True)
    return publish_booking(platform, source, booking, now, state=True)


def resolve_hold(record: Record, now: dt.datetime) -> Result:
    """A reschedule's cancel whose new booking never arrived: the new booking is fetched and published as
    the move; if the platform no longer has it, the held cancel is published after all. When neither can
    be decided, the appointment stays where it was (a calendar never loses it on a guess)."""
    found = _source_of(record)
    if found is None or record.body is None:
        return Result.IGNORED
    platform, source = found
    reference = record.body.get("successor_ref")
    if not reference:
        platform_intake.delete(source.tenant_id, platform.name, Kind.HELD, record.name)
        return Result.IGNORED
    try:
        successor = platform.fetch(api_for(platform, source, get_settings().provider_timeout_seconds),
                                   str(reference), source)
    except ProviderRetryableError as error:
        when = retry_policy.next_attempt(record.attempts + 1, now, error.retry_after)
        if when is None:
            platform_intake.delete(source.tenant_id, platform.name, Kind.HELD, record.name)
            return failed(platform, source, error)
        platform_intake.reschedule(source.tenant_id, platform.name, Kind.HELD, record.name, due=when,
                                   attempts=record.attempts + 1)
        return Result.DEFERRED
    except (ProviderError, ConfigurationError, Rejected) as error:
        platform_intake.delete(source.tenant_id, platform.name, Kind.HELD, record.name)
        return failed(platform, source, error)
    if successor is not None and successor.status == AppointmentStatus.SCHEDULED.value:
        return publish_booking(platform, source, dataclasses.replace(successor, continues=record.name), now,
                               state=False)
    platform_intake.delete(source.tenant_id, platform.name, Kind.HELD, record.name)
    return publish_change(platform, source, parse_detail(record.body["detail"], now), now, state=False)
