"""Feed records as the rest of calsync sees them (no I/O here; ``calsync.store.feeds`` maps the items)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Rendered:
    """The body last produced for a feed: which document (its ETag), how big each coding is (``plain_wire``:
    the plain text as a Lambda response carries it, JSON-escaped), and the ETag S3 gives the plain object (a
    client redirected there comes back with it as its validator)."""

    etag: str
    size: int
    gzip_size: int
    plain_wire: int
    object_etag: str | None = None


@dataclass(frozen=True)
class FeedState:
    """What serving a feed needs besides its events: answered from one small item."""

    feed_id: str
    tenant_id: str
    name: str
    past_days: int
    future_days: int
    version: int
    updated_at: dt.datetime
    zones: frozenset[str]
    rendered: Rendered | None = None


@dataclass(frozen=True)
class FeedToken:
    """One URL of a feed. ``token_id`` is a public handle; the token itself is never stored."""

    token_id: str
    feed_id: str
    tenant_id: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token: the only moment the secret and its URL exist outside the subscriber."""

    token_id: str
    token: str
    url: str | None
