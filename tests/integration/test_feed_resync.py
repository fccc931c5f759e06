"""Feed writes from both workers: a feed's settings change is carried out by the sweeper, like any
integration's (every event already in the feed is rendered again with the new settings, events the new filters
leave out are removed), and a SEQUENCE stored by a worker whose clock ran ahead is re-read and beaten by the
change worker and by the sweeper alike. Each path runs with its function's role (tests/infrastructure/
test_least_privilege.py), so these also keep the feed permissions of both roles measured."""

from __future__ import annotations

import datetime as dt
import re

from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.feed.serve import FeedRequest, serve
from calsync.formats import ical
from calsync.services import feeds as management
from calsync.services import lifecycle, sweeper
from calsync.store import feeds
from devstack.stack import LocalStack
from tests.support.feeds import apply, at, booking, today
from tests.support.reliability import Clock


def feed_text(token: str) -> str:
    response = serve(FeedRequest(method="GET", file_name=f"{token}.ics"))
    assert response.status == 200
    return response.body.decode("utf-8")


def sequences(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^SEQUENCE:(\d+)\r?$", text, flags=re.MULTILINE)]


def store_ahead(feed_id: str, token: str, appointment_key: str) -> int:
    """Another worker whose clock ran an hour ahead stored the event last; returns the SEQUENCE it wrote."""
    ahead = ical.sequence_at(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    stored = feed_text(token)
    vevent = stored[stored.index("BEGIN:VEVENT"):stored.index("END:VEVENT") + len("END:VEVENT\r\n")]
    assert feeds.save_event(feed_id, appointment_key, vevent, "2000-01-01T00:00:00Z", ahead,
                            dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    return ahead


def test_a_change_after_a_worker_with_a_clock_ahead_still_raises_the_sequence(stack: LocalStack,
                                                                              tenant_id: str) -> None:
    feed, issued = management.create_feed(tenant_id, "dr-1", base_url="http://127.0.0.1:1")
    day = today() + dt.timedelta(days=3)
    apply(booking(tenant_id, "apt-1", at(day, 10)))
    ahead = store_ahead(feed.integration_id, issued.token, f"{tenant_id}#apt-1")
    apply(booking(tenant_id, "apt-1", at(day, 11)))  # the change worker re-reads the stored SEQUENCE and beats it
    text = feed_text(issued.token)
    assert sequences(text)[0] > ahead


def test_a_privacy_change_rewrites_every_event_of_the_feed_in_the_sweeper(stack: LocalStack, tenant_id: str,
                                                                          clock: Clock) -> None:
    feed, issued = management.create_feed(tenant_id, "dr-1", base_url="http://127.0.0.1:1",
                                          privacy=PrivacySettings(client_display=ClientDisplay.FULL_NAME))
    appointment = booking(tenant_id, "apt-1", at(today() + dt.timedelta(days=3), 10))
    apply(appointment)
    assert "Zebulonqa Quillfeatherqa" in feed_text(issued.token)
    ahead = store_ahead(feed.integration_id, issued.token, appointment.key)  # the rewrite must still beat it

    lifecycle.update(feed.model_copy(update={"privacy": PrivacySettings(client_display=ClientDisplay.NONE)}))
    sweeper.run(clock.advance(seconds=5))
    text = feed_text(issued.token)
    assert "Zebulonqa" not in text and "Quillfeatherqa" not in text
    assert sequences(text) and sequences(text)[0] > ahead


def test_a_front_desk_feeds_new_location_filter_removes_the_other_rooms_in_the_sweeper(
        stack: LocalStack, tenant_id: str, clock: Clock) -> None:
    feed, issued = management.create_feed(tenant_id, practice_id="p-1", base_url="http://127.0.0.1:1")
    day = today() + dt.timedelta(days=3)
    apply(booking(tenant_id, "apt-1", at(day, 9), location={"name": "Room 1"}),
          booking(tenant_id, "apt-2", at(day, 11), location={"name": "Room 2"}))
    assert feed_text(issued.token).count("BEGIN:VEVENT") == 2

    lifecycle.update(feed.model_copy(update={"location_filter": frozenset({"Room 1"})}))
    sweeper.run(clock.advance(seconds=5))
    text = feed_text(issued.token)
    assert text.count("BEGIN:VEVENT") == 1 and "Room 1" in text and "Room 2" not in text
