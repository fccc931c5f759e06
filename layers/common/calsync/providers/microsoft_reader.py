"""Reading an Outlook calendar back through Microsoft Graph, and its subscriptions (``calsync.providers.inbound``).

* complete read: ``calendars/{id}/calendarView/delta`` with the window (occurrences of series expanded,
  exceptions and cancelled occurrences as Graph keeps them), following ``@odata.nextLink`` until the
  ``@odata.deltaLink``, which is the cursor. The window is fixed for the life of a delta chain.
* incremental: the stored ``deltaLink``; removed items come as ``{"id", "@removed"}`` (Graph also reports
  items that left the window that way). ``410`` (``syncStateNotFound``, ``resyncRequired``) means the
  chain is gone (``ProviderSyncStateLostError``).
* subscriptions: ``POST /subscriptions`` on the calendar's events with our ``clientState`` (a per-watch
  secret Graph echoes in every notification) and the same URL for lifecycle notifications; Graph
  validates both URLs before it answers. ``PATCH`` renews (and resumes one paused by
  ``reauthorizationRequired``), ``DELETE`` stops.

Links Graph hands back are followed only on the configured Graph host (the token never goes elsewhere).
Delta items carry no extended properties, so our own events are recognised by the ``transactionId``
calsync gave them (the caller confirms with its ledger). All-day events are placed on their dates in the
event's own time zone, never shifted by the UTC view (the off-by-one-day classic).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from calsync.core.errors import ProviderRejectedError, ProviderSyncStateLostError
from calsync.domain.busy import ExternalEvent, ShowAs, Window, day_span
from calsync.domain.model import Integration
from calsync.http.bearer import BearerSession, TokenSource
from calsync.http.outcomes import Answer, answer, raise_for_status
from calsync.providers.inbound import Changes, Watch
from calsync.providers.microsoft import API_BASE, ORGANISATION, PREFER, USER_OPTION, graph_mode

NAME = "microsoft"
PAGE_SIZE = 200
MAX_PAGES = 100
OUR_TRANSACTION = re.compile(r"^[0-9a-f]{32}$")
SHOW_AS = {"free": ShowAs.FREE, "workingElsewhere": ShowAs.FREE, "tentative": ShowAs.TENTATIVE,
           "oof": ShowAs.OUT_OF_OFFICE}


def _utc(value: dict[str, Any]) -> dt.datetime:
    """A dateTimeTimeZone read in its zone (the reader asks for UTC)."""
    moment = dt.datetime.fromisoformat(str(value["dateTime"])[:26])
    try:
        zone: dt.tzinfo = ZoneInfo(str(value.get("timeZone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return moment.replace(tzinfo=zone).astimezone(dt.UTC)


def all_day_date(moment: dt.datetime, zone: str | None) -> dt.date:
    """The date an all-day event's boundary stands for: midnight in the event's own zone. Without a usable
    zone, the nearest midnight (a UTC view shifts it by the zone's offset, never by 12 hours or more)."""
    try:
        local = moment.astimezone(ZoneInfo(zone)) if zone else None
    except (ZoneInfoNotFoundError, ValueError):
        local = None
    if local is not None and local.time() == dt.time(0):
        return local.date()
    return (moment.astimezone(dt.UTC) + dt.timedelta(hours=12)).date()


def normalise(item: dict[str, Any]) -> ExternalEvent:
    """One calendarView delta item (not removed) as an :class:`ExternalEvent`."""
    start, end = _utc(item["start"]), _utc(item["end"])
    start_date = end_date = None
    if item.get("isAllDay"):
        start_date = all_day_date(start, item.get("originalStartTimeZone"))
        end_date = all_day_date(end, item.get("originalEndTimeZone") or item.get("originalStartTimeZone"))
        start, end = day_span(start_date, end_date, item.get("originalStartTimeZone"))
    transaction = str(item.get("transactionId") or "")
    response = (item.get("responseStatus") or {}).get("response")
    attendees = [((a.get("emailAddress") or {}).get("address")) for a in item.get("attendees") or []]
    return ExternalEvent(
        source=str(item["id"]), start=start, end=end, etag=item.get("@odata.etag") or item.get("changeKey"),
        marker=transaction if OUR_TRANSACTION.match(transaction) else None, all_day=bool(item.get("isAllDay")),
        start_date=start_date, end_date=end_date, show_as=SHOW_AS.get(str(item.get("showAs")), ShowAs.BUSY),
        cancelled=bool(item.get("isCancelled")), declined=response == "declined",
        title=item.get("subject"), attendees=tuple(str(a) for a in attendees if a),
        zone=item.get("originalStartTimeZone"))


class MicrosoftGraphReader:
    name = NAME

    def __init__(self, integration: Integration, tokens: TokenSource, client: httpx.Client | None = None, *,
                 api_base: str = API_BASE) -> None:
        organisation = graph_mode(integration) == ORGANISATION
        self._owner = f"users/{quote(integration.options[USER_OPTION], safe='')}" if organisation else "me"
        self._api = api_base.rstrip("/")
        self._session = BearerSession(NAME, tokens, client, headers={"Prefer": PREFER})

    def _calendar(self, calendar: str) -> str:
        return f"{self._owner}/calendars/{quote(calendar, safe='')}" if calendar else f"{self._owner}/calendar"

    def _follow(self, link: str) -> str:
        """A link Graph handed back, only if it stays on the configured Graph host and path."""
        ours, theirs = urlsplit(self._api), urlsplit(link)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc) or not theirs.path.startswith(ours.path):
            raise ProviderRejectedError(NAME, "foreign_link")
        return link

    # -- reading ------------------------------------------------------------------------------------

    def changes(self, calendar: str, cursor: str | None, window: Window) -> Changes:
        if cursor is None:
            url = f"{self._api}/{self._calendar(calendar)}/calendarView/delta"
            params: dict[str, str] | None = {"startDateTime": window.start.isoformat(),
                                             "endDateTime": window.end.isoformat()}
        else:
            url, params = self._follow(cursor), None
        found = Changes(complete=cursor is None)
        for _page in range(MAX_PAGES):
            response = self._session.send("GET", url, params=params,
                                          headers={"Prefer": f"{PREFER}, odata.maxpagesize={PAGE_SIZE}"})
            if answer(NAME, "delta", response) is Answer.EXPIRED:
                raise ProviderSyncStateLostError(NAME, "sync_state_not_found", response.status_code)
            body: dict[str, Any] = response.json()
            for item in body.get("value") or []:
                if "@removed" in item:
                    found.removed.append(str(item["id"]))
                elif item.get("type") != "seriesMaster":
                    found.events.append(normalise(item))
            if body.get("@odata.nextLink"):
                url, params = self._follow(str(body["@odata.nextLink"])), None
                continue
            found.cursor = self._follow(str(body["@odata.deltaLink"])) if body.get("@odata.deltaLink") else None
            return found
        found.cursor, found.complete = cursor, False  # cut short: continue from where this read began
        return found

    def event(self, calendar: str, source: str) -> ExternalEvent | None:
        response = self._session.send("GET", f"{self._api}/{self._owner}/events/{quote(source, safe='')}")
        if answer(NAME, "get", response) is Answer.MISSING:
            return None
        item: dict[str, Any] = response.json()
        return None if item.get("isCancelled") else normalise(item)

    # -- subscriptions ------------------------------------------------------------------------------

    def watch(self, calendar: str, channel_id: str, address: str, token: str, expires_at: dt.datetime) -> Watch:
        body = {"changeType": "created,updated,deleted", "notificationUrl": address,
                "lifecycleNotificationUrl": address, "resource": f"{self._calendar(calendar)}/events",
                "expirationDateTime": _iso(expires_at), "clientState": token}
        response = self._session.send("POST", f"{self._api}/subscriptions", json=body)
        raise_for_status(NAME, response, "subscribe")
        return self._watch(channel_id, response.json())

    def renew(self, watch: Watch, expires_at: dt.datetime) -> Watch | None:
        if watch.resource_id is None:
            return None
        response = self._session.send("PATCH", f"{self._api}/subscriptions/{quote(watch.resource_id, safe='')}",
                                      json={"expirationDateTime": _iso(expires_at)})
        if answer(NAME, "renew", response) is Answer.MISSING:
            return None  # gone (expired, removed): a new one replaces it
        return self._watch(watch.channel_id, response.json())

    def stop(self, watch: Watch) -> None:
        if watch.resource_id is None:
            return
        response = self._session.send("DELETE", f"{self._api}/subscriptions/{quote(watch.resource_id, safe='')}")
        answer(NAME, "unsubscribe", response)  # missing: gone already

    @staticmethod
    def _watch(channel_id: str, resource: dict[str, Any]) -> Watch:
        expires = dt.datetime.fromisoformat(str(resource["expirationDateTime"]).replace("Z", "+00:00"))
        return Watch(channel_id, str(resource["id"]), expires.astimezone(dt.UTC))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
