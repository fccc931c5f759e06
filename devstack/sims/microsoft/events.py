"""Graph's event and calendar endpoints on a mailbox.

Kept from Graph: ``transactionId`` de-duplication (a repeated create answers with the event the first one
made, or 409 when ``duplicate_transaction = "conflict"``); single-value extended properties searchable with
``$filter``; ``If-Match`` against ``@odata.etag`` (412); 404 ``ErrorItemNotFound``; an occurrence edited
through its id becomes an exception, and deleting it cancels that occurrence; ``/events/{id}/instances``
lists a series' occurrences and exceptions in a window; ``/calendars`` lists and creates calendars (409
``ErrorFolderExists`` for a name in use) and deletes any but the default one.
"""

from __future__ import annotations

import re
from typing import Any

from devstack.sims.http import SimRequest, SimResponse
from devstack.sims.microsoft.delta import window
from devstack.sims.microsoft.mailbox import Mailbox, Mailboxes, parse_occurrence_id
from devstack.sims.microsoft.schema import problems
from devstack.sims.microsoft.views import BadRequest, graph_error, not_found, valid_event, view

_FILTER = re.compile(r"^singleValueExtendedProperties/Any\(ep: ep/id eq '(?P<id>[^']*)' and "
                     r"ep/value eq '(?P<value>[^']*)'\)$")


class EventsApi:
    def __init__(self, mailboxes: Mailboxes) -> None:
        self.mailboxes = mailboxes
        self.duplicate_transaction = "existing"

    def collection(self, request: SimRequest, mailbox: Mailbox, calendar: str) -> SimResponse:
        if request.method == "POST":
            return self.create(request, mailbox, calendar)
        if request.method != "GET":
            return graph_error(405, "ErrorInvalidRequest", "Method not allowed.")
        found = [e for e in mailbox.events.values() if e["_calendar"] == calendar and e.get("type") != "exception"]
        query = request.param("$filter")
        if query is not None:
            match = _FILTER.match(query)
            if match is None:
                raise BadRequest("ErrorInvalidUrlQueryFilter", "The query filter is not supported.")
            found = [e for e in found if any(p["id"].lower() == match["id"].lower() and p["value"] == match["value"]
                                             for p in e.get("singleValueExtendedProperties", []))]
        return SimResponse(200, {"value": [view(request, e) for e in found]})

    def create(self, request: SimRequest, mailbox: Mailbox, calendar: str) -> SimResponse:
        body = valid_event(request.json())
        if body.get("recurrence") and not (body.get("start") or {}).get("timeZone"):
            raise BadRequest("ErrorPropertyValidationFailure", "A recurring event needs a start time zone.")
        transaction = body.get("transactionId")
        if transaction:
            existing = next((e for e in mailbox.events.values() if e.get("transactionId") == transaction), None)
            if existing is not None:
                if self.duplicate_transaction == "conflict":
                    return graph_error(409, "ErrorDuplicateTransactionId", "A duplicate transaction was detected.")
                return SimResponse(201, view(request, existing))
        return SimResponse(201, view(request, self.mailboxes.create(mailbox, calendar, body)))

    def find(self, mailbox: Mailbox, event_id: str) -> dict[str, Any] | None:
        """A stored event, or an occurrence computed from its series."""
        event = mailbox.events.get(event_id)
        if event is not None:
            return event
        parsed = parse_occurrence_id(event_id)
        master = mailbox.events.get(parsed[0]) if parsed else None
        if master is None or master.get("type") != "seriesMaster":
            return None
        original = self.mailboxes.expansion(master).get(event_id)
        return self.mailboxes.occurrence(master, original) if original else None

    def item(self, request: SimRequest, mailbox: Mailbox, event_id: str) -> SimResponse:
        event = self.find(mailbox, event_id)
        if event is None:
            return not_found()
        if request.method == "GET":
            return SimResponse(200, view(request, event))
        if request.method == "DELETE":
            self.mailboxes.delete(mailbox, event)
            return SimResponse(204)
        if request.method != "PATCH":
            return graph_error(405, "ErrorInvalidRequest", "Method not allowed.")
        body = valid_event(request.json())
        if "transactionId" in body and body["transactionId"] != event.get("transactionId"):
            raise BadRequest("ErrorInvalidPropertyUpdateSentToServer", "transactionId cannot be changed.")
        if request.headers.get("if-match") not in (None, "*", event["@odata.etag"]):
            return graph_error(412, "ErrorIrresolvableConflict", "The change key passed does not match.")
        if event.get("type") == "occurrence":
            event = self.mailboxes.materialize(mailbox, event_id) or event
        return SimResponse(200, view(request, self.mailboxes.update(mailbox, event, body)))

    def instances(self, request: SimRequest, mailbox: Mailbox, master_id: str) -> SimResponse:
        master = mailbox.events.get(master_id)
        if master is None or master.get("type") != "seriesMaster":
            return not_found()
        lo, hi = window(request)
        return SimResponse(200, {"value": [view(request, i) for i in self.mailboxes.occurrences_of(
            mailbox, master, lo, hi)]})

    # -- calendars ----------------------------------------------------------------------------------

    def calendars(self, request: SimRequest, mailbox: Mailbox) -> SimResponse:
        if request.method == "GET":
            return SimResponse(200, {"value": list(mailbox.calendars.values())})
        if request.method != "POST":
            return graph_error(405, "ErrorInvalidRequest", "Method not allowed.")
        body = request.json()
        found = problems(body, "Calendar")
        if found:
            raise BadRequest("RequestBodyRead", found[0])
        if not body.get("name"):
            raise BadRequest("ErrorInvalidParameter", "The calendar name is required.")
        if any(c["name"].lower() == body["name"].lower() for c in mailbox.calendars.values()):
            return graph_error(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        calendar_id = self.mailboxes.add_calendar(mailbox, body["name"])
        return SimResponse(201, mailbox.calendars[calendar_id])

    def calendar(self, request: SimRequest, mailbox: Mailbox, calendar_id: str) -> SimResponse:
        calendar = mailbox.calendars.get(calendar_id)
        if calendar is None:
            return not_found()
        if request.method == "GET":
            return SimResponse(200, calendar)
        if request.method != "DELETE":
            return graph_error(405, "ErrorInvalidRequest", "Method not allowed.")
        if calendar["isDefaultCalendar"]:
            return graph_error(400, "ErrorInvalidRequest", "The default calendar cannot be deleted.")
        for event in [e for e in mailbox.events.values() if e["_calendar"] == calendar_id
                      and e.get("type") != "exception"]:
            self.mailboxes.delete(mailbox, event)
        del mailbox.calendars[calendar_id]
        return SimResponse(204)
