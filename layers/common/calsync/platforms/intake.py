"""Booking-platform webhooks, from the request to ``Appointment Changed`` on the calsync bus.

    authenticate → read the notices → refuse stale ones → de-duplicate → fetch back → map → publish

Every refusal (bad signature or secret URL, stale timestamp, replay, unknown source) is a 401 that
changed nothing, counted as ``WebhookRejected`` with its ``reason``; an authentic request calsync cannot
read is a 400/422. Events go on the bus with source ``ehr.platform.<platform>`` (the changes rule takes
every ``ehr.`` source), so downstream nothing tells a platform's change from an EHR's.

De-duplication. A delivery with an event id (the platform's own, or one derived from what it signs) is
claimed in DynamoDB before anything happens and kept a week: a second arrival is a replay. Platforms
that send no event id and sign no time (Acuity, the secret-URL family) are de-duplicated on the state
published for the appointment instead — a request is a replay exactly when accepting it would publish
nothing new.

Where a retry lives. A webhook is answered at once, and the two kinds of failure get different homes:

* the *platform's* API fails for now during a fetch-back (429, 5xx, a timeout): the request is authentic
  and its reference is all calsync needs, so it is accepted and the fetch is queued in DynamoDB, retried
  by the sweeper on calsync's one schedule (``calsync.retry_policy``: 1, 5, 15, 30, 60 minutes, the
  platform's Retry-After wins, given up after five) — the same rules as a calendar provider, whatever the
  platform's own redelivery policy is (some never redeliver);
* *calsync's* own trouble (DynamoDB, the bus): nothing is kept, the delivery's claim is released, and the
  answer is 503 with Retry-After so the platform redelivers. Such failures are rare and short, and a
  queue of our own would fail the same way.

Reschedules reported as a cancel plus a new booking (Calendly) move one appointment: the new booking is
published under the original appointment's id (a lineage record maps it), and the cancel is held, never
published. Should the new booking not arrive within :data:`HOLD_WINDOW`, the sweeper resolves the hold by
fetching it (:func:`resolve_hold`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from botocore.exceptions import BotoCoreError, ClientError

from calsync import bus, retry_policy
from calsync.contract import _ID_PATTERN, DETAIL_TYPE, AppointmentChanged, AppointmentStatus, parse_detail
from calsync.errors import ConfigurationError, ProviderError, ProviderRetryableError, StoreError
from calsync.observability import Metric, count, count_by, logger
from calsync.platforms import mapping, registry, sources
from calsync.platforms.api import PlatformApi, auth_headers
from calsync.platforms.base import Booking, Notice, Platform, Reason, Rejected, Scheme, WebhookRequest, fresh
from calsync.platforms.source import Source
from calsync.settings import get_settings
from calsync.store import appointments, platform_intake
from calsync.store.platform_intake import DELIVERY_RETENTION, RECORD_RETENTION, Kind, Record

SOURCE_PREFIX = "ehr.platform."
WEBHOOK_FETCH_TIMEOUT_SECONDS = 4.0
"""A fetch-back inside a webhook must leave time to answer (Square waits 10 s at most)."""
MAX_FETCHES_PER_WEBHOOK = 10
"""A batch (HubSpot sends up to 100 events) fetches this many at once; the rest are queued for the sweeper,
so a webhook always answers within the function's timeout."""
HOLD_WINDOW = dt.timedelta(minutes=10)
RETRY_AFTER_SECONDS = "60"


class Result(StrEnum):
    PUBLISHED = "published"
    REPLAY = "replay"
    HELD = "held"
    DEFERRED = "deferred"
    IGNORED = "ignored"
    UNMAPPED = "unmapped"
    FAILED = "failed"


@dataclass(frozen=True)
class Reply:
    """The HTTP answer to a webhook."""

    status: int
    body: str
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def event_source(platform: str) -> str:
    return f"{SOURCE_PREFIX}{platform}"


def _json(status: int, body: object, **headers: str) -> Reply:
    return Reply(status, json.dumps(body, separators=(",", ":")), headers=headers)


