"""Feeds served like static files (``calsync.feed.cache``): a version's body is rendered once, stored in S3
(moto) in both codings, and every later request of that version is answered from the stored copy; a body
too large for one Lambda response goes out as a redirect to its stored object, which real clients follow.

The size limit is lowered in most tests so a small feed takes the redirect path; the full-size case, a
20,000-event feed for a client that does not ask for gzip, is the ``slow`` test at the end (and
``bench/feed_render.py``).
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import httpx
import pytest

from calsync.aws import feed_bodies
from calsync.domain.event import EventKey
from calsync.domain.feed import IssuedToken
from calsync.domain.model import Integration, SyncWindow
from calsync.feed import cache
from calsync.services import feeds as management
from calsync.store import feeds
from devstack.deployment import Deployment
from devstack.local_api import LocalApi
from tests.integration.test_feed_subscriber import Subscriber, markers, span
from tests.support.feeds import apply, at, booking, feed_url, fetch, seed_feed, today
from tests.support.ical_parsers import Span, assert_all_read

PLAIN_TOO_LARGE = 2_000  # bytes: a few events in plain text no longer fit one response, their gzip does
NOTHING_FITS = 300


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> LocalApi:
    return deployment.api


def new_feed(tenant_id: str, **options: Any) -> tuple[Integration, IssuedToken]:
    return management.create_feed(tenant_id, "dr-1", base_url="http://127.0.0.1:1", **options)


def booked(tenant_id: str, count: int) -> dict[str, Span]:
    starts = {f"a-{n}": at(today() + dt.timedelta(days=1 + n), 9) for n in range(count)}
    apply(*(booking(tenant_id, name, start) for name, start in starts.items()))
    return {name: span(start) for name, start in starts.items()}


def no_window_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the stored copy was not used: the window was read again")

    monkeypatch.setattr("calsync.store.feeds.window_page", refuse)


def test_a_version_is_rendered_once_and_then_served_from_its_stored_copy(
        server: LocalApi, tenant_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    feed, issued = new_feed(tenant_id)
    booked(tenant_id, 3)
    first, zipped = fetch(server, issued.token), fetch(server, issued.token, accept_encoding="gzip")
    state = feeds.get_state(feed.integration_id)
    assert state is not None and state.rendered is not None
    assert state.rendered.etag == first.headers["etag"] == zipped.headers["etag"]
    stored_plain = feed_bodies.get(feed.integration_id, first.headers["etag"], gzipped=False)
    stored_zip = feed_bodies.get(feed.integration_id, first.headers["etag"], gzipped=True)
    assert stored_plain == first.body and stored_zip is not None and gzip.decompress(stored_zip) == first.body

    with monkeypatch.context() as patched:  # no conditional header, a second device, the other coding
        no_window_reads(patched)
        again, again_zipped = fetch(server, issued.token), fetch(server, issued.token, accept_encoding="gzip")
    assert (again.status, again.body) == (200, first.body)
    assert again_zipped.headers["content-encoding"] == "gzip" and again_zipped.body == first.body

    apply(booking(tenant_id, "a-new", at(today() + dt.timedelta(days=9), 9)))  # a new version is rendered anew
    changed = fetch(server, issued.token)
    assert changed.headers["etag"] != first.headers["etag"] and b"BEGIN:VEVENT" in changed.body
    assert changed.body.count(b"BEGIN:VEVENT") == first.body.count(b"BEGIN:VEVENT") + 1


def test_a_body_too_large_for_one_response_is_a_redirect_to_exactly_the_same_document(
        server: LocalApi, tenant_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    feed, issued = new_feed(tenant_id)
    expected = booked(tenant_id, 6)
    inline = fetch(server, issued.token).body
    monkeypatch.setattr(cache, "MAX_RESPONSE_BYTES", PLAIN_TOO_LARGE)
    no_window_reads(monkeypatch)

    answer = fetch(server, issued.token)  # a client that does not ask for gzip
    assert answer.status == 302 and answer.wire == b""
    assert answer.headers["etag"] and answer.headers["cache-control"].startswith("private")
    followed = httpx.get(answer.headers["location"], timeout=10)
    assert followed.status_code == 200 and followed.content == inline
    assert followed.headers["content-type"] == "text/calendar; charset=utf-8"
    assert_all_read(followed.content, {EventKey(feed.integration_id, tenant_id, name).uid: when
                                       for name, when in expected.items()})

    # the client comes back with the validator S3 gave it, and gets a 304 like any other
    again = fetch(server, issued.token, if_none_match=followed.headers["etag"])
    assert again.status == 304 and again.headers["etag"] == answer.headers["etag"]

    zipped = fetch(server, issued.token, accept_encoding="gzip")  # gzip still fits: sent inline
    assert zipped.status == 200 and zipped.body == inline


def test_the_redirect_link_is_short_lived_and_names_no_token(server: LocalApi, tenant_id: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    feed, issued = new_feed(tenant_id)
    booked(tenant_id, 6)
    monkeypatch.setattr(cache, "MAX_RESPONSE_BYTES", PLAIN_TOO_LARGE)
    location = fetch(server, issued.token).headers["location"]
    assert issued.token not in location and feed.integration_id in location
    assert "X-Amz-Expires=300" in location and "X-Amz-Signature=" in location


def test_a_stored_copy_that_expired_is_rendered_again(server: LocalApi, tenant_id: str) -> None:
    feed, issued = new_feed(tenant_id)
    booked(tenant_id, 2)
    first = fetch(server, issued.token)
    assert feed_bodies.purge(feed.integration_id) == 2  # the bucket's lifecycle rule got there first
    again = fetch(server, issued.token)
    assert (again.status, again.body) == (200, first.body)
    assert feed_bodies.get(feed.integration_id, first.headers["etag"], gzipped=False) == first.body


def test_deleting_a_feed_removes_its_stored_bodies(server: LocalApi, tenant_id: str) -> None:
    feed, issued = new_feed(tenant_id)
    booked(tenant_id, 2)
    etag = fetch(server, issued.token).headers["etag"]
    management.delete_feed(tenant_id, feed.integration_id)
    assert feed_bodies.get(feed.integration_id, etag, gzipped=False) is None
    assert feed_bodies.get(feed.integration_id, etag, gzipped=True) is None


def test_vdirsyncer_follows_the_redirect_and_ends_with_exactly_the_expected_events(
        deployment: Deployment, tenant_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feed, issued = new_feed(tenant_id)
    expected = booked(tenant_id, 5)
    uid = markers(feed, tenant_id)
    monkeypatch.setattr(cache, "MAX_RESPONSE_BYTES", NOTHING_FITS)  # not even the gzip coding fits now
    seen = len(deployment.api.requests)
    subscriber = Subscriber(tmp_path, feed_url(deployment.api, issued.token))
    assert subscriber.sync() == {uid(name): when for name, when in expected.items()}
    assert ("GET /feeds/{file}", 302) in deployment.api.requests[seen:]

    apply(booking(tenant_id, "a-0", at(today() + dt.timedelta(days=20), 15)))  # a reschedule, a new version
    moved = {**expected, "a-0": span(at(today() + dt.timedelta(days=20), 15))}
    assert subscriber.sync() == {uid(name): when for name, when in moved.items()}


def test_the_window_is_read_page_by_page_and_capped(server: LocalApi, tenant_id: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The window is read page by page: a page size of 2 over 5 events is three queries, and the cap on
    events is honoured."""
    _, issued = new_feed(tenant_id, window=SyncWindow(past_days=30, future_days=60))
    booked(tenant_id, 5)
    pages: list[int] = []
    real = feeds.window_page

    def counted(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        pages.append(len(found[0]))
        return found

    monkeypatch.setattr("calsync.store.feeds.window_page", counted)
    monkeypatch.setattr(cache, "PAGE", 2)
    assert fetch(server, issued.token).body.count(b"BEGIN:VEVENT") == 5
    assert pages == [2, 2, 1]
    pages.clear()
    monkeypatch.setattr(cache, "MAX_EVENTS", 3)
    apply(booking(tenant_id, "one-more", at(today() + dt.timedelta(days=30), 9)))
    assert fetch(server, issued.token).body.count(b"BEGIN:VEVENT") == 3
    assert sum(pages) == 3


@pytest.mark.slow
def test_a_twenty_thousand_event_feed_reaches_a_client_that_does_not_ask_for_gzip(
        deployment: Deployment, tenant_id: str) -> None:
    feed, issued = management.create_feed(tenant_id, "dr-big", backfill=False,
                                          window=SyncWindow(past_days=30, future_days=900))
    seed_feed(deployment.stack, feed, 20_000, dt.datetime.now(dt.UTC))
    answer = fetch(deployment.api, issued.token)
    assert answer.status == 302
    body = httpx.get(answer.headers["location"], timeout=60).content
    assert len(body) > cache.MAX_RESPONSE_BYTES and body.count(b"BEGIN:VEVENT") == 20_000
    zipped = fetch(deployment.api, issued.token, accept_encoding="gzip")
    assert zipped.status == 200 and zipped.body == body
    assert EventKey(feed.integration_id, tenant_id, "apt-0").uid.encode() in body
