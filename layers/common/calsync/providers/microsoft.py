"""Microsoft 365 / Outlook calendars through Microsoft Graph (v1.0) over httpx, tokens from
``calsync.oauth.microsoft``.

Two modes (integration option ``graph_mode``):

* ``delegated`` (default): the clinician's own consent; ``/me/calendars/{calendar_id}/events``.
* ``organisation``: application permissions granted once by the practice's Microsoft 365 admin;
  ``/users/{graph_user_id}/calendars/{calendar_id}/events`` with a client-credentials token.

* create:  POST with ``transactionId`` = ``EventKey.digest`` and our key in a single-value extended
  property (searchable with ``$filter``). A retried create after a lost response is answered by Graph
  with the event the first attempt made; if that event shows older content (the appointment changed
  in between) it is patched. A create refused as a duplicate (409) finds the event by the property.
* update:  PATCH; a 404 (deleted in Outlook) creates it again. Graph's ``If-Match`` would buy nothing
  here: calsync overwrites on a mismatch anyway, and the ledger lease already serialises our writers.
* delete:  DELETE; 404 counts as done.

Every request asks for immutable ids, UTC times and text bodies. Events never have attendees, carry
``sensitivity: private`` when the clinician chose so, the clinician's reminder (``isReminderOn``,
``reminderMinutesBeforeStart``) or none, and give their times with IANA zone names.

A backfill sends the first request of several writes at once through Graph's JSON batching
(:meth:`MicrosoftGraphProvider.write_batch`, ``/$batch``): at most :data:`BATCH_LIMIT` a batch, because
Graph runs a batch's requests side by side and Outlook takes at most four concurrent requests of one app
against one mailbox. Each write whose answer is not simply done is finished by the single-request path.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from calsync.core.errors import ConfigurationError, ProviderAuthError, ProviderConflictError, ProviderError
from calsync.domain import integration_values
from calsync.domain.event import MARKER_PROPERTY, CalendarEvent, EventKey, Written
from calsync.domain.model import Integration
from calsync.formats.clock import zoned
from calsync.http.bearer import BearerSession, TokenSource
from calsync.http.outcomes import Answer, answer, raise_for_status
from calsync.providers.batching import FALLBACK, Outcome, Write

NAME = "microsoft"
API_BASE = "https://graph.microsoft.com/v1.0"
MODE_OPTION = integration_values.GRAPH_MODE
USER_OPTION = integration_values.GRAPH_USER_ID
DELEGATED, ORGANISATION = integration_values.GRAPH_MODES
PROPERTY_SET = "270ea0cf-b85d-48b5-9693-c303e2a03b41"
MARKER_ID = f"String {{{PROPERTY_SET}}} Name {MARKER_PROPERTY}"
PREFER = 'IdType="ImmutableId", outlook.timezone="UTC", outlook.body-content-type="text"'
BATCH_LIMIT = 4
"""Writes per ``$batch``: Graph allows 20, but runs them side by side, and the Outlook service takes at
most 4 concurrent requests of one app per mailbox (more are throttled with 429)."""


def _local(moment: dt.datetime, zone: str) -> dict[str, str]:
    """Graph's dateTimeTimeZone: wall-clock time without offset, plus the IANA zone — or UTC for a time
    in the hour a fall-back night repeats, which a wall-clock value cannot name (``formats.clock``)."""
    shown = zoned(moment, ZoneInfo(zone))
    name = "UTC" if shown.tzinfo is dt.UTC else zone
    return {"dateTime": shown.replace(tzinfo=None).isoformat(timespec="seconds"), "timeZone": name}


def event_body(event: CalendarEvent) -> dict[str, Any]:
    """The Graph event fields calsync owns (POST and PATCH bodies; PATCH leaves the others alone,
    so every owned field is always sent, empty when the privacy settings hide it)."""
    return {
        "subject": event.summary,
        "body": {"contentType": "text", "content": event.description},
        "start": _local(event.start, event.timezone),
        "end": _local(event.end, event.timezone),
        "isAllDay": event.all_day,
        "location": {"displayName": event.location or ""},
        "sensitivity": "private" if event.private else "normal",
        "showAs": "busy",
        "categories": list(event.categories),
        "isReminderOn": event.reminder_minutes is not None,
        **({"reminderMinutesBeforeStart": event.reminder_minutes} if event.reminder_minutes is not None else {}),
    }


def creation_fields(key: EventKey) -> dict[str, Any]:
    return {"transactionId": key.digest,
            "singleValueExtendedProperties": [{"id": MARKER_ID, "value": key.marker}]}


def _text(value: Any) -> str:
    """Whitespace-insensitive text of a Graph body (tags stripped if Graph answered in HTML)."""
    content = str(value.get("content") or "") if isinstance(value, dict) else ""
    if isinstance(value, dict) and str(value.get("contentType", "")).lower() == "html":
        content = html.unescape(re.sub(r"<[^>]*>", " ", content))
    return " ".join(content.split())


def _instant(value: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(value["dateTime"])[:26])
        return moment.replace(tzinfo=ZoneInfo(str(value["timeZone"]))).astimezone(dt.UTC)
    except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError):
        return None


def shows(resource: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether the event Graph returned already shows ``body`` (else it is an older attempt's event)."""
    location = resource.get("location") or {}
    return (
        resource.get("subject") == body["subject"]
        and _text(resource.get("body")) == _text(body["body"])
        and all(_instant(resource.get(edge)) == _instant(body[edge]) for edge in ("start", "end"))
        and all(resource.get(field) == body[field] for field in ("isAllDay", "sensitivity", "showAs", "isReminderOn"))
        and (not body["isReminderOn"]
             or resource.get("reminderMinutesBeforeStart") == body["reminderMinutesBeforeStart"])
        and (location.get("displayName") or "") == body["location"]["displayName"]
        and sorted(resource.get("categories") or []) == sorted(body["categories"])
    )