# -- the webhook ------------------------------------------------------------------------------------------


def receive(platform_name: str, tenant_id: str, request: WebhookRequest, path_secret: str | None = None,
            now: dt.datetime | None = None) -> Reply:
    """Answers one webhook (never raises for anything the request contains)."""
    now = now or dt.datetime.now(dt.UTC)
    platform = registry.get(platform_name)
    if platform is None or platform.scheme is Scheme.EXPORT or (
            (platform.scheme is Scheme.SECRET_URL) != (path_secret is not None)):
        return _refused(platform_name[:32], tenant_id, Rejected(Reason.NOT_FOUND, 404))
    try:
        source = _authenticated(platform, tenant_id, request, path_secret)
        notices = platform.notices(request, source)
        if any(not fresh(notice.sent_at, platform.max_age, now) for notice in notices):
            raise Rejected(Reason.STALE)
        fetches = _FetchAllowance(MAX_FETCHES_PER_WEBHOOK)
        results = Counter(process(platform, source, notice, now, fetches) for notice in notices)
    except Rejected as refusal:
        return _refused(platform.name, tenant_id, refusal)
    except (StoreError, BotoCoreError, ClientError) as error:
        count(Metric.WEBHOOK_FAILED)
        logger.error("platform webhook failed", extra={"platform": platform.name, "tenant_id": tenant_id,
                                                        "error": type(error).__name__})
        return _json(503, {"error": "temporarily_unavailable"}, **{"Retry-After": RETRY_AFTER_SECONDS})
    if notices and results[Result.REPLAY] == len(notices):
        return _refused(platform.name, tenant_id, Rejected(Reason.REPLAY))
    count(Metric.WEBHOOK_ACCEPTED)
    logger.info("platform webhook accepted", extra={"platform": platform.name, "tenant_id": tenant_id,
                                                    "results": {k.value: v for k, v in results.items()}})
    answer = platform.answer(results[Result.PUBLISHED])
    if answer is not None:
        return Reply(answer.status, answer.body, answer.content_type)
    return _json(200, {"results": {k.value: v for k, v in sorted(results.items())}})


def _authenticated(platform: Platform, tenant_id: str, request: WebhookRequest, path_secret: str | None) -> Source:
    source = sources.load(tenant_id, platform.name) if re.fullmatch(_ID_PATTERN, tenant_id) else None
    if source is None:
        raise Rejected(Reason.UNKNOWN_SOURCE)
    if path_secret is None:
        platform.verify(request, sources.credentials(tenant_id, platform.name), source)
    elif not sources.path_secret_ok(source, path_secret):
        raise Rejected(Reason.SIGNATURE)
    return source


def _refused(platform: str, tenant_id: str, refusal: Rejected) -> Reply:
    count_by(Metric.WEBHOOK_REJECTED, "reason", refusal.reason.value)
    logger.warning("platform webhook rejected", extra={"platform": platform, "tenant_id": tenant_id[:64],
                                                       "reason": refusal.reason.value, "problems": refusal.problems})
    body: dict[str, object] = {"error": refusal.reason.value}
    if refusal.status not in (401, 404) and refusal.problems:
        body["problems"] = refusal.problems
    return _json(refusal.status, body)


@dataclass
class _FetchAllowance:
    remaining: int

    def take(self) -> bool:
        self.remaining -= 1
        return self.remaining >= 0


def process(platform: Platform, source: Source, notice: Notice, now: dt.datetime,
            fetches: _FetchAllowance | None = None) -> Result:
    """One reported change, under its delivery claim when it has an event id."""
    if notice.booking is None and notice.reference is None:
        return Result.IGNORED
    key = notice.event_id
    if key is not None and not platform_intake.claim_delivery(source.tenant_id, platform.name, key, now):
        return Result.REPLAY
    try:
        result = _apply(platform, source, notice, now, fetches or _FetchAllowance(1))
    except BaseException:
        if key is not None:
            platform_intake.release_delivery(source.tenant_id, platform.name, key)
        raise
    if key is not None:
        platform_intake.finish_delivery(source.tenant_id, platform.name, key)
    return result


