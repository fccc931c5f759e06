"""Answers ``GET``/``HEAD /feeds/{token}.ics``.

Order of work, cheapest first: a malformed token is refused without a read; a token is one GetItem by
its hash; the feed's state is one small GetItem, enough for ``ETag``/``Last-Modified`` and a 304; only
then one query for the VEVENTs in the window, joined into the document. Unknown tokens get 404 and
revoked ones 410, with the same tenant-free body whatever the tenant, so a probe learns nothing about
who uses the service. The token never reaches a log line: ``token_id`` is logged instead.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Mapping
from dataclasses import dataclass, field

from calsync.core.observability import Metric, count, logger
from calsync.feed import conditional, document, tokens
from calsync.store import feeds

CONTENT_TYPE = "text/calendar; charset=utf-8"
MAX_RESPONSE_BYTES = 5_800_000
"""What one Lambda response can carry (6 MB including the envelope), counted after base64."""
GZIP_LEVEL = 6

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

    @property
    def wire_size(self) -> int:
        return 4 * -(-len(self.body) // 3) if self.binary else len(self.body)


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
    if conditional.not_modified(headers, validators["ETag"], modified):
        count(Metric.FEED_NOT_MODIFIED)
        logger.info("feed not modified", extra={"status": 304})
        return FeedResponse(304, validators)
    if request.method == "HEAD":
        count(Metric.FEED_SERVED)
        return FeedResponse(200, {**validators, "Content-Type": CONTENT_TYPE})

    vevents = feeds.window_events(state.feed_id, window.start_key, window.end_key)
    body = document.assemble(document.header(state, window), vevents)
    response = _encoded(body, validators, conditional.accepts_gzip(headers.get("accept-encoding")))
    if response.wire_size > MAX_RESPONSE_BYTES:
        count(Metric.FEED_TOO_LARGE)
        logger.error("feed too large for one response",
                     extra={"events": len(vevents), "bytes": len(body), "gzip": response.binary})
        return FeedResponse(500, dict(_ERROR_HEADERS), b"This calendar is too large to send.\n")
    count(Metric.FEED_SERVED)
    logger.info("feed served", extra={"status": 200, "events": len(vevents), "bytes": len(response.body),
                                      "gzip": response.binary})
    return response


def _encoded(body: bytes, validators: dict[str, str], gzip_ok: bool) -> FeedResponse:
    headers = {**validators, "Content-Type": CONTENT_TYPE}
    if gzip_ok:
        compressed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        return FeedResponse(200, {**headers, "Content-Encoding": "gzip"}, compressed, binary=True)
    return FeedResponse(200, headers, body)