def graph_mode(integration: Integration) -> str:
    """``delegated`` or ``organisation`` (option ``graph_mode``); organisation mode needs ``graph_user_id``."""
    mode = integration.options.get(MODE_OPTION, DELEGATED)
    if mode not in (DELEGATED, ORGANISATION):
        raise ConfigurationError("graph_mode must be delegated or organisation")
    if mode == ORGANISATION and not integration.options.get(USER_OPTION):
        raise ConfigurationError("graph organisation mode needs the graph_user_id option")
    return mode


class MicrosoftGraphProvider:
    name = NAME
    batch_limit = BATCH_LIMIT

    def __init__(self, integration: Integration, tokens: TokenSource, client: httpx.Client | None = None, *,
                 api_base: str = API_BASE) -> None:
        if graph_mode(integration) == ORGANISATION:
            owner = f"/users/{quote(integration.options[USER_OPTION], safe='')}"
        else:
            owner = "/me"
        self._session = BearerSession(NAME, tokens, client, headers={"Prefer": PREFER})
        self._root = api_base.rstrip("/")
        self._base = self._root + owner
        calendar = integration.calendar_id
        self._events = (f"{self._base}/calendars/{quote(calendar, safe='')}/events" if calendar
                        else f"{self._base}/calendar/events")

    # -- HTTP -----------------------------------------------------------------------------------------

    def _url(self, event_id: str) -> str:
        return f"{self._base}/events/{quote(event_id, safe='')}"

    @staticmethod
    def _resource(response: httpx.Response, operation: str = "read") -> dict[str, Any]:
        raise_for_status(NAME, response, operation)
        resource: dict[str, Any] = response.json()
        return resource

    @staticmethod
    def _written(resource: dict[str, Any]) -> Written:
        return Written(external_id=str(resource["id"]), etag=resource.get("@odata.etag") or resource.get("changeKey"))

    def _patch(self, event_id: str, body: dict[str, Any]) -> httpx.Response:
        return self._session.send("PATCH", self._url(event_id), json=body)

    def _find(self, key: EventKey) -> list[str]:
        """Ids of the events in this calendar that carry our key (normally none or one)."""
        query = f"singleValueExtendedProperties/Any(ep: ep/id eq '{MARKER_ID}' and ep/value eq '{key.marker}')"
        response = self._session.send("GET", self._events, params={"$filter": query, "$select": "id"})
        return [str(item["id"]) for item in self._resource(response).get("value", [])]

    def _create(self, key: EventKey, body: dict[str, Any]) -> Written:
        response = self._session.send("POST", self._events, json={**body, **creation_fields(key)})
        if answer(NAME, "create", response) is Answer.TAKEN:  # a duplicate: the first attempt's event exists
            found = self._find(key)
            if not found:
                raise ProviderConflictError(NAME, "duplicate_transaction", 409)
            return self._written(self._resource(self._patch(found[0], body)))
        resource: dict[str, Any] = response.json()
        if shows(resource, body):
            return self._written(resource)
        # Graph answered with the event an earlier attempt created, and the appointment changed since
        return self._written(self._resource(self._patch(str(resource["id"]), body)))

    # -- protocol -------------------------------------------------------------------------------------

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        body = event_body(event)
        if known is not None:
            response = self._patch(known.external_id, body)
            if answer(NAME, "patch", response) is Answer.DONE:
                return self._written(response.json())
        return self._create(key, body)

    def delete(self, key: EventKey, known: Written | None) -> None:
        for event_id in [known.external_id] if known else self._find(key):
            answer(NAME, "delete", self._session.send("DELETE", self._url(event_id)))  # missing: done

    # -- batches --------------------------------------------------------------------------------------

    def _first_request(self, write: Write) -> tuple[str, dict[str, Any]] | None:
        """The operation and the (relative) request a single write would start with; None for a delete
        that must first find its event."""
        if write.kind == "delete":
            if write.known is None:
                return None
            return "delete", {"method": "DELETE", "url": self._url(write.known.external_id)}
        assert write.event is not None
        body = event_body(write.event)
        if write.known is not None:
            return "patch", {"method": "PATCH", "url": self._url(write.known.external_id), "body": body}
        return "create", {"method": "POST", "url": self._events, "body": {**body, **creation_fields(write.key)}}

    def write_batch(self, writes: Sequence[Write]) -> list[Outcome]:
        """The first request of each write, in one ``$batch``; a write whose answer is not simply done (a
        duplicate transaction, an event gone or showing older content, a 401 on its own) is finished singly,
        a failure is that write's alone."""
        firsts = [self._first_request(write) for write in writes]
        requests = []
        for index, first in enumerate(firsts):
            if first is not None:
                _, request = first
                headers = {"Prefer": PREFER, **({"Content-Type": "application/json"} if "body" in request else {})}
                requests.append({"id": str(index), **request, "url": request["url"][len(self._root):],
                                 "headers": headers})
        answers: dict[str, dict[str, Any]] = {}
        if requests:
            response = self._session.send("POST", f"{self._root}/$batch", json={"requests": requests})
            raise_for_status(NAME, response, "batch")
            answers = {str(item.get("id")): item for item in response.json().get("responses", [])}
        outcomes: list[Outcome] = []
        for index, (write, first) in enumerate(zip(writes, firsts, strict=True)):
            found = answers.get(str(index))
            if first is None or found is None:
                outcomes.append(FALLBACK)
                continue
            inner = httpx.Response(int(found.get("status", 500)), headers=found.get("headers") or {},
                                   json=found.get("body"))
            outcomes.append(self._settled(write, first, inner))
        return outcomes

    def _settled(self, write: Write, first: tuple[str, dict[str, Any]], inner: httpx.Response) -> Outcome:
        operation, request = first
        try:
            said = answer(NAME, operation, inner)
        except ProviderAuthError:
            return FALLBACK  # the single path renews the token once
        except ProviderError as failure:
            return failure
        if write.kind == "delete":
            return None  # done, or gone already
        if said is not Answer.DONE:
            return FALLBACK  # taken (an earlier attempt's event), or gone: the single path knows what to do
        resource: dict[str, Any] = inner.json()
        if operation == "create" and not shows(resource, request["body"]):
            return FALLBACK  # Graph answered with an earlier attempt's event, showing older content
        return self._written(resource)
