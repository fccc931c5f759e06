"""Reading a Google calendar back, and its push channels (Calendar API v3, ``calsync.providers.inbound``).

* complete read: ``events.list`` with ``singleEvents=true`` (recurring series expanded into instances,
  moved and cancelled instances as Google keeps them) over the window, page by page; the last page's
  ``nextSyncToken`` is the cursor.
* incremental: ``events.list`` with ``syncToken`` (and ``singleEvents=true``, as the first read): every
  entry changed since, deleted ones as ``cancelled``. ``410 Gone`` means the token is no longer valid
  (``ProviderSyncStateLostError``): the caller reads the window again.
* channels: ``events.watch`` with a channel id and a per-channel token of ours (Google echoes it in
  ``X-Goog-Channel-Token``), ``channels.stop`` with the channel id and Google's ``resourceId``. Google
  cannot extend a channel: a new one is started before the old one expires.

Our own events carry our key in ``extendedProperties.private``; a deleted one comes back as a bare
cancelled entry whose id is the one calsync chose (the caller checks its ledger).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import httpx

from calsync.core.errors import ProviderSyncStateLostError
from calsync.domain.busy import ExternalEvent, ShowAs, Window, day_span
from calsync.domain.event import MARKER_PROPERTY
from calsync.http.bearer import BearerSession, TokenSource
from calsync.http.outcomes import Answer, answer, raise_for_status
from calsync.providers.google import API_BASE
from calsync.providers.inbound import Changes, Watch

NAME = "google"
PAGE_SIZE = 2500
MAX_PAGES = 40
"""A read stops after this many pages (100,000 entries); the rest comes with the next read."""


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(value: dict[str, Any], zone: str | None) -> tuple[dt.datetime, dt.date | None]:
    if "date" in value:
        day = dt.date.fromisoformat(value["date"])
        return day_span(day, day, zone)[0], day
    return dt.datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00")), None


def show_as(item: dict[str, Any], own: dict[str, Any] | None) -> ShowAs:
    kind = item.get("eventType", "default")
    if kind == "outOfOffice":
        return ShowAs.OUT_OF_OFFICE
    if item.get("transparency") == "transparent" or kind == "workingLocation":
        return ShowAs.FREE
    if item.get("status") == "tentative" or (own or {}).get("responseStatus") == "tentative":
        return ShowAs.TENTATIVE
    return ShowAs.BUSY


def normalise(item: dict[str, Any], zone: str | None) -> ExternalEvent:
    """One ``events.list`` entry (not cancelled) as an :class:`ExternalEvent`."""
    start, start_date = _moment(item["start"], zone)
    end, end_date = _moment(item["end"], zone)
    if start_date is not None and end_date is not None:
        start, end = day_span(start_date, end_date, zone)
    attendees = [a for a in item.get("attendees") or [] if isinstance(a, dict)]
    own = next((a for a in attendees if a.get("self")), None)
    private = (item.get("extendedProperties") or {}).get("private") or {}
    return ExternalEvent(
        source=str(item["id"]), start=start, end=end, etag=item.get("etag"),
        marker=private.get(MARKER_PROPERTY), all_day=start_date is not None, start_date=start_date,
        end_date=end_date, show_as=show_as(item, own), declined=(own or {}).get("responseStatus") == "declined",
        title=item.get("summary"), attendees=tuple(str(a["email"]) for a in attendees if a.get("email")),
        zone=zone)


class GoogleCalendarReader:
    name = NAME

    def __init__(self, tokens: TokenSource, client: httpx.Client | None = None, *, api_base: str = API_BASE) -> None:
        self._session = BearerSession(NAME, tokens, client)
        self._base = api_base.rstrip("/")

    def _events(self, calendar: str) -> str:
        return f"{self._base}/calendars/{quote(calendar or 'primary', safe='')}/events"

    # -- reading ------------------------------------------------------------------------------------

    def changes(self, calendar: str, cursor: str | None, window: Window) -> Changes:
        params: dict[str, Any] = {"singleEvents": "true", "maxResults": PAGE_SIZE}
        if cursor is None:
            params |= {"timeMin": _rfc3339(window.start), "timeMax": _rfc3339(window.end)}
        else:
            params["syncToken"] = cursor
        found = Changes(complete=cursor is None)
        for _page in range(MAX_PAGES):
            response = self._session.send("GET", self._events(calendar), params=params)
            if answer(NAME, "list", response) is Answer.EXPIRED:
                raise ProviderSyncStateLostError(NAME, "full_sync_required", response.status_code)
            body: dict[str, Any] = response.json()
            zone = body.get("timeZone")  # the calendar's: it places all-day events
            for item in body.get("items") or []:
                if item.get("status") == "cancelled":
                    found.removed.append(str(item["id"]))
                else:
                    found.events.append(normalise(item, zone))
            if body.get("nextPageToken"):
                params = {k: v for k, v in params.items() if k not in ("timeMin", "timeMax", "syncToken")}
                params["pageToken"] = body["nextPageToken"]
                continue
            found.cursor = body.get("nextSyncToken")
            return found
        found.cursor, found.complete = cursor, False  # cut short: continue from where this read began
        return found

    def event(self, calendar: str, source: str) -> ExternalEvent | None:
        response = self._session.send("GET", f"{self._events(calendar)}/{quote(source, safe='')}")
        if answer(NAME, "get", response) is Answer.MISSING:
            return None
        item: dict[str, Any] = response.json()
        return None if item.get("status") == "cancelled" else normalise(item, None)

    # -- channels -----------------------------------------------------------------------------------

    def watch(self, calendar: str, channel_id: str, address: str, token: str, expires_at: dt.datetime) -> Watch:
        expiration = int(expires_at.timestamp() * 1000)
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token, "expiration": expiration}
        response = self._session.send("POST", f"{self._events(calendar)}/watch", json=body)
        raise_for_status(NAME, response, "watch")
        answered: dict[str, Any] = response.json()
        expires = dt.datetime.fromtimestamp(int(answered.get("expiration") or expiration) / 1000, dt.UTC)
        return Watch(channel_id, str(answered["resourceId"]), expires)

    def renew(self, watch: Watch, expires_at: dt.datetime) -> Watch | None:
        return None  # Google channels cannot be extended: a new one replaces it

    def stop(self, watch: Watch) -> None:
        if watch.resource_id is None:
            return  # never started
        response = self._session.send("POST", f"{self._base}/channels/stop",
                                      json={"id": watch.channel_id, "resourceId": watch.resource_id})
        answer(NAME, "stop", response)  # missing: expired or stopped already
