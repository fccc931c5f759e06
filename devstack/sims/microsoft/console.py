"""The clinician's side of the Graph simulator: what a person does in Outlook, as Python methods. Every
edit goes through the same mailbox as the API (ids, change keys, change sequence), so delta links see it
and subscriptions announce it.

    event = sim.create_event(user, start, end, "Dentist")                  # default calendar
    series = sim.create_event(user, start, end, "Physio", recurrence=sim.weekly(start, count=6))
    sim.move_occurrence(user, series["id"], original_start, new_start)     # one moved occurrence
    sim.cancel_occurrence(user, series["id"], original_start)              # one cancelled occurrence
    sim.move_event(user, event["id"], new_start)                           # keeps the duration
    sim.update_event(user, event["id"], showAs="free")
    sim.delete_event(user, event["id"])

``start``/``end`` are zone-aware datetimes; their ``ZoneInfo`` key becomes the event's time zone.
Bodies are checked against Graph's Event schema, as the API does.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

from devstack.sims.microsoft.mailbox import Mailbox, Mailboxes, occurrence_id, parse_occurrence_id
from devstack.sims.microsoft.views import graph_time, instant, valid_event

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def zone_of(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("date-times must be zone-aware")
    return moment.tzinfo.key if isinstance(moment.tzinfo, ZoneInfo) else "UTC"


class GraphConsole:
    """Mixed into the simulator: needs ``mailboxes`` and ``_lock``."""

    mailboxes: Mailboxes
    _lock: threading.RLock

    def _mailbox(self, user: str) -> Mailbox:
        mailbox = self.mailboxes.mailboxes.get(user)
        if mailbox is None:
            raise KeyError(f"no mailbox {user!r}")
        return mailbox

    def _event(self, mailbox: Mailbox, event_id: str) -> dict[str, Any]:
        event = mailbox.events.get(event_id)
        if event is None and parse_occurrence_id(event_id):
            event = self.mailboxes.materialize(mailbox, event_id)
        if event is None:
            raise KeyError(f"no event {event_id!r}")
        return event

    @staticmethod
    def weekly(start: dt.datetime, *, count: int | None = None, until: dt.date | None = None,
               interval: int = 1) -> dict[str, Any]:
        """A weekly patternedRecurrence on ``start``'s weekday (``count`` occurrences, or ``until``, or none)."""
        span: dict[str, Any] = {"type": "noEnd", "startDate": start.date().isoformat()}
        if count is not None:
            span = {**span, "type": "numbered", "numberOfOccurrences": count}
        elif until is not None:
            span = {**span, "type": "endDate", "endDate": until.isoformat()}
        return {"pattern": {"type": "weekly", "interval": interval, "daysOfWeek": [_WEEKDAYS[start.weekday()]],
                            "firstDayOfWeek": "sunday"}, "range": {**span, "recurrenceTimeZone": zone_of(start)}}

    def create_event(self, user: str, start: dt.datetime, end: dt.datetime, subject: str = "Busy", *,
                     calendar: str | None = None, recurrence: dict[str, Any] | None = None,
                     **fields: Any) -> dict[str, Any]:
        """A new event in ``calendar`` (default: the default calendar); a series with ``recurrence``."""
        body = {"subject": subject, "start": graph_time(start, zone_of(start)), "end": graph_time(end, zone_of(end)),
                **fields}
        if recurrence:
            body["recurrence"] = recurrence
        body = valid_event(body)
        with self._lock:
            mailbox = self._mailbox(user)
            return self._public(self.mailboxes.create(mailbox, calendar or mailbox.default_calendar, body))

    def update_event(self, user: str, event_id: str, **fields: Any) -> dict[str, Any]:
        """Changes fields; an occurrence id turns that occurrence into an exception."""
        body = valid_event(fields)
        with self._lock:
            mailbox = self._mailbox(user)
            return self._public(self.mailboxes.update(mailbox, self._event(mailbox, event_id), body))

    def edit(self, user: str, event_id: str, **fields: Any) -> None:
        """The clinician edits the event in Outlook: its changeKey moves on."""
        self.update_event(user, event_id, **fields)

    def move_event(self, user: str, event_id: str, start: dt.datetime,
                   end: dt.datetime | None = None) -> dict[str, Any]:
        """Drags an event (a whole series, or one occurrence by its id); keeps the duration unless ``end``."""
        with self._lock:
            mailbox = self._mailbox(user)
            event = self._event(mailbox, event_id)
            end = end or start + (instant(event["end"]) - instant(event["start"]))
            body = {"start": graph_time(start, zone_of(start)), "end": graph_time(end, zone_of(end))}
            return self._public(self.mailboxes.update(mailbox, event, valid_event(body)))

    def delete_event(self, user: str, event_id: str) -> None:
        """Deletes an event or a whole series; an occurrence id cancels that occurrence."""
        with self._lock:
            mailbox = self._mailbox(user)
            event = mailbox.events.get(event_id)
            if event is None:
                parsed = parse_occurrence_id(event_id)
                master = mailbox.events.get(parsed[0]) if parsed else None
                original = self.mailboxes.expansion(master).get(event_id) if master else None
                if master is None or original is None:
                    raise KeyError(f"no event {event_id!r}")
                event = self.mailboxes.occurrence(master, original)
            self.mailboxes.delete(mailbox, event)

    def move_occurrence(self, user: str, master_id: str, original_start: dt.datetime, start: dt.datetime,
                        end: dt.datetime | None = None) -> dict[str, Any]:
        return self.move_event(user, occurrence_id(master_id, original_start), start, end)

    def cancel_occurrence(self, user: str, master_id: str, original_start: dt.datetime) -> None:
        self.delete_event(user, occurrence_id(master_id, original_start))

    def occurrences(self, user: str, master_id: str, start: dt.datetime | None = None,
                    end: dt.datetime | None = None) -> list[dict[str, Any]]:
        with self._lock:
            mailbox = self._mailbox(user)
            return [self._public(o) for o in self.mailboxes.occurrences_of(mailbox, mailbox.events[master_id],
                                                                           start, end)]

    @staticmethod
    def occurrence_id(master_id: str, original_start: dt.datetime) -> str:
        return occurrence_id(master_id, original_start)

    @staticmethod
    def _public(event: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}
