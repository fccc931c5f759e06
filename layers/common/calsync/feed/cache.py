"""A feed's document, produced once per version and then served like a static file.

The first GET of a version (a version is a feed state and a window: the ETag) reads the window's VEVENTs
page by page, joins them, gzips the result, and stores both codings in S3 (``aws.feed_bodies``); the feed's
state item then records which ETag is cached and how big each coding is. Every later GET of that version
(a subscriber without a validator, a second device, a client that ignores ETags) is answered from the
stored object, without reading the window again.

What goes out is decided by size, never by the feed's history: a body that fits one Lambda response (6 MB,
counted as it travels: base64 for gzip, JSON-escaped for text) is sent inline; a larger one is a 302 to
a presigned URL of its stored object, valid for a few minutes. Calendar apps ask for gzip, and the gzip
of even a 20,000-event feed is about 2 MB, so the redirect is for clients that do not: their 18 MB body
goes straight from S3, within every Lambda and API Gateway limit.

A deployment without a cache bucket (``CALSYNC_FEED_CACHE_BUCKET`` unset) renders every request and can
only send what fits inline.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib
from dataclasses import dataclass

from calsync.aws import feed_bodies
from calsync.domain.feed import FeedState, Rendered
from calsync.feed import document
from calsync.store import feeds, tables

GZIP_LEVEL = 6
PAGE = 1000
"""VEVENTs read per query (a page is at most 1 MB anyway)."""
MAX_EVENTS = 100_000
"""A document holds at most this many events (about 85 MB plain): a window that holds more is a
misconfigured feed, and is cut here rather than running the function out of memory."""
MAX_RESPONSE_BYTES = 5_800_000
"""What one Lambda response can carry (6 MB including the envelope), counted as it travels."""
_CONTROL = bytes([*range(32), 127])
_HIGH = bytes(range(128, 256))


def text_wire_size(body: bytes) -> int:
    """An upper bound on the size of ``body`` as the JSON string of a Lambda response: CR, LF, tab, quote
    and backslash take two characters, other control characters and DEL six, and a non-ASCII character at most
    six per byte of its UTF-8 encoding (``\\uXXXX``)."""
    controls = len(body) - len(body.translate(None, _CONTROL))
    short = body.count(b"\r") + body.count(b"\n") + body.count(b"\t")
    high = len(body) - len(body.translate(None, _HIGH))
    return len(body) + short + 5 * (controls - short) + body.count(b'"') + body.count(b"\\") + 5 * high


def gzip_wire_size(size: int) -> int:
    """A gzip body goes out base64-encoded."""
    return 4 * -(-size // 3)


@dataclass(frozen=True)
class Body:
    """A version's body: what is known about it, and whichever codings are at hand in memory."""

    feed_id: str
    rendered: Rendered
    plain: bytes | None = None
    zipped: bytes | None = None
    events: int | None = None
    stored: bool = False

    def fits(self, gzipped: bool) -> bool:
        wire = gzip_wire_size(self.rendered.gzip_size) if gzipped else self.rendered.plain_wire
        return wire <= MAX_RESPONSE_BYTES

    def coding(self, gzipped: bool) -> bytes | None:
        """The coding's bytes: in memory, else from the store (None: it is not there any more)."""
        held = self.zipped if gzipped else self.plain
        if held is not None:
            return held
        return feed_bodies.get(self.feed_id, self.rendered.etag, gzipped) if self.stored else None


def warm() -> None:
    """What every feed request needs, made once at init (the handler calls it at import): the DynamoDB
    client, the body cache's S3 client, and iCalendar for a version's first render. No request is sent."""
    tables.warm()
    if feed_bodies.bucket():
        feed_bodies.client()
    importlib.import_module("icalendar")


def cached(state: FeedState, etag: str) -> Body | None:
    """The stored body of this version, when the state item says there is one."""
    rendered = state.rendered
    if rendered is None or rendered.etag != etag or not feed_bodies.bucket():
        return None
    return Body(state.feed_id, rendered, stored=True)


def render(state: FeedState, window: document.Window) -> tuple[bytes, int]:
    """The whole document, the window's VEVENTs read page by page; and how many events it holds."""
    vevents: list[str] = []
    after: dict[str, str] | None = None
    while len(vevents) < MAX_EVENTS:
        page, after = feeds.window_page(state.feed_id, window.start_key, window.end_key, after,
                                        min(PAGE, MAX_EVENTS - len(vevents)))
        vevents += page
        if after is None:
            break
    return document.assemble(document.header(state, window), vevents), len(vevents)


def produce(state: FeedState, window: document.Window, etag: str) -> Body:
    """Renders this version, stores both codings and records them (when this deployment caches)."""
    plain, events = render(state, window)
    zipped = gzip.compress(plain, compresslevel=GZIP_LEVEL, mtime=0)
    rendered = Rendered(etag=etag, size=len(plain), gzip_size=len(zipped), plain_wire=text_wire_size(plain))
    if not feed_bodies.bucket():
        return Body(state.feed_id, rendered, plain, zipped, events)
    stored = feed_bodies.put(state.feed_id, etag, plain, gzipped=False)
    feed_bodies.put(state.feed_id, etag, zipped, gzipped=True)
    rendered = dataclasses.replace(rendered, object_etag=stored.object_etag)
    feeds.record_rendered(state.feed_id, state.version, rendered)
    return Body(state.feed_id, rendered, plain, zipped, events, stored=True)


def link(body: Body, gzipped: bool) -> str:
    return feed_bodies.link(body.feed_id, body.rendered.etag, gzipped)
