"""Google Calendar (API v3) over httpx, with tokens from ``calsync.oauth.google``.

* create:  ``events.insert`` with the client-chosen id ``EventKey.digest`` (hex is base32hex). A 409
  means the id exists already: a lost response, a replay, or an earlier life of the appointment that
  was cancelled (Google keeps deleted events as ``status: cancelled`` and refuses their id again). It
  is overwritten in place (``events.update`` without ``If-Match``: the id is ours) with
  ``status: confirmed``, which also revives a cancelled one: two calls, and the read only if that fails.
* update:  ``events.update`` (full replacement, so a field the privacy settings now hide is removed)
  with ``If-Match``; a 412 re-reads the etag and tries again; a 404 (the calendar changed) creates it.
* delete:  ``events.delete`` with ``If-Match`` when the etag is known; 404 and 410 count as done.

Every write sends ``sendUpdates=none``. Events never have attendees (patients are never invited), carry
our marker in ``extendedProperties.private``, are private when the clinician chose so, carry the
clinician's reminder (``reminders.overrides``) or none, and give their times with IANA zone names;
all-day events use dates, the end date exclusive.

A backfill sends the first request of many writes at once through Google's batch endpoint
(:meth:`GoogleCalendarProvider.write_batch`, ``/batch/calendar/v3``, at most :data:`BATCH_LIMIT` a batch):
each write whose answer is not simply done is finished by the single-request path above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import httpx

from calsync.core.errors import ProviderAuthError, ProviderError
from calsync.domain.event import MARKER_PROPERTY, CalendarEvent, EventKey, Written
from calsync.domain.model import Integration
from calsync.http import batch
from calsync.http.bearer import BearerSession, TokenSource
from calsync.http.outcomes import Answer, answer, lost_race, raise_for_status
from calsync.providers.batching import FALLBACK, Outcome, Write

NAME = "google"
API_BASE = "https://www.googleapis.com/calendar/v3"
WRITE_PARAMS = {"sendUpdates": "none"}
SOURCE_TITLE = "Open in the EHR"
ATTEMPTS = 3
BATCH_LIMIT = 50
"""Writes per batch request: Google allows 1,000 calls in one batch, counts each against the quota, and
advises smaller batches (larger ones are more likely to be rate limited)."""


def _when(moment: dt.datetime, zone: str) -> dict[str, str]:
    return {"dateTime": moment.astimezone(ZoneInfo(zone)).isoformat(), "timeZone": zone}


def _dates(event: CalendarEvent) -> tuple[dict[str, str], dict[str, str]]:
    """All-day: local dates in the event's zone, the end exclusive (at least one day after the start)."""
    zone = ZoneInfo(event.timezone)
    start = event.start.astimezone(zone).date()
    end_local = event.end.astimezone(zone)
    end = end_local.date() if end_local.time() == dt.time(0) else end_local.date() + dt.timedelta(days=1)
    end = max(end, start + dt.timedelta(days=1))
    return {"date": start.isoformat()}, {"date": end.isoformat()}


def reminders(event: CalendarEvent) -> dict[str, Any]:
    """The clinician's reminder as a popup override, or none at all: never the calendar's defaults,
    so what the settings say is what the clinician gets."""
    if event.reminder_minutes is None:
        return {"useDefault": False}
    return {"useDefault": False, "overrides": [{"method": "popup", "minutes": event.reminder_minutes}]}


def event_body(key: EventKey, event: CalendarEvent) -> dict[str, Any]:
    """The Google Event resource for ``event`` (``events.insert`` and ``events.update`` bodies)."""
    if event.all_day:
        start, end = _dates(event)
    else:
        start, end = _when(event.start, event.timezone), _when(event.end, event.timezone)
    body: dict[str, Any] = {
        "id": key.digest,
        "status": "confirmed",
        "summary": event.summary,
        "description": event.description,
        "start": start,
        "end": end,
        "transparency": "opaque",
        "visibility": "private" if event.private else "default",
        "extendedProperties": {"private": {MARKER_PROPERTY: key.marker}},
        "reminders": reminders(event),
    }
    if event.location:
        body["location"] = event.location
    if event.url:
        body["source"] = {"title": SOURCE_TITLE, "url": event.url}
    return body


