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
  by the sweeper on calsync's one schedule (``calsync.domain.retry_policy``: 1, 5, 15, 30, 60 minutes, the
  platform's Retry-After wins, given up after five) — the same rules as a calendar provider, whatever the
  platform's own redelivery policy is (some never redeliver);
* *calsync's* own trouble (DynamoDB, the bus): nothing is kept, the delivery's claim is released, and the
  answer is 503 with Retry-After so the platform redelivers. Such failures are rare and short, and a
  queue of our own would fail the same way.

Publishing (reschedule lineage, held cancels, removals) is ``calsync.services.platforms.publishing``'s; fetch-backs,
now and queued, are ``calsync.services.platforms.fetching``'s.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from calsync.core.errors import ConfigurationError, ProviderError, ProviderRetryableError, StoreError
from calsync.core.observability import Metric, count, count_by, logger
from calsync.domain.contract import _ID_PATTERN, AppointmentStatus
from calsync.platforms import registry
from calsync.platforms.base import Notice, Platform, Reason, Rejected, Scheme, WebhookRequest, fresh, path_secret_ok
from calsync.platforms.source import Source
from calsync.services.platforms import sources
from calsync.services.platforms.fetching import api_for, defer_fetch, queue_fetch
from calsync.services.platforms.publishing import Result, failed, publish_booking, remove
from calsync.store import platform_intake

WEBHOOK_FETCH_TIMEOUT_SECONDS = 4.0
"""A fetch-back inside a webhook must leave time to answer (Square waits 10 s at most)."""
MAX_FETCHES_PER_WEBHOOK = 10
"""A batch (HubSpot sends up to 100 events) fetches this many at once; the rest are queued for the sweeper,
so a webhook always answers within the function's timeout."""
RETRY_AFTER_SECONDS = "60"


@dataclass(frozen=True)
class Reply:
    """The HTTP answer to a webhook."""

    status: int
    body: str
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


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
    elif not path_secret_ok(source, path_secret):
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
        return remove(platform, source, notice.reference, now, AppointmentStatus.DELETED,
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
        except (ProviderError, ConfigurationError, Rejected) as error:  # the platform's answer, not the webhook
            return failed(platform, source, error)
        if booking is None:
            result = remove(platform, source, notice.reference, now, AppointmentStatus.DELETED,
                             state=notice.event_id is None)
            if result is Result.IGNORED and platform.scheme is Scheme.SECRET_URL:
                raise Rejected(Reason.UNCONFIRMED)  # a booking the platform does not have, and never had
            return result
    return publish_booking(platform, source, booking, now, state=notice.event_id is None)