def _apply(platform: Platform, source: Source, notice: Notice, now: dt.datetime, fetches: _FetchAllowance) -> Result:
    if notice.removed:
        assert notice.reference is not None
        return _remove(platform, source, notice.reference, now, AppointmentStatus.DELETED,
                       state=notice.event_id is None)
    booking = notice.booking
    if booking is None:
        assert notice.reference is not None
        if not fetches.take():
            queue_fetch(platform, source, notice.reference, attempts=0, due=now)
            return Result.DEFERRED
        try:
            booking = platform.fetch(api_for(platform, source, WEBHOOK_FETCH_TIMEOUT_SECONDS), notice.reference,
                                     source)
        except ProviderRetryableError as error:
            defer_fetch(platform, source, notice.reference, now, 1, error.retry_after)
            return Result.DEFERRED
        except (ProviderError, ConfigurationError) as error:
            return _failed(platform, source, error)
        if booking is None:
            result = _remove(platform, source, notice.reference, now, AppointmentStatus.DELETED,
                             state=notice.event_id is None)
            if result is Result.IGNORED and platform.scheme is Scheme.SECRET_URL:
                raise Rejected(Reason.UNCONFIRMED)  # a booking the platform does not have, and never had
            return result
    return publish_booking(platform, source, booking, now, state=notice.event_id is None)


def _failed(platform: Platform, source: Source, error: Exception) -> Result:
    count(Metric.PLATFORM_FETCH_DEAD)
    logger.error("platform fetch-back failed for good", extra={
        "platform": platform.name, "tenant_id": source.tenant_id, "error": type(error).__name__,
        "reason": getattr(error, "reason", None)})
    return Result.FAILED


# -- from a booking to the bus ----------------------------------------------------------------------------


def _lineage(source: Source, platform: str, booking_id: str) -> Record | None:
    return platform_intake.get(source.tenant_id, platform, Kind.LINEAGE, booking_id)


def appointment_for(platform: Platform, source: Source, booking: Booking, now: dt.datetime) -> str:
    """The appointment a booking is published under, following (and extending) reschedule lineage."""
    own = _lineage(source, platform.name, booking.booking_id)
    if booking.continues:
        linked = own if own is not None and own.body else _lineage(source, platform.name, booking.continues)
        root = str(linked.body["appointment_id"]) if linked is not None and linked.body else (
            mapping.appointment_id(platform.name, booking.continues))
        platform_intake.put(source.tenant_id, platform.name, Kind.LINEAGE, booking.booking_id,
                            body={"appointment_id": root, "confirmed": True}, keep=RECORD_RETENTION, now=now)
        platform_intake.take(source.tenant_id, platform.name, Kind.HELD, booking.continues)
        return root
    if own is not None and own.body:
        return str(own.body["appointment_id"])
    return mapping.appointment_id(platform.name, booking.booking_id)


def publish_booking(platform: Platform, source: Source, booking: Booking, now: dt.datetime, *,
                    state: bool) -> Result:
    """Maps and publishes one booking's state (or holds it, for a reschedule's cancel). ``state``:
    de-duplicate on the published state (the delivery had no event id)."""
    appointment = appointment_for(platform, source, booking, now)
    try:
        change = mapping.detail(booking, source, appointment, now)
    except mapping.Unmapped:
        count(Metric.PLATFORM_CHANGE_UNMAPPED)
        logger.warning("platform booking has no practitioner mapping", extra={
            "platform": platform.name, "tenant_id": source.tenant_id, "staff_ref": booking.staff_ref})
        return Result.UNMAPPED
    if booking.continued_by is not None:
        return _hold(platform, source, booking, change, now)
    return publish_change(platform, source, change, now, state=state)


