"""``calendarList.list``/``get``, ``calendars.insert``/``get``/``delete`` and ``freeBusy.query``.

``calendars.insert`` makes a secondary calendar (``summary`` required; the creating OAuth client is
remembered, so a token holding only ``calendar.app.created`` reaches this calendar and no other).
``calendars.delete`` refuses the primary calendar; a deleted calendar answers 404 and its push channels
get ``not_exists``. ``freeBusy.query`` answers merged busy periods (confirmed or tentative, opaque, not
declined by the owner, instances of series expanded) clipped to ``[timeMin, timeMax)``, and
``errors: [{reason: notFound}]`` for a calendar the caller cannot see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devstack.sims.google.schema import Invalid, check_body, parse_rfc3339, rfc3339
from devstack.sims.google.store import Calendar, GoogleStore, span
from devstack.sims.http import SimResponse

MAX_FREEBUSY_CALENDARS = 50


def list_entry(calendar: Calendar) -> dict[str, Any]:
    entry = {"kind": "calendar#calendarListEntry", "etag": calendar.etag, "id": calendar.id,
             "summary": calendar.summary, "timeZone": calendar.time_zone, "accessRole": "owner",
             "defaultReminders": [], "selected": True, "backgroundColor": "#9fe1e7", "foregroundColor": "#000000",
             "colorId": "14", "conferenceProperties": {"allowedConferenceSolutionTypes": []}}
    if calendar.primary:
        entry["primary"] = True
    else:
        entry["dataOwner"] = calendar.owner
    return entry


def calendar_list(store: GoogleStore, user: str) -> SimResponse:
    items = [list_entry(c) for c in store.calendars.values() if c.owner == user and not c.deleted]
    items.sort(key=lambda e: (not e.get("primary", False), e["summary"]))
    return SimResponse(200, {"kind": "calendar#calendarList", "etag": store.etag(), "items": items})


def insert_calendar(store: GoogleStore, body: Any, user: str, client_id: str) -> SimResponse:
    check_body(body, "Calendar")
    if not body.get("summary"):
        raise Invalid("Missing title.", "required")
    zone = body.get("timeZone") or next((c.time_zone for c in store.calendars.values()
                                         if c.owner == user and c.primary), "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("Invalid time zone.") from None
    calendar = store.add_calendar(user, store.new_calendar_id(), summary=body["summary"], time_zone=zone,
                                  created_by=client_id)
    calendar.description, calendar.location = body.get("description"), body.get("location")
    return SimResponse(200, calendar.resource())


def free_busy(store: GoogleStore, body: Any, visible: Callable[[str], Calendar | None]) -> SimResponse:
    check_body(body, "FreeBusyRequest")
    if not body.get("timeMin") or not body.get("timeMax"):
        raise Invalid("Missing timeMin or timeMax.", "required")
    lo, hi = parse_rfc3339(body["timeMin"], "timeMin"), parse_rfc3339(body["timeMax"], "timeMax")
    if hi <= lo:
        raise Invalid("The specified time range is empty.", "timeRangeEmpty")
    if int(body.get("calendarExpansionMax") or 0) > MAX_FREEBUSY_CALENDARS:
        raise Invalid("calendarExpansionMax must be at most 50.")
    zone = ZoneInfo(body.get("timeZone") or "UTC")
    answer: dict[str, Any] = {}
    for index, item in enumerate(body.get("items") or []):
        calendar = visible(item.get("id", ""))
        if index >= MAX_FREEBUSY_CALENDARS:
            answer[item.get("id", "")] = {"errors": [{"domain": "global", "reason": "tooManyCalendarsRequested"}],
                                          "busy": []}
        elif calendar is None:
            answer[item.get("id", "")] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
        else:
            answer[item["id"]] = {"busy": [{"start": fmt(s, zone), "end": fmt(e, zone)}
                                           for s, e in busy_periods(store, calendar, lo, hi)]}
    return SimResponse(200, {"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"],
                             "calendars": answer})


def fmt(moment: dt.datetime, zone: ZoneInfo) -> str:
    return rfc3339(moment.astimezone(zone)).replace(".000", "")


def busy_periods(store: GoogleStore, calendar: Calendar, lo: dt.datetime,
                 hi: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for event in list(calendar.events.values()):
        if event.get("recurringEventId"):
            continue  # exceptions come through their series
        found = list(store.instances(calendar, event, lo, hi)) if event.get("recurrence") else [event]
        for item in found:
            if is_busy(item):
                start, end = span(item)
                if end > lo and start < hi:
                    spans.append((max(start, lo), min(end, hi)))
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def is_busy(event: dict[str, Any]) -> bool:
    if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
        return False
    own = [a for a in event.get("attendees") or [] if a.get("self")]
    return not (own and own[0].get("responseStatus") == "declined")
