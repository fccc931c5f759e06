"""The clinician's side of the Google simulator: what a person does in the Google Calendar UI, as Python
methods. Every edit goes through the same store as the API (ids, etags, change sequence), so sync tokens
see it and push channels announce it.

    event = sim.create_event(cal, start, end, "Dentist")                       # a one-off event
    series = sim.create_event(cal, start, end, "Physio", recurrence=["RRULE:FREQ=WEEKLY;COUNT=6"])
    sim.move_instance(cal, series["id"], original_start, new_start)            # one moved instance
    sim.cancel_instance(cal, series["id"], original_start)                     # one cancelled instance
    sim.move_event(cal, event["id"], new_start)                                # keeps the duration
    sim.update_event(cal, event["id"], transparency="transparent")
    sim.delete_event(cal, event["id"])                                         # cancels (never purges)

``start``/``end`` are zone-aware datetimes (their ``ZoneInfo`` becomes the event's ``timeZone``) or dates
(all-day, end exclusive). Bodies are checked against the discovery document, as the API does.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from typing import Any
from zoneinfo import ZoneInfo

from devstack.sims.google.schema import check_event
from devstack.sims.google.store import Calendar, GoogleStore, instance_id, public


def when(moment: dt.datetime | dt.date, zone: str | None = None) -> dict[str, str]:
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            raise ValueError("date-times must be zone-aware")
        name = zone or (moment.tzinfo.key if isinstance(moment.tzinfo, ZoneInfo) else "UTC")
        return {"dateTime": moment.isoformat(), "timeZone": name}
    return {"date": moment.isoformat()}


class GoogleConsole:
    """Mixed into the simulator: needs ``store`` and ``_lock``."""

    store: GoogleStore
    _lock: threading.RLock

    def _console_calendar(self, calendar_id: str) -> Calendar:
        calendar = self.store.live(calendar_id)
        if calendar is None:
            raise KeyError(f"no calendar {calendar_id!r}")
        return calendar

    def _stored(self, calendar: Calendar, event_id: str) -> dict[str, Any]:
        event = calendar.events.get(event_id) or self.store.materialize(calendar, event_id)
        if event is None:
            raise KeyError(f"no event {event_id!r}")
        return event

    def create_event(self, calendar_id: str, start: dt.datetime | dt.date, end: dt.datetime | dt.date,
                     summary: str = "Busy", *, time_zone: str | None = None, recurrence: list[str] | None = None,
                     event_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """A new event (a series when ``recurrence`` is given); returns it as the API would."""
        body: dict[str, Any] = {"summary": summary, "start": when(start, time_zone), "end": when(end, time_zone),
                                **fields}
        if recurrence:
            body["recurrence"] = list(recurrence)
        body = check_event(body, "calendar.events.insert")
        with self._lock:
            calendar = self._console_calendar(calendar_id)
            new_id = event_id or secrets.token_hex(13)
            if new_id in calendar.events:
                raise ValueError(f"event id {new_id!r} is taken")
            return public(self.store.insert(calendar, body, new_id))

    def update_event(self, calendar_id: str, event_id: str, **fields: Any) -> dict[str, Any]:
        """Changes fields (patch semantics); an instance id turns that instance into an exception."""
        check_event(fields, "calendar.events.patch")
        with self._lock:
            calendar = self._console_calendar(calendar_id)
            return public(self.store.write(calendar, self._stored(calendar, event_id), fields, replace=False))

    def edit(self, calendar_id: str, event_id: str, **fields: Any) -> None:
        """The clinician edits the event in Google Calendar: its etag moves on."""
        self.update_event(calendar_id, event_id, **fields)

    def move_event(self, calendar_id: str, event_id: str, start: dt.datetime | dt.date,
                   end: dt.datetime | dt.date | None = None) -> dict[str, Any]:
        """Drags an event (a whole series, or one instance by its instance id); keeps the duration
        unless ``end`` is given."""
        with self._lock:
            calendar = self._console_calendar(calendar_id)
            event = self._stored(calendar, event_id)
            zone = event["start"].get("timeZone")
            if end is None:
                old_start, old_end = (dt.date.fromisoformat(event[k]["date"]) if "date" in event[k]
                                      else dt.datetime.fromisoformat(event[k]["dateTime"]) for k in ("start", "end"))
                end = start + (old_end - old_start)
            body = {"start": when(start, zone if isinstance(start, dt.datetime) else None),
                    "end": when(end, zone if isinstance(end, dt.datetime) else None)}
            check_event({**public(event), **body}, "calendar.events.update")
            return public(self.store.write(calendar, event, body, replace=False))

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Deletes an event, a whole series, or one instance (by its instance id)."""
        with self._lock:
            calendar = self._console_calendar(calendar_id)
            event = self._stored(calendar, event_id)
            if event.get("status") != "cancelled":
                self.store.cancel(calendar, event)

    def move_instance(self, calendar_id: str, series_id: str, original_start: dt.datetime | dt.date,
                      start: dt.datetime | dt.date, end: dt.datetime | dt.date | None = None) -> dict[str, Any]:
        """Moves one instance of a series (it becomes an exception); returns the moved instance."""
        return self.move_event(calendar_id, instance_id(series_id, original_start), start, end)

    def cancel_instance(self, calendar_id: str, series_id: str, original_start: dt.datetime | dt.date) -> None:
        self.delete_event(calendar_id, instance_id(series_id, original_start))

    def instances(self, calendar_id: str, series_id: str, time_min: dt.datetime | None = None,
                  time_max: dt.datetime | None = None, *, include_cancelled: bool = False) -> list[dict[str, Any]]:
        """The series' instances (computed ones and exceptions) overlapping the window."""
        with self._lock:
            calendar = self._console_calendar(calendar_id)
            return [public(i) for i in self.store.instances(calendar, calendar.events[series_id], time_min, time_max)
                    if include_cancelled or i.get("status") != "cancelled"]

    @staticmethod
    def instance_id(series_id: str, original_start: dt.datetime | dt.date) -> str:
        return instance_id(series_id, original_start)