class GoogleCalendarProvider:
    name = NAME
    batch_limit = BATCH_LIMIT

    def __init__(self, integration: Integration, tokens: TokenSource, client: httpx.Client | None = None, *,
                 api_base: str = API_BASE) -> None:
        self._session = BearerSession(NAME, tokens, client)
        base = api_base.rstrip("/")
        self._events = f"{base}/calendars/{quote(integration.calendar_id or 'primary', safe='')}/events"
        parts = urlsplit(base)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._batch = f"{self._origin}/batch{parts.path}"  # https://www.googleapis.com/batch/calendar/v3

    # -- HTTP -----------------------------------------------------------------------------------------

    def _url(self, event_id: str) -> str:
        return f"{self._events}/{quote(event_id, safe='')}"

    @staticmethod
    def _written(response: httpx.Response) -> Written:
        resource = response.json()
        return Written(external_id=str(resource["id"]), etag=resource.get("etag"))

    def _insert(self, body: dict[str, Any]) -> tuple[Answer, httpx.Response]:
        response = self._session.send("POST", self._events, params=WRITE_PARAMS, json=body)
        return answer(NAME, "insert", response), response

    def _put(self, event_id: str, body: dict[str, Any], etag: str | None) -> tuple[Answer, httpx.Response]:
        headers = {"If-Match": etag} if etag else {}
        response = self._session.send("PUT", self._url(event_id), params=WRITE_PARAMS, json=body, headers=headers)
        return answer(NAME, "update", response), response

    def _current(self, event_id: str) -> dict[str, Any] | None:
        """The event as Google holds it now (cancelled ones included), or None if it does not exist."""
        response = self._session.send("GET", self._url(event_id))
        if answer(NAME, "get", response) is Answer.MISSING:
            return None
        resource: dict[str, Any] = response.json()
        return resource

    # -- protocol -------------------------------------------------------------------------------------

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        body = event_body(key, event)
        if known is None:
            outcome, response = self._insert(body)
            if outcome is Answer.DONE:
                return self._written(response)
            # The id is taken: by our own earlier create (a lost answer) or by the event we deleted, which
            # Google keeps as cancelled. Either way the event is ours: overwrite it in place, which also
            # revives a cancelled one; nothing to compare an etag with, so no If-Match.
            outcome, response = self._put(key.digest, body, None)
            if outcome is Answer.DONE:
                return self._written(response)
            event_id, etag = key.digest, None
        else:
            event_id, etag = known.external_id, known.etag
        body["id"] = event_id
        for _attempt in range(ATTEMPTS):
            if etag is None:
                current = self._current(event_id)
                if current is None:
                    outcome, response = self._insert(body)
                    if outcome is Answer.TAKEN:
                        continue  # created meanwhile: read it again
                    return self._written(response)
                etag = current.get("etag")
            outcome, response = self._put(event_id, body, etag)
            if outcome is Answer.DONE:
                return self._written(response)
            etag = None  # changed or gone meanwhile: read it again
        raise lost_race(NAME)

    def delete(self, key: EventKey, known: Written | None) -> None:
        event_id = known.external_id if known else key.digest
        etag = known.etag if known else None
        for _attempt in range(ATTEMPTS):
            headers = {"If-Match": etag} if etag else {}
            response = self._session.send("DELETE", self._url(event_id), params=WRITE_PARAMS, headers=headers)
            if answer(NAME, "delete", response) is not Answer.STALE:
                return  # done, or gone already
            current = self._current(event_id)
            if current is None or current.get("status") == "cancelled":
                return
            etag = current.get("etag")
        raise lost_race(NAME)

    # -- batches --------------------------------------------------------------------------------------

    def _first_request(self, write: Write) -> tuple[str, batch.Part]:
        """The operation and the request a single write would start with."""
        query = "?sendUpdates=none"
        if write.kind == "delete":
            event_id = write.known.external_id if write.known else write.key.digest
            headers = {"If-Match": write.known.etag} if write.known and write.known.etag else {}
            return "delete", batch.Part("DELETE", self._path(self._url(event_id)) + query, headers=headers)
        assert write.event is not None
        body = event_body(write.key, write.event)
        if write.known is None:
            return "insert", batch.Part("POST", self._path(self._events) + query, body)
        body["id"] = write.known.external_id
        headers = {"If-Match": write.known.etag} if write.known.etag else {}
        return "update", batch.Part("PUT", self._path(self._url(write.known.external_id)) + query, body, headers)

    def _path(self, url: str) -> str:
        return url[len(self._origin):]

    def write_batch(self, writes: Sequence[Write]) -> list[Outcome]:
        """The first request of each write, in one batch request; a write whose answer is not simply done
        (409, 412, 404, a 401 on its own) is finished singly, a failure is that write's alone."""
        firsts = [self._first_request(write) for write in writes]
        content_type, payload = batch.encode([part for _, part in firsts])
        response = self._session.send("POST", self._batch, content=payload, headers={"Content-Type": content_type})
        raise_for_status(NAME, response, "batch")
        outcomes: list[Outcome] = []
        for write, (operation, _), inner in zip(writes, firsts, batch.decode(response, len(writes)), strict=True):
            try:
                said = answer(NAME, operation, inner)
            except ProviderAuthError:
                outcomes.append(FALLBACK)  # the single path renews the token once
                continue
            except ProviderError as failure:
                outcomes.append(failure)
                continue
            if said is Answer.DONE:
                outcomes.append(self._written(inner) if write.kind == "upsert" else None)
            elif write.kind == "delete" and said is Answer.MISSING:
                outcomes.append(None)
            else:
                outcomes.append(FALLBACK)
        return outcomes
