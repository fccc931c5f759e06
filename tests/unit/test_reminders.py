"""Reminders: set in the clinician's settings, carried by the rendered event, written by every provider
(VALARM for CalDAV and the feed, ``reminders.overrides`` for Google, ``isReminderOn`` and
``reminderMinutesBeforeStart`` for Graph) — and none at all when none is chosen. Events synced before
reminders existed keep their content hash."""

from __future__ import annotations

import datetime as dt

from calsync.domain.event import EventKey
from calsync.domain.model import PrivacySettings
from calsync.domain.privacy import content_hash, render
from calsync.formats.ical import calendar_object
from calsync.providers import google, microsoft
from tests.support.appointments import appointment

KEY = EventKey("int-1", "tenant-1", "apt-1")
NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def shown(minutes: int | None):
    event = render(appointment(), PrivacySettings(reminder_minutes=minutes))
    assert event is not None
    return event


def test_caldav_and_the_feed_carry_a_valarm():
    body = calendar_object(KEY, shown(30), NOW).decode()
    assert "BEGIN:VALARM" in body and "ACTION:DISPLAY" in body and "TRIGGER:-PT30M" in body
    assert "BEGIN:VALARM" not in calendar_object(KEY, shown(None), NOW).decode()


def test_google_overrides_the_calendars_defaults():
    assert google.event_body(KEY, shown(15))["reminders"] == {"useDefault": False,
                                                             "overrides": [{"method": "popup", "minutes": 15}]}
    assert google.event_body(KEY, shown(None))["reminders"] == {"useDefault": False}


def test_graph_turns_the_reminder_on_or_off():
    on, off = microsoft.event_body(shown(60)), microsoft.event_body(shown(None))
    assert (on["isReminderOn"], on["reminderMinutesBeforeStart"]) == (True, 60)
    assert off["isReminderOn"] is False and "reminderMinutesBeforeStart" not in off
    assert not microsoft.shows({**on, "reminderMinutesBeforeStart": 5}, on)


def test_a_reminder_change_is_a_content_change_and_no_reminder_keeps_old_hashes():
    assert content_hash(shown(10)) != content_hash(shown(None)) != content_hash(shown(20))
    # the digest calsync computed for this event before reminders existed: no rewrite of every calendar
    assert content_hash(shown(None)) == "fe892c16e12c95f0d01fc6e99f957e37"
