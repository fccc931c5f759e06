"""The ``events`` resource over HTTP: insert, get, update, patch, delete, list, instances and watch.

Kept from Google: client-chosen ids (base32hex, 5-1024 characters, unique per calendar, refused with 409
``duplicate`` even after the event was deleted); ``get`` returns cancelled events; ``delete`` cancels
(410 ``deleted`` the second time, 404 for unknown ids); ``If-Match`` mismatches answer 412
``conditionNotMet``; an instance of a recurring event is written (moved, cancelled) through its instance id.
"""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from devstack.sims.google.channels import Channels
from devstack.sims.google.listing import Lister
from devstack.sims.google.schema import Invalid, check_event, check_params, error, parse_rfc3339
from devstack.sims.google.store import Calendar, GoogleStore, minimal, public
from devstack.sims.http import SimRequest, SimResponse
from devstack.sims.oauth import Grant

ID_PATTERN = re.compile(r"^[a-v0-9]{5,1024}$")


class EventsApi:
    def __init__(self, store: GoogleStore, lister: Lister, channels: Channels) -> None:
        self.store, self.lister, self.channels = store, lister, channels

    def collection(self, request: SimRequest, calendar: Calendar, grant: Grant, action: str | None) -> SimResponse:
        if action == "watch" and request.method == "POST":
            check_params(request, "watch")
            return self.channels.watch(request.json(), calendar, grant)
        if action is not None:
            return error(404, "notFound", "Not Found")
        if request.method == "POST":
            check_params(request, "insert")
            return self.insert(calendar, check_event(request.json(), "calendar.events.insert"))
        if request.method == "GET":
            check_params(request, "list")
            return self.lister.answer(request, calendar)
        return error(405, "methodNotAllowed", "Method Not Allowed")

    def insert(self, calendar: Calendar, body: dict[str, Any]) -> SimResponse:
        event_id = body.get("id") or secrets.token_hex(13)
        if not ID_PATTERN.match(event_id):
            raise Invalid("Invalid resource id value.")
        if event_id in calendar.events:  # cancelled ones included: Google keeps them
            return error(409, "duplicate", "The requested identifier already exists.")
        return SimResponse(200, public(self.store.insert(calendar, body, event_id)))

    def item(self, request: SimRequest, calendar: Calendar, event_id: str) -> SimResponse:
        event = calendar.events.get(event_id)
        if request.method == "GET":
            check_params(request, "get")
            if event is None:
                event = self._computed_instance(calendar, event_id)
            return SimResponse(200, public(event)) if event else error(404, "notFound", "Not Found")
        if request.method in ("PUT", "PATCH"):
            method = "update" if request.method == "PUT" else "patch"
            check_params(request, method)
            body = check_event(request.json(), f"calendar.events.{method}")
            event = event or self.store.materialize(calendar, event_id)
            if event is None:
                return error(404, "notFound", "Not Found")
            if not matches(request, event):
                return error(412, "conditionNotMet", "Precondition Failed", locationType="header", location="If-Match")
            return SimResponse(200, public(self.store.write(calendar, event, body, replace=request.method == "PUT")))
        if request.method == "DELETE":
            check_params(request, "delete")
            event = event or self.store.materialize(calendar, event_id)
            if event is None:
                return error(404, "notFound", "Not Found")
            if event.get("status") == "cancelled":
                return error(410, "deleted", "Resource has been deleted")
            if not matches(request, event):
                return error(412, "conditionNotMet", "Precondition Failed", locationType="header", location="If-Match")
            self.store.cancel(calendar, event)
            return SimResponse(204)
        return error(405, "methodNotAllowed", "Method Not Allowed")

    def instances(self, request: SimRequest, calendar: Calendar, series_id: str) -> SimResponse:
        check_params(request, "instances")
        series = calendar.events.get(series_id)
        if series is None or not series.get("recurrence"):
            return error(404, "notFound", "Not Found")
        show_deleted = request.param("showDeleted") == "true"
        lo, hi = (parse_rfc3339(value, name) if (value := request.param(name)) else None
                  for name in ("timeMin", "timeMax"))
        items = [minimal(i) if i.get("status") == "cancelled" else public(i)
                 for i in self.store.instances(calendar, series, lo, hi)
                 if show_deleted or i.get("status") != "cancelled"]
        return SimResponse(200, {"kind": "calendar#events", "summary": calendar.summary,
                                 "timeZone": calendar.time_zone, "items": items})

    def _computed_instance(self, calendar: Calendar, event_id: str) -> dict[str, Any] | None:
        series_id = event_id.rpartition("_")[0]
        series = calendar.events.get(series_id)
        if not series or not series.get("recurrence"):
            return None
        return next((copy.deepcopy(i) for i in self.store.instances(calendar, series, None, None)
                     if i["id"] == event_id), None)


def matches(request: SimRequest, event: dict[str, Any]) -> bool:
    wanted = request.headers.get("if-match")
    return wanted is None or wanted == "*" or wanted == event["etag"]
