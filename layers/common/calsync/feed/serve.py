"""Answers ``GET``/``HEAD /feeds/{token}.ics``.

Order of work, cheapest first: a malformed token is refused without a read; a token is one conditional
update by its hash (it also counts the URL's requests); the feed's state is one small GetItem, enough for
``ETag``/``Last-Modified`` and a 304; a full answer is then the version's stored body (``feed.cache``):
sent inline when it fits one Lambda response, else a redirect to its stored object. Only the first
request of a version reads the window. Unknown tokens get 404 and revoked ones 410, with the same
tenant-free body whatever the tenant, so a probe learns nothing about who uses the service. The token
never reaches a log line: ``token_id`` is logged instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from calsync.core.observability import Metric, count, logger
from calsync.feed import cache, conditional, document, tokens
from calsync.store import feeds

CONTENT_TYPE = "text/calendar; charset=utf-8"

_ALWAYS = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
_ERROR_HEADERS = {**_ALWAYS, "Cache-Control": "no-store", "Content-Type": "text/plain; charset=utf-8"}
NOT_FOUND_BODY = b"Not found.\n"
TOO_MANY_BODY = b"This calendar link is being fetched too often. Try again later.\n"
REQUESTS_PER_WINDOW = 20
WINDOW_SECONDS = 300
"""Each URL may be fetched this often: calendar apps refresh every 15 minutes to a day, so 20 requests in
5 minutes leaves room for several devices sharing one link while a client polling in a loop only slows
itself down (429 with ``Retry-After``), never another clinician's feed."""
GONE_BODY = b"This calendar link has been revoked. Ask for a new link where you got this one.\n"


@dataclass(frozen=True)
class FeedRequest:
    method: str
    file_name: str
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case


@dataclass(frozen=True)
class FeedResponse:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    binary: bool = False  # True when ``body`` is gzip (API Gateway then needs it base64-encoded)



def _error(status: int, body: bytes, reason: str) -> FeedResponse:
    count(Metric.FEED_TOKEN_REJECTED)
    logger.info("feed request refused", extra={"status": status, "reason": reason})
    return FeedResponse(status, dict(_ERROR_HEADERS), body)


def serve(request: FeedRequest, now: dt.datetime | None = None) -> FeedResponse:
    now = now or dt.datetime.now(dt.UTC)
    logger.remove_keys(["token_id", "feed_id"])
    headers = {name.lower(): value for name, value in request.headers.items()}
    token = tokens.token_from_file_name(request.file_name)
    if token is None:
        return _error(404, NOT_FOUND_BODY, "malformed")
    admission = feeds.admit(tokens.token_hash(token), now, REQUESTS_PER_WINDOW, WINDOW_SECONDS)
    found = admission.token
    if found is None:
        return _error(404, NOT_FOUND_BODY, "unknown")
    logger.append_keys(token_id=found.token_id, feed_id=found.feed_id)
    if admission.retry_after is not None:
        count(Metric.FEED_THROTTLED)
        logger.warning("feed request throttled", extra={"status": 429, "retry_after": admission.retry_after})
        return FeedResponse(429, {**_ERROR_HEADERS, "Retry-After": str(admission.retry_after)}, TOO_MANY_BODY)
    if found.revoked:
        return _error(410, GONE_BODY, "revoked")
    state = feeds.get_state(found.feed_id)
    if state is None:
        return _error(410, GONE_BODY, "feed_deleted")

    window = document.Window.of(state, now)
    modified = document.last_modified(state, now)
    validators = {
        "ETag": document.etag(state, window),
        "Last-Modified": conditional.http_date(modified),
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding",
        **_ALWAYS,
    }
    current = cache.cached(state, validators["ETag"])
    also = (current.rendered.object_etag,) if current is not None and current.rendered.object_etag else ()
    if conditional.not_modified(headers, validators["ETag"], modified, also=also):
        count(Metric.FEED_NOT_MODIFIED)
        logger.info("feed not modified", extra={"status": 304})
        return FeedResponse(304, validators)
    if request.method == "HEAD":
        count(Metric.FEED_SERVED)
        return FeedResponse(200, {**validators, "Content-Type": CONTENT_TYPE})

    gzip_ok = conditional.accepts_gzip(headers.get("accept-encoding"))
    answer = _deliver(current, validators, gzip_ok) if current is not None else None
    if answer is None:  # the first request of this version (or its stored copy expired): render it now
        answer = _deliver(cache.produce(state, window, validators["ETag"]), validators, gzip_ok)
    assert answer is not None  # a body just produced is at hand in memory
    return answer


def _deliver(body: cache.Body, validators: dict[str, str], gzip_ok: bool) -> FeedResponse | None:
    """The body inline when it fits one Lambda response, else a redirect to its stored object; None when
    the stored copy this needs is gone."""
    headers = {**validators, "Content-Type": CONTENT_TYPE, **({"Content-Encoding": "gzip"} if gzip_ok else {})}
    log = {"status": 200, "bytes": body.rendered.gzip_size if gzip_ok else body.rendered.size, "gzip": gzip_ok,
           "rendered": body.events is not None, "events": body.events}
    if body.fits(gzip_ok):
        inline = body.coding(gzip_ok)
        if inline is None:
            return None
        count(Metric.FEED_SERVED)
        logger.info("feed served", extra=log)
        return FeedResponse(200, headers, inline, binary=gzip_ok)
    if body.stored:
        count(Metric.FEED_REDIRECTED)
        logger.info("feed served from its stored copy", extra={**log, "status": 302})
        return FeedResponse(302, {**validators, "Location": cache.link(body, gzip_ok)})
    count(Metric.FEED_TOO_LARGE)
    logger.error("feed too large for one response and not stored", extra=log)
    return FeedResponse(500, dict(_ERROR_HEADERS), b"This calendar is too large to send.\n")
