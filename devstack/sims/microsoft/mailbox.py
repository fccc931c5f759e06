"""What the Graph simulator stores per user: calendars and events, recurring series with occurrences and
exceptions, and a change sequence (with tombstones for deletions) that delta links are built on.

Graph's model, kept here: a series master (``type: seriesMaster``) carries a ``recurrence``
(patternedRecurrence: daily, weekly, absolute/relative monthly and yearly; ranges endDate, numbered,
noEnd); calendar views show its ``occurrence``s (with ``seriesMasterId`` and ``originalStart``) and
``exception``s (an occurrence edited through its id). Deleting an occurrence cancels it; deleting an event
removes it (404 afterwards). Every write moves ``changeKey``/``@odata.etag`` and tells the listeners
(subscriptions) with ``created``, ``updated`` or ``deleted``.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import itertools
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from devstack.sims.http import Clock
from devstack.sims.microsoft.views import BadRequest, graph_time, instant
from devstack.sims.recurrence import horizon, occurrences

_DAYS = {"monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH", "friday": "FR", "saturday": "SA",
         "sunday": "SU"}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_FREQ = {"daily": "DAILY", "weekly": "WEEKLY", "absoluteMonthly": "MONTHLY", "relativeMonthly": "MONTHLY",
         "absoluteYearly": "YEARLY", "relativeYearly": "YEARLY"}

Listener = Callable[["Mailbox", dict[str, Any], str], None]


def rrule_lines(recurrence: dict[str, Any], zone: str) -> list[str]:
    """A patternedRecurrence as RFC 5545 lines."""
    pattern, span = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    kind = pattern.get("type")
    if kind not in _FREQ:
        raise BadRequest("ErrorInvalidRecurrence", "The recurrence pattern type is not valid.")
    parts = [f"FREQ={_FREQ[kind]}", f"INTERVAL={int(pattern.get('interval') or 1)}"]
    days = [_DAYS[d] for d in pattern.get("daysOfWeek") or []]
    if kind in ("weekly", "relativeMonthly", "relativeYearly"):
        if not days:
            raise BadRequest("ErrorInvalidRecurrence", "daysOfWeek is required for this pattern.")
        parts.append("BYDAY=" + ",".join(days))
        parts.append(f"WKST={_DAYS[pattern.get('firstDayOfWeek') or 'sunday']}")
    if kind.startswith("relative") and kind != "weekly":
        parts.append(f"BYSETPOS={_INDEX[pattern.get('index') or 'first']}")
    if kind.startswith("absolute"):
        parts.append(f"BYMONTHDAY={int(pattern.get('dayOfMonth') or 1)}")
    if kind.endswith("Yearly"):
        parts.append(f"BYMONTH={int(pattern.get('month') or 1)}")
    if span.get("type") == "numbered":
        parts.append(f"COUNT={int(span.get('numberOfOccurrences') or 1)}")
    elif span.get("type") == "endDate":
        end = dt.datetime.combine(dt.date.fromisoformat(span["endDate"]), dt.time(23, 59, 59), ZoneInfo(zone))
        parts.append("UNTIL=" + end.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ"))
    elif span.get("type") != "noEnd":
        raise BadRequest("ErrorInvalidRecurrence", "The recurrence range type is not valid.")
    return ["RRULE:" + ";".join(parts)]


def occurrence_id(master_id: str, original: dt.datetime) -> str:
    stamp = original.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return "AAMkOcc" + base64.urlsafe_b64encode(f"{master_id}|{stamp}".encode()).decode().rstrip("=")


def parse_occurrence_id(event_id: str) -> tuple[str, str] | None:
    if not event_id.startswith("AAMkOcc"):
        return None
    raw = event_id[len("AAMkOcc"):]
    try:
        master, _, stamp = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode().partition("|")
    except (ValueError, UnicodeDecodeError):
        return None
    return (master, stamp) if stamp else None


@dataclass
class Tombstone:
    seq: int
    calendar: str
    event: dict[str, Any]


@dataclass
class Mailbox:
    user: str
    tenant: str
    object_id: str = ""
    default_calendar: str = ""
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    tombstones: dict[str, Tombstone] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.object_id = self.object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"user:{self.user}"))


class Mailboxes:
    """Every mailbox of the simulator, with one change sequence."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.mailboxes: dict[str, Mailbox] = {}
        self.listeners: list[Listener] = []
        self._seq = itertools.count(1)
        self.seq = 0

    def clear(self) -> None:
        self.mailboxes.clear()

    def add(self, user: str, tenant: str) -> Mailbox:
        mailbox = self.mailboxes.get(user)
        if mailbox is None:
            mailbox = self.mailboxes[user] = Mailbox(user, tenant)
            mailbox.default_calendar = self.add_calendar(mailbox, "Calendar", default=True)
        return mailbox

    def add_calendar(self, mailbox: Mailbox, name: str, *, default: bool = False) -> str:
        calendar_id = f"AAMkCal{secrets.token_urlsafe(12)}"
        mailbox.calendars[calendar_id] = {
            "id": calendar_id, "name": name, "color": "auto", "hexColor": "", "isDefaultCalendar": default,
            "changeKey": base64.b64encode(secrets.token_bytes(12)).decode(), "canShare": True,
            "canViewPrivateItems": True, "canEdit": True, "isRemovable": not default, "isTallyingResponses": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"], "defaultOnlineMeetingProvider": "teamsForBusiness",
            "owner": {"name": mailbox.user, "address": mailbox.user}}
        return calendar_id

    def find(self, user_id: str) -> Mailbox | None:
        return next((m for m in self.mailboxes.values() if user_id in (m.user, m.object_id)), None)

    def now(self) -> str:
        return dt.datetime.fromtimestamp(self.clock.now(), dt.UTC).isoformat().replace("+00:00", "Z")

    # -- writes -------------------------------------------------------------------------------------

    def touch(self, mailbox: Mailbox, event: dict[str, Any], change: str) -> dict[str, Any]:
        self.seq = next(self._seq)
        for edge, field_name in (("start", "originalStartTimeZone"), ("end", "originalEndTimeZone")):
            if isinstance(event.get(edge), dict) and event[edge].get("timeZone"):
                event[field_name] = event[edge]["timeZone"]  # as Graph keeps them: the zone the times were set in
        event["changeKey"] = base64.b64encode(secrets.token_bytes(12)).decode()
        event["@odata.etag"] = f'W/"{event["changeKey"]}"'
        event["lastModifiedDateTime"] = self.now()
        event["_seq"] = self.seq
        for listener in self.listeners:
            listener(mailbox, event, change)
        return event

    def create(self, mailbox: Mailbox, calendar: str, body: dict[str, Any]) -> dict[str, Any]:
        event_id = f"AAMkAGI2{secrets.token_urlsafe(30)}"
        now = self.now()
        event = {
            "isReminderOn": True, "reminderMinutesBeforeStart": 15, "importance": "normal", "sensitivity": "normal",
            "showAs": "busy", "isAllDay": False, "isCancelled": False, "categories": [], "attendees": [],
            "location": {"displayName": ""}, "body": {"contentType": "text", "content": ""}, **body,
            "id": event_id, "createdDateTime": now,
            "iCalUId": f"040000008200E00074C5B7101A82E008{secrets.token_hex(24)}",
            "organizer": {"emailAddress": {"address": mailbox.user, "name": mailbox.user}},
            "isOrganizer": True, "type": "seriesMaster" if body.get("recurrence") else "singleInstance",
            "_calendar": calendar,
        }
        if event["type"] == "seriesMaster":
            self.expansion(event)  # refuses a recurrence it cannot read
        mailbox.events[event_id] = event
        return self.touch(mailbox, event, "created")

    def update(self, mailbox: Mailbox, event: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        before = set(self.expansion(event)) if event.get("type") == "seriesMaster" else set()
        event.update(copy.deepcopy(body))
        if event.get("type") == "seriesMaster":
            self.expansion(event)  # refuses a recurrence it cannot read
        self.touch(mailbox, event, "updated")
        return self._vanished(event, before)

    def _vanished(self, master: dict[str, Any], before: set[str], *, all_gone: bool = False) -> dict[str, Any]:
        """Remembers which occurrences a change made disappear, and when: delta reports them as removed."""
        after = set() if all_gone else set(self.expansion(master)) if before else set()
        master["_gone"] = {**master.get("_gone", {}), **dict.fromkeys(before - after, self.seq)}
        return master

    def delete(self, mailbox: Mailbox, event: dict[str, Any]) -> None:
        """Removes an event (a whole series with its exceptions), or cancels one occurrence."""
        if event.get("type") in ("occurrence", "exception"):
            master = mailbox.events[event["seriesMasterId"]]
            before = set(self.expansion(master))
            master.setdefault("_cancelled", []).append(event["originalStart"])
            mailbox.events.pop(event["id"], None)
            self.touch(mailbox, master, "updated")
            self._vanished(master, before)
            return
        removed = [event] + [e for e in mailbox.events.values() if e.get("seriesMasterId") == event["id"]]
        before = set(self.expansion(event)) if event.get("type") == "seriesMaster" else set()
        for item in removed:
            mailbox.events.pop(item["id"], None)
            self.seq = next(self._seq)
            mailbox.tombstones[item["id"]] = Tombstone(self.seq, item["_calendar"], item)
        self._vanished(event, before, all_gone=True)
        for listener in self.listeners:
            listener(mailbox, event, "deleted")

    def materialize(self, mailbox: Mailbox, event_id: str) -> dict[str, Any] | None:
        """An occurrence turned into a stored exception on its first edit."""
        parsed = parse_occurrence_id(event_id)
        master = mailbox.events.get(parsed[0]) if parsed else None
        if master is None or event_id not in self.expansion(master):
            return None
        exception = self.occurrence(master, self.expansion(master)[event_id])
        exception["type"] = "exception"
        mailbox.events[event_id] = exception
        return exception

    # -- series -------------------------------------------------------------------------------------

    def expansion(self, master: dict[str, Any], until: dt.datetime | None = None) -> dict[str, dt.datetime]:
        """Occurrence id -> original start (UTC) of a series master, cancelled occurrences left out."""
        zone = master["start"]["timeZone"]
        first = instant(master["start"]).astimezone(ZoneInfo(zone))
        try:
            found = occurrences(first, rrule_lines(master["recurrence"], zone), until or horizon(self.clock.now()))
        except ValueError as problem:
            raise BadRequest("ErrorInvalidRecurrence", str(problem)) from None
        cancelled = set(master.get("_cancelled", []))
        return {occurrence_id(master["id"], moment): moment.astimezone(dt.UTC) for moment in found
                if stamp(moment) not in cancelled}

    def occurrence(self, master: dict[str, Any], original: dt.datetime) -> dict[str, Any]:
        start, end = instant(master["start"]), instant(master["end"])
        item = {k: copy.deepcopy(v) for k, v in master.items() if k not in ("recurrence", "_gone", "_cancelled")}
        item.update(id=occurrence_id(master["id"], original), type="occurrence", seriesMasterId=master["id"],
                    originalStart=stamp(original), originalStartTimeZone=master["start"]["timeZone"], recurrence=None,
                    start=graph_time(original, master["start"]["timeZone"]),
                    end=graph_time(original + (end - start), master["end"]["timeZone"]),
                    iCalUId=f"{master['iCalUId']}{original.strftime('%Y%m%d')}")
        return item

    def view_items(self, mailbox: Mailbox, calendar: str, lo: dt.datetime, hi: dt.datetime) -> Iterator[dict[str, Any]]:
        """A calendar view: single events, occurrences and exceptions overlapping [lo, hi)."""
        for event in list(mailbox.events.values()):
            if event["_calendar"] != calendar or event.get("type") == "occurrence":
                continue
            if event.get("type") == "seriesMaster":
                yield from self.occurrences_of(mailbox, event, lo, hi)
            elif event.get("type") != "exception" and overlaps(event, lo, hi):
                yield event

    def occurrences_of(self, mailbox: Mailbox, master: dict[str, Any], lo: dt.datetime | None,
                       hi: dt.datetime | None) -> Iterator[dict[str, Any]]:
        seen = set()
        for occurrence, original in self.expansion(master, hi).items():
            seen.add(occurrence)
            item = mailbox.events.get(occurrence) or self.occurrence(master, original)
            if overlaps(item, lo, hi):
                yield item
        for item in list(mailbox.events.values()):
            if item.get("seriesMasterId") == master["id"] and item["id"] not in seen and overlaps(item, lo, hi) \
                    and item["originalStart"] not in master.get("_cancelled", []):
                yield item


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def overlaps(event: dict[str, Any], lo: dt.datetime | None, hi: dt.datetime | None) -> bool:
    start, end = instant(event["start"]), instant(event["end"])
    return (lo is None or end > lo) and (hi is None or start < hi)
