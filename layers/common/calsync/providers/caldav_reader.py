"""Reading a CalDAV (iCloud, Fastmail, Nextcloud, Radicale, ...) calendar back (``calsync.providers.inbound``).

CalDAV has no push: the sweeper polls each integration at its own interval.

* incremental: a ``sync-collection`` REPORT (RFC 6578) with the stored ``sync-token`` names the resources
  changed since (with their etags) and those removed (``404``); the changed ones are fetched with
  ``calendar-multiget``. An unknown or expired token is refused with the ``DAV:valid-sync-token``
  precondition (``ProviderSyncStateLostError``): the caller reads the window again.
* complete read: a ``sync-collection`` with an empty token (the server's current token), then a
  ``calendar-query`` with a time range for the events of the window — the window alone is read, whatever
  the calendar's history.

Each resource is one iCalendar object: a single event, or a series with its overrides (RECURRENCE-ID) and
exclusions (EXDATE); series are expanded into the window by ``recurring_ical_events``, not by hand. An
instance is told apart by its original start. calsync's own events carry ``X-CALSYNC-KEY`` (and a UID
ending in ``@calsync``). A resource that changed and no longer has an instance in the window is reported
removed. Floating times and all-day dates are placed in the calendar's zone (``X-WR-TIMEZONE``, else the
integration's ``time_zone`` option, else UTC).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.core.errors import ProviderSyncStateLostError
from calsync.domain.busy import ExternalEvent, ShowAs, Window, day_span
from calsync.domain.event import MARKER_PROPERTY
from calsync.http.outcomes import Answer, answer
from calsync.providers.caldav import CalDavSession
from calsync.providers.inbound import Changes

NAME = "caldav"
DAV, CALDAV = "DAV:", "urn:ietf:params:xml:ns:caldav"
NS = {"d": DAV, "c": CALDAV}
XML_TYPE = "application/xml; charset=utf-8"
MULTIGET_BATCH = 50
MAX_ROUNDS = 20
"""A sync-collection answer may be truncated (507); it is continued at most this many times per read."""


def _report(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>' + body).encode()


def sync_collection(token: str | None) -> bytes:
    return _report(f'<d:sync-collection xmlns:d="DAV:"><d:sync-token>{_xml(token or "")}</d:sync-token>'
                   "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>")


def multiget(hrefs: list[str]) -> bytes:
    refs = "".join(f"<d:href>{_xml(href)}</d:href>" for href in hrefs)
    return _report(f'<c:calendar-multiget xmlns:d="DAV:" xmlns:c="{CALDAV}"><d:prop><d:getetag/>'
                   f"<c:calendar-data/></d:prop>{refs}</c:calendar-multiget>")


def time_range_query(window: Window) -> bytes:
    start, end = (moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ") for moment in (window.start, window.end))
    return _report(f'<c:calendar-query xmlns:d="DAV:" xmlns:c="{CALDAV}"><d:prop><d:getetag/><c:calendar-data/>'
                   '</d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
                   f'<c:time-range start="{start}" end="{end}"/></c:comp-filter></c:comp-filter></c:filter>'
                   "</c:calendar-query>")


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _zone(name: str | None) -> dt.tzinfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _instant(value: dt.datetime | dt.date, zone: dt.tzinfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(0), zone).astimezone(dt.UTC)


def _address(value: Any) -> str:
    return str(value).removeprefix("mailto:").removeprefix("MAILTO:").lower()


def events_of(source: str, etag: str | None, data: str, window: Window, zone_name: str | None,
              owner_addresses: frozenset[str]) -> list[ExternalEvent]:
    """The instances of one calendar object resource that fall in ``window`` (calsync's own event
    whatever its time: the caller checks our events wherever they are)."""
    import icalendar
    import recurring_ical_events

    calendar = icalendar.Calendar.from_ical(data)
    zone = _zone(str(calendar.get("X-WR-TIMEZONE") or "")) or _zone(zone_name) or dt.UTC
    zone_key = zone.key if isinstance(zone, ZoneInfo) else None
    recurring = {str(c.get("UID")) for c in calendar.walk("VEVENT") if c.get("RRULE") or c.get("RDATE")}
    ours = [c for c in calendar.walk("VEVENT") if c.get(MARKER_PROPERTY)]
    components = ours or recurring_ical_events.of(calendar).between(window.start, window.end)
    found = []
    for component in components:
        uid = str(component.get("UID"))
        start_value = component.decoded("DTSTART")
        if "DTEND" in component:
            end_value = component.decoded("DTEND")
        else:
            end_value = start_value + (component.decoded("DURATION") if "DURATION" in component
                                       else dt.timedelta(days=1) if not isinstance(start_value, dt.datetime)
                                       else dt.timedelta(0))
        all_day = not isinstance(start_value, dt.datetime)
        if all_day:
            start_date, end_date = start_value, end_value
            start, end = day_span(start_date, end_date, zone_key)
        else:
            start_date = end_date = None
            start, end = _instant(start_value, zone), _instant(end_value, zone)
        original = component.get("RECURRENCE-ID")
        instance = _instant(original.dt, zone).isoformat() if original is not None and uid in recurring else ""
        attendees = component.get("ATTENDEE") or []
        attendees = attendees if isinstance(attendees, list) else [attendees]
        declined = any(_address(a) in owner_addresses and str(a.params.get("PARTSTAT", "")).upper() == "DECLINED"
                       for a in attendees)
        status = str(component.get("STATUS") or "").upper()
        show_as = (ShowAs.FREE if str(component.get("TRANSP") or "").upper() == "TRANSPARENT"
                   else ShowAs.TENTATIVE if status == "TENTATIVE" else ShowAs.BUSY)
        marker = component.get(MARKER_PROPERTY)
        found.append(ExternalEvent(
            source=source, instance=instance, start=start, end=end, etag=etag,
            marker=str(marker) if marker else None, all_day=all_day, start_date=start_date, end_date=end_date,
            show_as=show_as, cancelled=status == "CANCELLED", declined=declined,
            title=str(component.get("SUMMARY")) if component.get("SUMMARY") else None,
            attendees=tuple(_address(a) for a in attendees), zone=zone_key))
    return found


class CalDavReader:
    name = NAME

    def __init__(self, session: CalDavSession, *, zone: str | None = None,
                 owner_addresses: frozenset[str] = frozenset()) -> None:
        self._session = session
        self._zone = zone
        self._owner = frozenset(address.lower() for address in owner_addresses)

    def _report(self, url: str, body: bytes, depth: str, operation: str) -> ET.Element:
        response = self._session.send("REPORT", url, content=body, headers={"Depth": depth,
                                                                             "Content-Type": XML_TYPE})
        if answer(NAME, operation, response) is Answer.EXPIRED:
            raise ProviderSyncStateLostError(NAME, "invalid_sync_token", response.status_code)
        return ET.fromstring(response.content)  # noqa: S314 - expat resolves no external entities

    def changes(self, calendar: str, cursor: str | None, window: Window) -> Changes:
        collection = calendar.rstrip("/") + "/"
        found = Changes(complete=cursor is None)
        changed: dict[str, str | None] = {}
        token = cursor
        for _round in range(MAX_ROUNDS):
            root = self._report(collection, sync_collection(token), "0", "sync")
            truncated = False
            for response in root.findall("d:response", NS):
                href = urljoin(collection, (response.findtext("d:href", namespaces=NS) or "").strip())
                status = response.findtext("d:status", namespaces=NS) or ""
                if href.rstrip("/") == collection.rstrip("/"):
                    truncated = truncated or " 507 " in status
                elif " 404 " in status:
                    changed.pop(href, None)
                    found.removed.append(href)
                else:
                    changed[href] = response.findtext(".//d:getetag", namespaces=NS)
            token = (root.findtext("d:sync-token", namespaces=NS) or "").strip() or None
            if not truncated:
                break
        found.cursor = token
        if cursor is None:  # a complete read: the window's events, whatever the listing said
            found.events = self._window(collection, window)
            return found
        hrefs = [href for href in changed if href.endswith(".ics")]
        for offset in range(0, len(hrefs), MULTIGET_BATCH):
            batch = hrefs[offset:offset + MULTIGET_BATCH]
            read = self._objects(collection, multiget(batch), window)
            for href in batch:
                events = read.get(href)
                if events:
                    found.events.extend(events)
                else:
                    found.removed.append(href)  # gone meanwhile, or nothing of it in the window any more
        return found

    def event(self, calendar: str, source: str) -> ExternalEvent | None:
        response = self._session.send("GET", source)
        if answer(NAME, "get", response) is Answer.MISSING:
            return None
        everything = Window(dt.datetime.min.replace(tzinfo=dt.UTC), dt.datetime.max.replace(tzinfo=dt.UTC))
        found = events_of(source, response.headers.get("ETag"), response.text, everything, self._zone, self._owner)
        return next((event for event in found if not event.cancelled), None)

    def _window(self, collection: str, window: Window) -> list[ExternalEvent]:
        return [event for events in self._objects(collection, time_range_query(window), window).values()
                for event in events]

    def _objects(self, collection: str, body: bytes, window: Window) -> dict[str, list[ExternalEvent]]:
        """Calendar objects a multiget or calendar-query answers, as events by resource URL."""
        root = self._report(collection, body, "1", "read")
        objects: dict[str, list[ExternalEvent]] = {}
        for response in root.findall("d:response", NS):
            href = urljoin(collection, (response.findtext("d:href", namespaces=NS) or "").strip())
            data = response.findtext(".//c:calendar-data", namespaces=NS)
            if not data:
                continue
            etag = response.findtext(".//d:getetag", namespaces=NS)
            objects[href] = events_of(href, etag, data, window, self._zone, self._owner)
        return objects
