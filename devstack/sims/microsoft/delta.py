"""``calendarView`` and ``calendarView/delta`` as Graph documents them.

* ``.../calendarView?startDateTime=&endDateTime=``: single events, occurrences and exceptions overlapping
  the window (never the series master).
* ``.../calendarView/delta``: the first round needs ``startDateTime`` and ``endDateTime`` (fixed for the life
  of the chain); pages of ``Prefer: odata.maxpagesize`` (default 100) linked by ``@odata.nextLink``
  (``$skiptoken``); the last page carries ``@odata.deltaLink`` (``$deltatoken``). Following a delta link
  returns what changed since: current items in full, and ``{"id", "@removed": {"reason": "deleted"}}`` for
  deleted events, cancelled occurrences and events that changed outside the window (as Graph does; filter by
  your range). ``$select``, ``$filter``, ``$orderby``, ``$search`` and ``$expand`` are refused with 400.
* Forced expiry (``sim.expire_delta_tokens``): the old links answer 410 ``syncStateNotFound`` (or
  ``resyncRequired`` with a ``Location`` header holding a fresh initial link). Unknown tokens answer 410
  ``syncStateNotFound`` too.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from devstack.sims.http import SimRequest, SimResponse
from devstack.sims.microsoft.mailbox import Mailbox, Mailboxes, overlaps
from devstack.sims.microsoft.views import BadRequest, graph_error, preferences, view

PAGE_SIZE = 100
UNSUPPORTED = ("$select", "$filter", "$orderby", "$search", "$expand")


@dataclass(frozen=True)
class DeltaState:
    user: str
    calendar: str
    lo: dt.datetime
    hi: dt.datetime
    seq: int
    path: str


@dataclass
class Pending:
    items: list[dict[str, Any]]
    delta_token: str
    state: DeltaState


def window(request: SimRequest) -> tuple[dt.datetime, dt.datetime]:
    names = {k.lower(): v[0] for k, v in request.query.items()}
    if "startdatetime" not in names or "enddatetime" not in names:
        raise BadRequest("ErrorInvalidParameter", "This request requires a time window specified by the query "
                                                  "string parameters StartDateTime and EndDateTime.")
    try:
        lo, hi = (dt.datetime.fromisoformat(names[k].replace("Z", "+00:00")) for k in ("startdatetime", "enddatetime"))
    except ValueError:
        raise BadRequest("ErrorInvalidParameter", "StartDateTime and EndDateTime must be ISO 8601.") from None
    lo, hi = (m if m.tzinfo else m.replace(tzinfo=dt.UTC) for m in (lo, hi))
    if hi <= lo:
        raise BadRequest("ErrorInvalidParameter", "EndDateTime must be after StartDateTime.")
    return lo, hi


def removed(event_id: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.event", "id": event_id, "@removed": {"reason": "deleted"}}


class Delta:
    """Delta tokens and skip tokens of one simulator."""

    def __init__(self, mailboxes: Mailboxes, api_base: Any) -> None:
        self.mailboxes = mailboxes
        self._api_base = api_base
        self.tokens: dict[str, DeltaState] = {}
        self.pages: dict[str, Pending] = {}
        self.expired: dict[str, str] = {}

    def clear(self) -> None:
        self.tokens.clear()
        self.pages.clear()
        self.expired.clear()

    def expire(self, user: str | None, code: str) -> int:
        doomed = [t for t, s in self.tokens.items() if user in (None, s.user)]
        doomed += [t for t, p in self.pages.items() if user in (None, p.state.user)]
        for token in doomed:
            self.tokens.pop(token, None)
            self.pages.pop(token, None)
            self.expired[token] = code
        return len(doomed)

    def calendar_view(self, request: SimRequest, mailbox: Mailbox, calendar: str) -> SimResponse:
        lo, hi = window(request)
        items = sorted(self.mailboxes.view_items(mailbox, calendar, lo, hi), key=lambda e: e["start"]["dateTime"])
        return SimResponse(200, {"value": [view(request, e) for e in items]})

    def delta(self, request: SimRequest, mailbox: Mailbox, calendar: str, path: str) -> SimResponse:
        given = [name for name in UNSUPPORTED if name in request.query]
        if given:
            raise BadRequest("ErrorInvalidUrlQuery", f"{given[0]} is not supported on calendarView delta.")
        size = int(preferences(request).get("odata.maxpagesize") or PAGE_SIZE)
        skip, delta = request.param("$skiptoken"), request.param("$deltatoken")
        token = skip if skip is not None else delta
        if token is not None and (token in self.expired or (token not in self.pages and token not in self.tokens)):
            return self._gone(self.expired.get(token, "syncStateNotFound"), path)
        if skip is not None:
            return self._page(request, self.pages.pop(skip), size)
        if delta is not None:
            state = self.tokens[delta]
            items = [self._shown(request, i) for i in self._changes(mailbox, state)]
        else:
            lo, hi = window(request)
            state = DeltaState(mailbox.user, calendar, lo, hi, self.mailboxes.seq, path)
            items = [view(request, e) for e in self.mailboxes.view_items(mailbox, calendar, lo, hi)]
        next_token = secrets.token_urlsafe(24)
        self.tokens[next_token] = DeltaState(mailbox.user, calendar, state.lo, state.hi, self.mailboxes.seq, path)
        return self._page(request, Pending(items, next_token, state), size)

    @staticmethod
    def _shown(request: SimRequest, item: dict[str, Any]) -> dict[str, Any]:
        return item if "@removed" in item else view(request, item)

    def _page(self, request: SimRequest, pending: Pending, size: int) -> SimResponse:
        page, rest = pending.items[:size], pending.items[size:]
        link = f"{self._api_base()}{pending.state.path}?"
        body: dict[str, Any] = {"@odata.context": f"{self._api_base()}/$metadata#Collection(event)"}
        if rest:
            token = secrets.token_urlsafe(24)
            self.pages[token] = Pending(rest, pending.delta_token, pending.state)
            body["@odata.nextLink"] = link + urlencode({"$skiptoken": token}, safe="$")
        else:
            body["@odata.deltaLink"] = link + urlencode({"$deltatoken": pending.delta_token}, safe="$")
        body["value"] = [{"@odata.type": "#microsoft.graph.event", **item} for item in page]
        headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if "odata.maxpagesize" in preferences(
            request) else {}
        return SimResponse(200, body, headers)

    def _gone(self, code: str, path: str) -> SimResponse:
        if code == "resyncRequired":
            answer = graph_error(410, "resyncRequired", "Resync required. Replace any local items with the server's.")
            answer.headers["Location"] = f"{self._api_base()}{path}?$deltatoken="
            return answer
        return graph_error(410, "syncStateNotFound", "The sync state generation is not found.")

    def _changes(self, mailbox: Mailbox, state: DeltaState) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for event in sorted(mailbox.events.values(), key=lambda e: e.get("_seq", 0)):
            if event["_calendar"] != state.calendar or event.get("_seq", 0) <= state.seq:
                continue
            if event.get("type") == "seriesMaster":
                current = {i["id"]: i for i in self.mailboxes.occurrences_of(mailbox, event, state.lo, state.hi)}
                for gone, when in event.get("_gone", {}).items():
                    if when > state.seq and gone not in current:
                        found[gone] = removed(gone)
                found.update(current)
            elif overlaps(event, state.lo, state.hi):
                found[event["id"]] = event
            else:
                found[event["id"]] = removed(event["id"])
        for event_id, tomb in mailbox.tombstones.items():
            if tomb.calendar == state.calendar and tomb.seq > state.seq:
                if tomb.event.get("type") == "seriesMaster":
                    for gone, when in tomb.event.get("_gone", {}).items():
                        if when > state.seq:
                            found[gone] = removed(gone)
                else:
                    found[event_id] = removed(event_id)
        return list(found.values())
