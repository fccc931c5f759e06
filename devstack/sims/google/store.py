"""What the Google simulator stores: calendars and their events, recurring series with their exceptions,
and a change sequence that sync tokens and push notifications are built on.

Google's model, kept here: a recurring event is one stored *series* (``recurrence`` lines, start and end
with a ``timeZone``); its instances are computed, with ids ``{seriesId}_{20261124T143000Z}`` (UTC start)
or ``{seriesId}_{20261124}`` (all-day); an edited or cancelled instance becomes a stored *exception* under
that id, carrying ``recurringEventId`` and ``originalStartTime``. Deleting never purges: the event turns
``cancelled`` (so a reused id still answers 409). Every write moves the event's ``etag``, ``updated`` and
its change sequence number, and tells the listeners (push channels).
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from devstack.sims.google.schema import instant, rfc3339
from devstack.sims.http import Clock
from devstack.sims.recurrence import horizon, occurrences

SERVER_FIELDS = ("kind", "id", "etag", "htmlLink", "created", "updated", "iCalUID", "creator", "organizer",
                 "recurringEventId", "originalStartTime")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class Calendar:
    id: str
    owner: str
    summary: str
    time_zone: str = "UTC"
    primary: bool = False
    description: str | None = None
    location: str | None = None
    created_by: str | None = None
    etag: str = ""
    deleted: bool = False
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resource(self) -> dict[str, Any]:
        found = {"kind": "calendar#calendar", "etag": self.etag, "id": self.id, "summary": self.summary,
                 "timeZone": self.time_zone, "conferenceProperties": {"allowedConferenceSolutionTypes": []}}
        if not self.primary:
            found["dataOwner"] = self.owner
        return found | {k: v for k, v in (("description", self.description), ("location", self.location)) if v}


def public(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the API shows it (the simulator's own bookkeeping keys start with ``_``)."""
    return {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}


def minimal(event: dict[str, Any]) -> dict[str, Any]:
    """A cancelled entry as lists return it: Google promises only the id (and, for a cancelled instance,
    its series and original start), so the simulator gives no more."""
    keys = ("kind", "etag", "id", "status", "updated", "recurringEventId", "originalStartTime")
    return {k: copy.deepcopy(event[k]) for k in keys if k in event}


def instance_id(series_id: str, original: dt.datetime | dt.date) -> str:
    if isinstance(original, dt.datetime):
        return f"{series_id}_{original.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"
    return f"{series_id}_{original.strftime('%Y%m%d')}"


