"""Reads a CalDAV calendar straight from the server (Radicale), independently of calsync's own code,
so the demo and the tests verify what a clinician's calendar app would really see."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import httpx
import icalendar

DAV = {"d": "DAV:"}


@dataclass(frozen=True)
class SeenEvent:
    """One VEVENT as stored on the server."""

    href: str
    uid: str
    summary: str
    description: str
    location: str | None
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    attendees: int
    marker: str | None
    raw: str

    def local_times(self, zone: ZoneInfo) -> tuple[str, str]:
        """HH:MM in ``zone`` for timed events, ISO dates for all-day ones."""
        if isinstance(self.start, dt.datetime) and isinstance(self.end, dt.datetime):
            return self.start.astimezone(zone).strftime("%H:%M"), self.end.astimezone(zone).strftime("%H:%M")
        return self.start.isoformat(), self.end.isoformat()


def read_calendar(collection_url: str, username: str, password: str) -> list[SeenEvent]:
    """Every event in the collection (PROPFIND Depth 1, then GET each resource)."""
    with httpx.Client(auth=(username, password), timeout=10) as client:
        listing = client.request("PROPFIND", collection_url, headers={"Depth": "1"},
                                 content=b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop>'
                                         b"<d:getetag/></d:prop></d:propfind>")
        listing.raise_for_status()
        hrefs = [node.text for node in ET.fromstring(listing.content).iterfind(".//d:href", DAV)]  # noqa: S314
        events = []
        for href in hrefs:
            if not href or not href.endswith(".ics"):
                continue
            response = client.get(urljoin(collection_url, href))
            response.raise_for_status()
            events.extend(parse_calendar(href, response.text))
        return events


def parse_calendar(href: str, text: str) -> list[SeenEvent]:
    """Every VEVENT of an iCalendar document (a CalDAV resource or a whole ICS feed)."""
    calendar = icalendar.Calendar.from_ical(text)
    found = []
    for vevent in calendar.walk("VEVENT"):
        attendees = vevent.get("ATTENDEE")
        found.append(SeenEvent(
            href=href,
            uid=str(vevent.get("UID")),
            summary=str(vevent.get("SUMMARY", "")),
            description=str(vevent.get("DESCRIPTION", "")),
            location=str(vevent["LOCATION"]) if "LOCATION" in vevent else None,
            start=vevent.decoded("DTSTART"),
            end=vevent.decoded("DTEND"),
            attendees=0 if attendees is None else (len(attendees) if isinstance(attendees, list) else 1),
            marker=str(vevent["X-CALSYNC-KEY"]) if "X-CALSYNC-KEY" in vevent else None,
            raw=text,
        ))
    return found
