"""Conditional requests and gzip negotiation for the feed (RFC 9110)."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.feed import conditional

ETAG = 'W/"abc123"'
CHANGED = dt.datetime(2026, 11, 21, 10, 0, 5, 123000, tzinfo=dt.UTC)


@pytest.mark.parametrize(("header", "matches"), [
    ('W/"abc123"', True),
    ('"abc123"', True),  # weak comparison: a strong copy of the same tag matches
    ('"zzz", W/"abc123"', True),
    ("*", True),
    ('W/"abc12"', False),
    ('"other"', False),
    ("", False),
])
def test_if_none_match_uses_weak_comparison(header, matches):
    assert conditional.not_modified({"if-none-match": header}, ETAG, CHANGED) is matches


def test_if_modified_since_compares_whole_seconds():
    same_second = conditional.http_date(CHANGED)
    earlier = conditional.http_date(CHANGED - dt.timedelta(seconds=1))
    assert conditional.not_modified({"if-modified-since": same_second}, ETAG, CHANGED)
    assert not conditional.not_modified({"if-modified-since": earlier}, ETAG, CHANGED)
    assert not conditional.not_modified({"if-modified-since": "not a date"}, ETAG, CHANGED)


def test_if_none_match_wins_over_if_modified_since():
    headers = {"if-none-match": '"stale"', "if-modified-since": conditional.http_date(CHANGED)}
    assert not conditional.not_modified(headers, ETAG, CHANGED)


def test_no_validator_means_a_full_response():
    assert not conditional.not_modified({}, ETAG, CHANGED)


def test_http_date_is_imf_fixdate_in_gmt():
    assert conditional.http_date(CHANGED) == "Sat, 21 Nov 2026 10:00:05 GMT"
    assert conditional.parse_http_date("Sat, 21 Nov 2026 10:00:05 GMT") == CHANGED.replace(microsecond=0)


@pytest.mark.parametrize(("accept_encoding", "gzip_ok"), [
    (None, False),
    ("", False),
    ("gzip", True),
    ("gzip, deflate, br", True),
    ("br;q=1.0, gzip;q=0.8", True),
    ("GZIP", True),
    ("gzip;q=0", False),
    ("gzip; q=0.0", False),
    ("*", True),
    ("*;q=0", False),
    ("deflate", False),
    ("identity", False),
    ("*, gzip;q=0", False),
])
def test_gzip_is_sent_only_when_accepted(accept_encoding, gzip_ok):
    assert conditional.accepts_gzip(accept_encoding) is gzip_ok