def span(event: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """Start and end as comparable instants (all-day events at midnight of their zone, else UTC)."""
    return instant(event["start"], "start")[1], instant(event["end"], "end")[1]


def original_instant(event: dict[str, Any]) -> dt.datetime:
    return instant(event["originalStartTime"], "originalStartTime")[1]


class GoogleStore:
    """Calendars by id, with a change sequence shared by all of them."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calendars: dict[str, Calendar] = {}
        self.listeners: list[Callable[[Calendar], None]] = []
        self._etags = itertools.count(1)
        self._seq = itertools.count(1)
        self.seq = 0

    def clear(self) -> None:
        self.calendars.clear()

    def now(self) -> str:
        return rfc3339(dt.datetime.fromtimestamp(self.clock.now(), dt.UTC))

    def etag(self) -> str:
        return f'"{3180000000000000 + next(self._etags)}"'

    # -- calendars ----------------------------------------------------------------------------------

    def add_calendar(self, owner: str, calendar_id: str, *, summary: str | None = None, primary: bool = False,
                     time_zone: str = "UTC", created_by: str | None = None) -> Calendar:
        calendar = self.calendars.get(calendar_id)
        if calendar is None or calendar.deleted:
            calendar = Calendar(calendar_id, owner, summary or calendar_id, time_zone, primary,
                                created_by=created_by, etag=self.etag())
            self.calendars[calendar_id] = calendar
        return calendar

    def new_calendar_id(self) -> str:
        return f"c_{secrets.token_hex(26)}@group.calendar.google.com"

    def live(self, calendar_id: str) -> Calendar | None:
        calendar = self.calendars.get(calendar_id)
        return calendar if calendar is not None and not calendar.deleted else None

    def delete_calendar(self, calendar: Calendar) -> None:
        calendar.deleted = True
        self._changed(calendar)

    # -- writes -------------------------------------------------------------------------------------

    def _touch(self, calendar: Calendar, event: dict[str, Any]) -> dict[str, Any]:
        self.seq = next(self._seq)
        event.update(etag=self.etag(), updated=self.now(), _seq=self.seq)
        self._changed(calendar)
        return event

    def _changed(self, calendar: Calendar) -> None:
        for listener in self.listeners:
            listener(calendar)

    def insert(self, calendar: Calendar, body: dict[str, Any], event_id: str) -> dict[str, Any]:
        now = self.now()
        event = {"kind": "calendar#event", "status": "confirmed", "reminders": {"useDefault": True},
                 "eventType": "default", "sequence": 0, **copy.deepcopy(body), "id": event_id,
                 "htmlLink": f"https://calendar.example/event?eid={event_id}", "created": now,
                 "iCalUID": f"{event_id}@google.com", "creator": {"email": calendar.owner, "self": True},
                 "organizer": {"email": calendar.id, "self": True}}
        calendar.events[event_id] = event
        return self._touch(calendar, event)

    def write(self, calendar: Calendar, event: dict[str, Any], body: dict[str, Any], *,
              replace: bool) -> dict[str, Any]:
        """``events.update`` (replace) or ``events.patch`` semantics on a stored event."""
        before = self._expansion(calendar, event) if event.get("recurrence") and not event.get("recurringEventId") \
            else {}
        kept = {k: event[k] for k in SERVER_FIELDS if k in event}
        private = {k: v for k, v in event.items() if k.startswith("_")}
        if replace:
            updated = {"status": "confirmed", "reminders": {"useDefault": True}, "eventType": "default",
                       "sequence": event.get("sequence", 0), **copy.deepcopy(body)}
        else:
            updated = merge(public(event), copy.deepcopy(body))
        event.clear()
        event.update({**updated, **kept, **private})
        self._touch(calendar, event)
        if before:  # instances this change made disappear, and when: singleEvents syncs report them cancelled
            after = self._expansion(calendar, event) if event.get("recurrence") else {}
            gone = {iid: (self.seq, original) for iid, original in before.items() if iid not in after}
            event["_gone"] = {**event.get("_gone", {}), **gone}
        return event

    def cancel(self, calendar: Calendar, event: dict[str, Any]) -> dict[str, Any]:
        """Deletes (cancels) an event; a series takes its stored exceptions with it, as Google does."""
        event["status"] = "cancelled"
        if event.get("recurrence") and not event.get("recurringEventId"):
            for exception in list(calendar.events.values()):
                if exception.get("recurringEventId") == event["id"] and exception.get("status") != "cancelled":
                    exception["status"] = "cancelled"
                    self._touch(calendar, exception)
        return self._touch(calendar, event)

    def materialize(self, calendar: Calendar, event_id: str) -> dict[str, Any] | None:
        """The stored exception for an instance id of a stored series, made from the computed instance
        on first write (Google lets clients write an instance through its id)."""
        series_id, _, stamp = event_id.rpartition("_")
        series = calendar.events.get(series_id)
        if not series or not series.get("recurrence") or series.get("status") == "cancelled" or not stamp:
            return None
        found = self._expansion(calendar, series).get(event_id)
        if found is None:
            return None
        exception = self.generated(series, found)
        exception["iCalUID"] = series["iCalUID"]
        calendar.events[event_id] = exception
        return exception

    # -- recurring series ---------------------------------------------------------------------------

    def _expansion(self, calendar: Calendar, series: dict[str, Any],
                   until: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
        """Instance id -> originalStartTime for every occurrence of a series up to ``until``."""
        limit = until or horizon(self.clock.now())
        found: dict[str, dict[str, Any]] = {}
        for original in self.originals(series, limit):
            if isinstance(original, dt.datetime):
                when = {"dateTime": original.isoformat(), "timeZone": series["start"]["timeZone"]}
            else:
                when = {"date": original.isoformat()}
            found[instance_id(series["id"], original)] = when
        return found

    @staticmethod
    def originals(series: dict[str, Any], until: dt.datetime) -> list[dt.datetime | dt.date]:
        if series["start"].get("date"):
            first = dt.datetime.combine(dt.date.fromisoformat(series["start"]["date"]), dt.time(0))
            bound = until.astimezone(dt.UTC).replace(tzinfo=None)
            return [moment.date() for moment in occurrences(first, series["recurrence"], bound)]
        zone = ZoneInfo(series["start"]["timeZone"])
        first = instant(series["start"], "start")[1].astimezone(zone)
        return list(occurrences(first, series["recurrence"], until))

    @staticmethod
    def generated(series: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
        """An unmodified instance of a series, computed from it."""
        start, end = span(series)
        length = end - start
        instance = {k: copy.deepcopy(v) for k, v in series.items() if k != "recurrence" and not k.startswith("_")}
        instance_start = instant(original, "originalStartTime")[1]
        if "date" in original:
            day = dt.date.fromisoformat(original["date"])
            instance["start"] = {"date": day.isoformat()}
            instance["end"] = {"date": (day + dt.timedelta(days=length.days)).isoformat()}
        else:
            zone = series["start"]["timeZone"]
            local = instance_start.astimezone(ZoneInfo(zone))
            instance["start"] = {"dateTime": local.isoformat(), "timeZone": zone}
            instance["end"] = {"dateTime": (local + length).astimezone(ZoneInfo(series["end"].get("timeZone", zone)))
                               .isoformat(), "timeZone": series["end"].get("timeZone", zone)}
        moment = dt.datetime.fromisoformat(original["dateTime"]) if "dateTime" in original else dt.date.fromisoformat(
            original["date"])
        instance.update(id=instance_id(series["id"], moment), recurringEventId=series["id"],
                        originalStartTime=copy.deepcopy(original), _seq=series.get("_seq", 0))
        return instance

    def instances(self, calendar: Calendar, series: dict[str, Any], lo: dt.datetime | None,
                  hi: dt.datetime | None) -> Iterator[dict[str, Any]]:
        """The instances of a series that overlap [lo, hi): computed ones, stored exceptions (moved ones
        by their new time, cancelled ones by their original time)."""
        seen: set[str] = set()
        for iid, original in self._expansion(calendar, series, hi).items():
            stored = calendar.events.get(iid)
            seen.add(iid)
            item = stored if stored is not None else self.generated(series, original)
            if overlaps(item, lo, hi):
                yield item
        for stored in list(calendar.events.values()):
            if stored.get("recurringEventId") == series["id"] and stored["id"] not in seen and overlaps(stored, lo, hi):
                yield stored

    def current_ids(self, calendar: Calendar, series: dict[str, Any]) -> set[str]:
        return set(self._expansion(calendar, series))

    # -- inspection ---------------------------------------------------------------------------------

    def changed_since(self, calendar: Calendar, seq: int) -> list[dict[str, Any]]:
        return sorted((e for e in calendar.events.values() if e.get("_seq", 0) > seq), key=lambda e: e["_seq"])


def overlaps(event: dict[str, Any], lo: dt.datetime | None, hi: dt.datetime | None) -> bool:
    """``timeMin`` bounds an event's end, ``timeMax`` its start (both exclusive); a cancelled instance
    counts at its original start."""
    if event.get("status") == "cancelled" and "originalStartTime" in event and "start" not in event:
        start = end = original_instant(event)
    else:
        start, end = span(event)
    return (lo is None or end > lo) and (hi is None or start < hi)


def merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: objects merge, everything else (arrays included) is replaced."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value
    return target
