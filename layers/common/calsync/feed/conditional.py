"""HTTP details of serving a feed: conditional requests (RFC 9110 §13) and gzip negotiation."""

from __future__ import annotations

import datetime as dt
import email.utils


def http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def parse_http_date(value: str) -> dt.datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def none_match(if_none_match: str, current: str) -> bool:
    """Whether ``If-None-Match`` names the current representation (weak comparison, as RFC 9110
    requires for this header)."""
    if if_none_match.strip() == "*":
        return True
    return any(_opaque(tag) == _opaque(current) for tag in if_none_match.split(","))


def not_modified(headers: dict[str, str], etag: str, last_modified: dt.datetime, also: tuple[str, ...] = ()) -> bool:
    """True when the client's copy is current. ``If-None-Match`` wins over ``If-Modified-Since``. ``also``:
    other validators of the same representation (the ETag S3 gave a client that was redirected there)."""
    if (if_none_match := headers.get("if-none-match")) is not None:
        return any(none_match(if_none_match, tag) for tag in (etag, *also))
    if (if_modified_since := headers.get("if-modified-since")) is not None:
        since = parse_http_date(if_modified_since)
        return since is not None and last_modified.replace(microsecond=0) <= since
    return False


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip`` or ``*`` without ``q=0``)."""
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        weight = 1.0
        params = params.strip().replace(" ", "")
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                weight = 0.0
        weights[coding.strip().lower()] = weight
    if "gzip" in weights:
        return weights["gzip"] > 0
    return weights.get("*", 0.0) > 0
