"""Rendered feed bodies in S3, keyed by feed and ETag: a feed's document is produced once per version and
then served like a static file (``calsync.feed.cache``).

Each version is two objects, the plain document and its gzip coding, under ``feeds/<feed id>/``. An object
never changes once written (a new version is a new key), so a reader can never get half of two versions;
the bucket's lifecycle rule expires them after a couple of days (template.yaml, ``FeedCacheBucket``), which
is how superseded versions go away. A body too large for one Lambda response is handed to the calendar app
as a short-lived presigned URL to its object (a redirect), signed with the function's own role.

Object bodies are patient data as each clinician chose to show it: the bucket is private, encrypted with
the stack's key, and reachable only through these presigned URLs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from calsync.core.errors import ConfigurationError, StoreError
from calsync.core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIX = "feeds/"
CONTENT_TYPE = "text/calendar; charset=utf-8"
CACHE_CONTROL = "private, no-cache"
LINK_SECONDS = 300
"""How long a redirect's presigned URL works: the calendar app follows it at once."""


@dataclass(frozen=True)
class Stored:
    """What writing one coding left: its size, and the ETag S3 will answer a redirected client with."""

    size: int
    object_etag: str


def bucket() -> str | None:
    """The cache bucket (None: this deployment renders every request, nothing is cached)."""
    return get_settings().feed_cache_bucket


def _bucket() -> str:
    name = bucket()
    if not name:
        raise ConfigurationError("CALSYNC_FEED_CACHE_BUCKET is not set")
    return name


@lru_cache(maxsize=1)
def client() -> S3Client:
    """The S3 client (SigV4: objects are KMS-encrypted, and presigned URLs for them need it)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(signature_version="s3v4", retries={"max_attempts": 3,
                                                                                "mode": "standard"}))


def key(feed_id: str, etag: str, gzipped: bool) -> str:
    """``feeds/<feed id>/<digest of the ETag>.ics[.gz]``: the ETag itself carries quotes and ``W/``."""
    digest = hashlib.sha256(etag.encode()).hexdigest()[:32]
    return f"{PREFIX}{feed_id}/{digest}.ics{'.gz' if gzipped else ''}"


def put(feed_id: str, etag: str, body: bytes, gzipped: bool) -> Stored:
    extra: dict[str, Any] = {"ContentEncoding": "gzip"} if gzipped else {}
    try:
        answer = client().put_object(Bucket=_bucket(), Key=key(feed_id, etag, gzipped), Body=body,
                                     ContentType=CONTENT_TYPE, CacheControl=CACHE_CONTROL, **extra)
    except Exception as error:  # botocore's tree: the code only, never the body
        raise StoreError(f"S3 PutObject failed: {_code(error)}") from None
    return Stored(size=len(body), object_etag=str(answer.get("ETag", "")))


def get(feed_id: str, etag: str, gzipped: bool) -> bytes | None:
    """The stored coding, or None when it is not there (expired, or never written)."""
    try:
        answer = client().get_object(Bucket=_bucket(), Key=key(feed_id, etag, gzipped))
        body: bytes = answer["Body"].read()
    except Exception as error:
        if _code(error) in ("NoSuchKey", "404"):
            return None
        raise StoreError(f"S3 GetObject failed: {_code(error)}") from None
    return body


def link(feed_id: str, etag: str, gzipped: bool) -> str:
    """A presigned GET URL of the stored coding, valid for :data:`LINK_SECONDS`."""
    url: str = client().generate_presigned_url(
        "get_object", Params={"Bucket": _bucket(), "Key": key(feed_id, etag, gzipped)}, ExpiresIn=LINK_SECONDS)
    return url


def purge(feed_id: str) -> int:
    """Deletes every stored body of a feed (when the feed is deleted); returns how many. Nothing to do
    when this deployment caches nothing."""
    if not bucket():
        return 0
    removed = 0
    pages = client().get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=f"{PREFIX}{feed_id}/")
    for page in pages:
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client().delete_objects(Bucket=_bucket(), Delete={"Objects": keys, "Quiet": True})  # type: ignore[typeddict-item]
            removed += len(keys)
    return removed


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or type(error).__name__)
    return type(error).__name__
