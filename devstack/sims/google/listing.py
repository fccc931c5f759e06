"""``events.list`` as Google documents it: full and incremental synchronization.

* Full: every event (``singleEvents=false``: one-off events, series with their ``recurrence``, and their
  exceptions; ``singleEvents=true``: one-off events and expanded instances), filtered by ``timeMin`` (an
  event's end, exclusive) and ``timeMax`` (its start, exclusive), ``updatedMin``, ``iCalUID``, ``q``,
  extended-property constraints and ``eventTypes``; cancelled entries only with ``showDeleted``, except
  cancelled instances, which ``singleEvents=false`` lists anyway.
* Pages of ``maxResults`` (default 250, at most 2500) linked by ``nextPageToken``; the last page carries
  ``nextSyncToken`` (never both). A page token replays the snapshot taken by the first page.
* Incremental (``syncToken``): every entry changed since the token, deleted ones always included (in the
  minimal form Google promises: id, status, and for instances the series id and original start);
  ``showDeleted=false`` and the filters Google forbids with a sync token are refused with 400. In
  ``singleEvents`` mode a changed series reports each of its instances, and instances it no longer has
  as cancelled.
* A sync token that was expired (``sim.expire_sync_tokens``) or is not known answers 410
  ``fullSyncRequired``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from devstack.sims.google.schema import Invalid, error, parse_rfc3339
from devstack.sims.google.store import Calendar, GoogleStore, minimal, overlaps, public
from devstack.sims.http import SimRequest, SimResponse

PAGE_SIZE, PAGE_MAX = 250, 2500
NOT_WITH_SYNC_TOKEN = ("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin",
                       "timeMax", "updatedMin")


@dataclass(frozen=True)
class SyncPoint:
    calendar_id: str
    seq: int
    single: bool


@dataclass
class Snapshot:
    items: list[dict[str, Any]]
    sync_token: str


class Lister:
    """Answers ``events.list`` for one store, keeping the sync and page tokens it handed out."""

    def __init__(self, store: GoogleStore) -> None:
        self.store = store
        self.sync_tokens: dict[str, SyncPoint] = {}
        self.pages: dict[str, Snapshot] = {}

    def clear(self) -> None:
        self.sync_tokens.clear()
        self.pages.clear()

    def expire(self, calendar_id: str | None = None) -> int:
        """Every sync token (of one calendar) handed out so far now answers 410; returns how many."""
        doomed = [t for t, p in self.sync_tokens.items() if calendar_id in (None, p.calendar_id)]
        for token in doomed:
            del self.sync_tokens[token]
        self.pages = {t: s for t, s in self.pages.items() if s.sync_token not in doomed}
        return len(doomed)

    def answer(self, request: SimRequest, calendar: Calendar) -> SimResponse:
        param = request.param
        size = min(int(param("maxResults") or PAGE_SIZE), PAGE_MAX)
        if param("pageToken") is not None:
            snapshot = self.pages.pop(param("pageToken") or "", None)
            if snapshot is None:
                raise Invalid("Invalid page token value.", "badRequest")
            return self._page(calendar, snapshot, size)
        single = param("singleEvents") == "true"
        if param("syncToken") is not None:
            forbidden = [name for name in NOT_WITH_SYNC_TOKEN if name in request.query]
            if forbidden or param("showDeleted") == "false":
                raise Invalid(f"Sync token cannot be used with {(forbidden or ['showDeleted=false'])[0]}.")
            point = self.sync_tokens.get(param("syncToken") or "")
            if point is None or point.calendar_id != calendar.id:
                return error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.",
                             "calendar", locationType="parameter", location="syncToken")
            items = self._changes(calendar, point, single)
        else:
            items = self._full(request, calendar, single)
        token = f"CP{secrets.token_urlsafe(18)}="
        self.sync_tokens[token] = SyncPoint(calendar.id, self.store.seq, single)
        return self._page(calendar, Snapshot(items, token), size)

    def _page(self, calendar: Calendar, snapshot: Snapshot, size: int) -> SimResponse:
        page, rest = snapshot.items[:size], snapshot.items[size:]
        body: dict[str, Any] = {"kind": "calendar#events", "etag": self.store.etag(), "summary": calendar.summary,
                                "timeZone": calendar.time_zone, "updated": self.store.now(), "accessRole": "owner",
                                "defaultReminders": [], "items": page}
        if rest:
            token = secrets.token_urlsafe(18)
            self.pages[token] = Snapshot(rest, snapshot.sync_token)
            body["nextPageToken"] = token
        else:
            body["nextSyncToken"] = snapshot.sync_token
        return SimResponse(200, body)

    # -- full synchronization ------------------------------------------------------------------------

    def _full(self, request: SimRequest, calendar: Calendar, single: bool) -> list[dict[str, Any]]:
        param = request.param
        lo = parse_rfc3339(param("timeMin") or "", "timeMin") if param("timeMin") else None
        hi = parse_rfc3339(param("timeMax") or "", "timeMax") if param("timeMax") else None
        if lo and hi and hi <= lo:
            raise Invalid("The specified time range is empty.", "timeRangeEmpty")
        order = param("orderBy")
        if order == "startTime" and not single:
            raise Invalid("The requested ordering is not available for the particular query.", "badRequest")
        updated_min = parse_rfc3339(param("updatedMin") or "", "updatedMin") if param("updatedMin") else None
        show_deleted = param("showDeleted") == "true" or updated_min is not None
        found: list[dict[str, Any]] = []
        for event in list(calendar.events.values()):
            if event.get("recurringEventId"):
                if not single and overlaps(event, lo, hi):
                    found.append(event)
                continue
            if event.get("recurrence"):
                instances = list(self.store.instances(calendar, event, lo, hi))
                if single:
                    found.extend(instances)
                elif instances or event.get("status") == "cancelled":
                    found.append(event)
            elif overlaps(event, lo, hi):
                found.append(event)
        kept = [e for e in found if self._wanted(e, request, updated_min) and (
            e.get("status") != "cancelled" or show_deleted or (not single and e.get("recurringEventId")))]
        if order == "startTime":
            kept.sort(key=lambda e: e["start"].get("dateTime") or e["start"].get("date"))
        elif order == "updated":
            kept.sort(key=lambda e: e["updated"])
        return [minimal(e) if e.get("status") == "cancelled" else public(e) for e in kept]

    @staticmethod
    def _wanted(event: dict[str, Any], request: SimRequest, updated_min: Any) -> bool:
        param = request.param
        if updated_min is not None and parse_rfc3339(event["updated"], "updated") < updated_min:
            return False
        if param("iCalUID") and event.get("iCalUID") != param("iCalUID"):
            return False
        text = (param("q") or "").lower()
        if text and not any(text in str(event.get(f) or "").lower() for f in ("summary", "description", "location")):
            return False
        types = request.query.get("eventTypes")
        if types and event.get("eventType", "default") not in types:
            return False
        for kind in ("private", "shared"):
            wanted = [tuple(v.split("=", 1)) for v in request.query.get(f"{kind}ExtendedProperty", []) if "=" in v]
            properties = (event.get("extendedProperties") or {}).get(kind) or {}
            if not all(properties.get(k) == v for k, v in wanted):
                return False
        return True

    # -- incremental synchronization ----------------------------------------------------------------

    def _changes(self, calendar: Calendar, point: SyncPoint, single: bool) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for event in self.store.changed_since(calendar, point.seq):
            if single and event.get("recurrence"):
                current = self.store.current_ids(calendar, event)
                for gone, (when, original) in event.get("_gone", {}).items():
                    if when > point.seq and gone not in current and gone not in calendar.events:
                        found[gone] = {"kind": "calendar#event", "etag": event["etag"], "id": gone,
                                       "status": "cancelled", "updated": event["updated"],
                                       "recurringEventId": event["id"], "originalStartTime": original}
                for instance in self.store.instances(calendar, event, None, None):
                    if instance["id"] not in calendar.events or instance.get("_seq", 0) > point.seq:
                        cancelled = event.get("status") == "cancelled" or instance.get("status") == "cancelled"
                        found[instance["id"]] = minimal({**instance, "status": "cancelled"}) if cancelled \
                            else public(instance)
                continue
            found[event["id"]] = minimal(event) if event.get("status") == "cancelled" else public(event)
        return list(found.values())