def publish_change(platform: Platform, source: Source, change: AppointmentChanged, now: dt.datetime, *,
                   state: bool) -> Result:
    previous: str | None = None
    digest = mapping.state_digest(change)
    if state:
        record = platform_intake.get(source.tenant_id, platform.name, Kind.STATE, change.appointment_id)
        previous = record.digest if record is not None else None
        if previous == digest or not platform_intake.replace_digest(
                source.tenant_id, platform.name, change.appointment_id, digest, previous, now):
            return Result.REPLAY
    try:
        bus.publish_all(DETAIL_TYPE, [mapping.as_event_detail(change)], source=event_source(platform.name))
    except BaseException:
        if state:
            platform_intake.delete(source.tenant_id, platform.name, Kind.STATE, change.appointment_id)
        raise
    count(Metric.PLATFORM_CHANGE_PUBLISHED)
    return Result.PUBLISHED


def _hold(platform: Platform, source: Source, booking: Booking, change: AppointmentChanged,
          now: dt.datetime) -> Result:
    """A reschedule's cancel: never published while its new booking can still come."""
    successor = booking.continued_by
    if successor:
        known = _lineage(source, platform.name, successor)
        if known is not None and known.body and known.body.get("confirmed"):
            return Result.HELD  # the new booking came first and already moved the appointment
        platform_intake.put(source.tenant_id, platform.name, Kind.LINEAGE, successor,
                            body={"appointment_id": change.appointment_id, "confirmed": False},
                            keep=RECORD_RETENTION, now=now)
    platform_intake.put(source.tenant_id, platform.name, Kind.HELD, booking.booking_id,
                        body={"detail": mapping.as_event_detail(change), "successor": successor,
                              "successor_ref": booking.continued_by_ref},
                        due=now + HOLD_WINDOW, attempts=0, keep=DELIVERY_RETENTION, now=now)
    count(Metric.PLATFORM_RESCHEDULE_HELD)
    return Result.HELD


def _remove(platform: Platform, source: Source, reference: str, now: dt.datetime, status: AppointmentStatus, *,
            state: bool) -> Result:
    """The platform reports a booking gone (by reference only): the last published state, removed."""
    lineage = _lineage(source, platform.name, reference)
    appointment = str(lineage.body["appointment_id"]) if lineage is not None and lineage.body else (
        mapping.appointment_id(platform.name, reference))
    stored = appointments.get(source.tenant_id, appointment)
    if stored is None or stored.status.removes_event:
        return Result.IGNORED
    return publish_change(platform, source, mapping.removed(stored, max(now, stored.updated_at), status), now,
                          state=state)


# -- fetch-backs, now and later ---------------------------------------------------------------------------


def api_for(platform: Platform, source: Source, timeout_seconds: float) -> PlatformApi:
    base = source.api_base_url or platform.api_base
    if base is None:
        raise ConfigurationError(f"{platform.name} source has no api_base_url")
    return PlatformApi(platform.name, base, auth_headers(sources.credentials(source.tenant_id, platform.name)),
                       allow_local=get_settings().local_development, timeout_seconds=timeout_seconds)


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
        return _failed(platform, source, error)
    platform_intake.delete(source.tenant_id, platform.name, Kind.FETCH, record.name)
    if booking is None:
        return _remove(platform, source, record.name, now, AppointmentStatus.DELETED, state=True)
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
            return _failed(platform, source, error)
        platform_intake.reschedule(source.tenant_id, platform.name, Kind.HELD, record.name, due=when,
                                   attempts=record.attempts + 1)
        return Result.DEFERRED
    except (ProviderError, ConfigurationError, Rejected) as error:
        platform_intake.delete(source.tenant_id, platform.name, Kind.HELD, record.name)
        return _failed(platform, source, error)
    if successor is not None and successor.status == AppointmentStatus.SCHEDULED.value:
        return publish_booking(platform, source, dataclasses.replace(successor, continues=record.name), now,
                               state=False)
    platform_intake.delete(source.tenant_id, platform.name, Kind.HELD, record.name)
    return publish_change(platform, source, parse_detail(record.body["detail"]), now, state=False)
